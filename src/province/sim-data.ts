// The simulated province's feed, generated from a seed: record n is a pure function of (seed, n), so a million are served without being held.
import type { ChangeKind } from '../domain/province-change.js';
import { orgCodeCheck, uscc18Check, USCC_ALPHABET } from '../domain/uscc.js';

/** Divisions of Jiangsu the simulated enterprises are registered in (mostly Nanjing's districts). */
export const SIM_DIVISIONS = ['320102', '320104', '320105', '320106', '320111', '320113', '320114', '320115', '320116', '320117', '320118', '320205', '320506'];

/** Shape of the generated feed. */
export interface FeedShape {
  seed: number;
  /** Records in the feed (sequence numbers 1..total). */
  total: number;
  /** Distinct enterprises (default a third of the records, so most enterprises change several times). */
  enterprises?: number;
}

/** Every LATE_EVERY-th record is an older change of an enterprise that arrives after a newer one (out of order). */
export const LATE_EVERY = 50;
/** Every MALFORMED_EVERY-th record carries no credit code at all (quarantined). */
export const MALFORMED_EVERY = 1009;
/** Enterprises whose index has this remainder mod 97 carry a legacy code with a wrong check character. */
export const LEGACY_MOD = 97;
export const LEGACY_REMAINDER = 5;

const BASE_TIME = Date.parse('2025-01-01T00:00:00Z');
const KINDS: ChangeKind[] = ['changed', 'changed', 'changed', 'changed', 'established', 'established', 'suspended', 'revoked', 'deregistered', 'changed'];

/** A 32-bit integer mix (splitmix-style): a deterministic, well-spread choice per (seed, n). */
export function mix(seed: number, n: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(n, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const enterpriseCount = (f: FeedShape) => f.enterprises ?? Math.max(10, Math.floor(f.total / 3));

/** The enterprise of the `index`-th simulated enterprise: a valid credit code, except for the legacy ones. */
export function simEnterprise(index: number): { creditCode: string; divisionCode: string; name: string; legacy: boolean } {
  const divisionCode = SIM_DIVISIONS[index % SIM_DIVISIONS.length]!;
  const body = String(index).padStart(8, '0').slice(-8);
  const first17 = `91${divisionCode}${body}${orgCodeCheck(body)}`;
  let check = uscc18Check(first17);
  const legacy = index % LEGACY_MOD === LEGACY_REMAINDER;
  // A legacy code: the wrong check character, everything else in place.
  if (legacy) check = USCC_ALPHABET[(USCC_ALPHABET.indexOf(check) + 1) % USCC_ALPHABET.length]!;
  return { creditCode: first17 + check, divisionCode, name: `南京模拟企业${index}有限公司`, legacy };
}

/** The enterprise index a record with sequence number `seq` is about (before the late-change rule). */
const enterpriseAt = (f: FeedShape, seq: number) => mix(f.seed, seq) % enterpriseCount(f);

/** Record `seq` (1-based) of the feed, as the province serves it. */
export function simRecord(f: FeedShape, seq: number): Record<string, unknown> {
  // A late record repeats the enterprise of an earlier record with a version older than that record's: it must not win.
  const late = seq % LATE_EVERY === 0 && seq > 10;
  const base = late ? seq - 7 : seq;
  const e = simEnterprise(enterpriseAt(f, base));
  const version = late ? base - 1 : seq;
  return {
    id: `p${f.seed}-${seq}`,
    seq,
    creditCode: seq % MALFORMED_EVERY === 0 ? `MALFORMED-${seq}` : e.creditCode,
    name: e.name,
    divisionCode: e.divisionCode,
    kind: KINDS[mix(f.seed + 1, seq) % KINDS.length]!,
    version,
    occurredAt: new Date(BASE_TIME + version * 1000).toISOString(),
  };
}

/** What a correct pull of records 1..upTo leaves, computed from the generator: each enterprise's latest version and kind. */
export function expectedState(f: FeedShape, upTo = f.total): Map<string, { version: number; kind: string }> {
  const out = new Map<string, { version: number; kind: string }>();
  for (let s = 1; s <= upTo; s++) {
    const r = simRecord(f, s);
    if (s % MALFORMED_EVERY === 0) continue;
    const cur = out.get(r.creditCode as string);
    if (!cur || (r.version as number) > cur.version) out.set(r.creditCode as string, { version: r.version as number, kind: r.kind as string });
  }
  return out;
}
