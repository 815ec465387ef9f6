// Enterprise status changes pulled from the provincial system: page and record shapes, credit-code verdicts, and the pure reconciliation of one page against what is stored.
import { GatewayError } from './errors.js';
import { validateCreditCode } from './uscc.js';

/** Kinds of status change the province reports (设立, 变更, 停业, 吊销, 注销). */
export const CHANGE_KINDS = ['established', 'changed', 'suspended', 'revoked', 'deregistered'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** The enterprise status a change leaves behind. */
export const STATUS_AFTER: Record<ChangeKind, string> = { established: 'operating', changed: 'operating', suspended: 'suspended', revoked: 'revoked', deregistered: 'deregistered' };

/** One status-change record as the province serves it. `seq` orders the feed; `version` orders one enterprise's changes. */
export interface ChangeRecord {
  id: string;
  seq: number;
  creditCode: string;
  name: string;
  divisionCode: string;
  kind: ChangeKind;
  version: number;
  /** ISO-8601. */
  occurredAt: string;
}

/** The signed body of one page: the cursor asked for, the cursor of the next page, whether more follow, and the records. */
export interface ChangePage {
  cursor: string;
  next: string;
  more: boolean;
  records: unknown[];
}

/** A record the page identifies (id and seq) but that may still be unusable; kept as served for quarantine. */
export interface Identified {
  id: string;
  seq: number;
  raw: unknown;
}

const pageError = (reason: string) => new GatewayError('PROVINCE_PAGE_INVALID', { reason });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ID = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;

/**
 * Reads a verified page body. A page whose records cannot even be identified (no id or seq, the same seq under two ids)
 * is refused whole as PROVINCE_PAGE_INVALID: nothing in it can be applied or counted.
 */
export function readPage(body: unknown): { page: Omit<ChangePage, 'records'>; records: Identified[] } {
  if (!isObject(body)) throw pageError('the page is not a JSON object');
  const { cursor, next, more, records } = body;
  if (typeof cursor !== 'string' || typeof next !== 'string' || !next || next.length > 200) throw pageError('the page has no cursor or next cursor');
  if (typeof more !== 'boolean') throw pageError('the page does not say whether more follow');
  if (!Array.isArray(records)) throw pageError('the page has no list of records');
  const bySeq = new Map<number, string>();
  const out: Identified[] = [];
  records.forEach((r, i) => {
    if (!isObject(r) || typeof r.id !== 'string' || !ID.test(r.id) || !Number.isSafeInteger(r.seq) || (r.seq as number) < 1) {
      throw pageError(`record ${i} has no usable id and sequence number`);
    }
    const seq = r.seq as number;
    const other = bySeq.get(seq);
    if (other !== undefined && other !== r.id) throw pageError(`sequence number ${seq} is given to records ${other} and ${r.id}`);
    bySeq.set(seq, r.id);
    out.push({ id: r.id, seq, raw: r });
  });
  return { page: { cursor, next, more }, records: out };
}

/** The verdict on a record's credit code: usable (with a warning for a legacy irregularity) or not a code at all. */
export type CodeVerdict = { ok: true; code: string; warning: string | null } | { ok: false; reason: string };

/**
 * Existing codes are judged leniently (GB 32100 says early codes may break the rules): a wrong check character with
 * everything else in place is a legacy irregularity, stored with a warning; a wrong length, alphabet or division is no code.
 */
export function creditCodeVerdict(code: unknown): CodeVerdict {
  if (typeof code !== 'string') return { ok: false, reason: 'the record has no credit code' };
  const v = validateCreditCode(code, { mode: 'lenient' });
  if (v.valid) return { ok: true, code: v.normalized, warning: v.warnings.length ? v.warnings.join('; ') : null };
  const onlyChecks = v.parts !== undefined && v.errors.every((e) => /^check (character|digit) \(position 1[58]\)/.test(e));
  if (onlyChecks && (v.kind === 'registration-number' || /^[0-9]{6}$/.test(v.parts!.division))) {
    return { ok: true, code: v.normalized, warning: `legacy irregularity: ${v.errors.join('; ')}` };
  }
  return { ok: false, reason: v.errors.join('; ').slice(0, 500) };
}

/** Reads one identified record's fields; a problem becomes the reason it is quarantined. */
export function readRecord(r: Identified): { ok: true; record: ChangeRecord; warning: string | null } | { ok: false; code: 'PROVINCE_RECORD_MALFORMED' | 'INVALID_CREDIT_CODE'; reason: string } {
  const x = r.raw as Record<string, unknown>;
  const bad = (reason: string) => ({ ok: false as const, code: 'PROVINCE_RECORD_MALFORMED' as const, reason });
  if (typeof x.name !== 'string' || !x.name.trim() || x.name.length > 200 || x.name.includes('\u0000')) return bad('the record has no enterprise name');
  if (typeof x.divisionCode !== 'string' || !/^[0-9]{6}$/.test(x.divisionCode)) return bad('the record has no 6-digit division code');
  if (!CHANGE_KINDS.includes(x.kind as ChangeKind)) return bad(`unknown kind of change ${JSON.stringify(x.kind ?? null).slice(0, 40)}`);
  if (!Number.isSafeInteger(x.version) || (x.version as number) < 0) return bad('the record has no version');
  if (typeof x.occurredAt !== 'string' || !Number.isFinite(Date.parse(x.occurredAt))) return bad('the record has no time of change');
  const verdict = creditCodeVerdict(x.creditCode);
  if (!verdict.ok) return { ok: false, code: 'INVALID_CREDIT_CODE', reason: verdict.reason };
  return {
    ok: true,
    record: { id: r.id, seq: r.seq, creditCode: verdict.code, name: x.name, divisionCode: x.divisionCode, kind: x.kind as ChangeKind, version: x.version as number, occurredAt: x.occurredAt },
    warning: verdict.warning,
  };
}

/** What the store already holds about a page's records and enterprises. */
export interface Stored {
  /** Record ids among the page's that were stored (applied, stale or quarantined) before. */
  seen: ReadonlySet<string>;
  /** Current version of each of the page's enterprises that is already known. */
  versions: ReadonlyMap<string, number>;
}

/** A new record and what became of it: `applied` moved its enterprise on; `stale` was older than what is known. */
export interface ChangeOutcome {
  record: ChangeRecord;
  outcome: 'applied' | 'stale';
  warning: string | null;
}

/** The state an enterprise is left in by a page: its latest applied change, and whether the page made it known. */
export interface EnterpriseState {
  record: ChangeRecord;
  warning: string | null;
  created: boolean;
}

/** What one page does: every part is written in one transaction with the cursor's advance. */
export interface PagePlan {
  changes: ChangeOutcome[];
  enterprises: EnterpriseState[];
  quarantined: { id: string; seq: number; code: string; reason: string; raw: unknown }[];
  /** Records of the page stored before (a repeated page or record): nothing happens to them again. */
  duplicates: number;
  /** The highest sequence number applied once the page is. */
  seq: number;
}

/** A gap: the records after the cursor do not start right after it, or skip a number. The page is fetched again. */
export interface Gap {
  gap: { expected: number; got: number };
}

/**
 * Reconciles a page with what is stored: records seen before are skipped (idempotent); records past `lastSeq` must run
 * on from it without a hole (else a gap, and nothing is applied); each enterprise keeps its newest version, and an
 * older change arriving later is recorded as stale without overwriting. Records are taken in sequence order per
 * enterprise, in feed order whatever order the page served them in.
 */
export function planPage(lastSeq: number, records: Identified[], stored: Stored): PagePlan | Gap {
  const after = [...new Set(records.filter((r) => r.seq > lastSeq).map((r) => r.seq))].sort((a, b) => a - b);
  for (let i = 0; i < after.length; i++) {
    if (after[i] !== lastSeq + 1 + i) return { gap: { expected: lastSeq + 1 + i, got: after[i]! } };
  }
  const plan: PagePlan = { changes: [], enterprises: [], quarantined: [], duplicates: 0, seq: after.length ? after[after.length - 1]! : lastSeq };
  const taken = new Set<string>();
  const good: { record: ChangeRecord; warning: string | null }[] = [];
  for (const r of records) {
    if (stored.seen.has(r.id) || taken.has(r.id)) {
      plan.duplicates++;
      continue;
    }
    taken.add(r.id);
    const read = readRecord(r);
    if (read.ok) good.push(read);
    else plan.quarantined.push({ id: r.id, seq: r.seq, code: read.code, reason: read.reason, raw: r.raw });
  }
  // Feed order (sequence numbers), not the order the page served them in: the outcome of every record is then the same
  // whatever the page's order or size, and a change that arrives after a newer one of its enterprise is stale.
  good.sort((a, b) => a.record.seq - b.record.seq);
  const current = new Map<string, EnterpriseState>();
  const known = (code: string) => current.get(code)?.record.version ?? stored.versions.get(code);
  for (const g of good) {
    const v = known(g.record.creditCode);
    if (v !== undefined && g.record.version <= v) {
      plan.changes.push({ record: g.record, outcome: 'stale', warning: g.warning });
      continue;
    }
    plan.changes.push({ record: g.record, outcome: 'applied', warning: g.warning });
    const created = !stored.versions.has(g.record.creditCode);
    current.set(g.record.creditCode, { record: g.record, warning: g.warning, created });
  }
  plan.enterprises = [...current.values()];
  return plan;
}
