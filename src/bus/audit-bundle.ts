// Offline audit bundles: the sealed chain, its signed checkpoints and the keys to check them, as JSON Lines, written and verified by streaming.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { GatewayError } from '../domain/errors.js';
import type { Db } from '../store/sql.js';
import type { KeyEntry, KeyRegistry } from '../trust/keys.js';
import { GATEWAY_OWNER } from '../trust/messages.js';
import { ChainWalker, type ChainProblem, type ChainRow } from './audit.js';
import { checkCheckpoints, loadCheckpoints, type CheckpointKeys, type StoredCheckpoint } from './checkpoints.js';

export const BUNDLE_FORMAT = 'pag-audit-bundle';
export const BUNDLE_VERSION = 1;

/** First line: what the bundle is. Its head is informative only (unsigned); the checkpoints are what vouch for the chain. */
export interface BundleHeader {
  type: typeof BUNDLE_FORMAT;
  version: number;
  exportedAt: string;
  gateway: string;
  head: { pos: number; hash: string };
  events: number;
  checkpoints: number;
}

/** A public key that signed checkpoints: SPKI PEM, with the registry's algorithm, status and validity window. */
export type BundleKey = { type: 'key'; spki: string } & Pick<KeyEntry, 'kid' | 'owner' | 'alg' | 'status' | 'notBefore' | 'notAfter' | 'revokedAt'>;

export type BundleCheckpoint = { type: 'checkpoint' } & StoredCheckpoint;

/** One sealed event exactly as stored (actor and data are the stored JSON text), enough to recompute its link. */
export interface BundleEvent {
  type: 'event';
  pos: number;
  seq: number;
  caseId: string | null;
  at: number;
  actor: string;
  action: string;
  data: string;
  hash: string;
}

const PAGE = 5000;

/**
 * Writes a bundle of the chain up to the last checkpoint (callers sign the head first, so the whole bundle is covered):
 * header, keys, checkpoints, then the events in chain order, paged from the store and written with back-pressure.
 * Written beside the target and renamed, so a reader never sees half a bundle.
 */
export async function exportBundle(db: Db, reg: KeyRegistry, gateway: string, file: string): Promise<BundleHeader> {
  const cps = await loadCheckpoints(db);
  const last = cps.at(-1);
  const upTo = last?.pos ?? 0;
  const kids = new Set(cps.map((c) => c.kid));
  const keys: BundleKey[] = reg
    .list(GATEWAY_OWNER)
    .filter((k) => kids.has(k.kid))
    .map((k) => ({
      type: 'key', kid: k.kid, owner: k.owner, alg: k.alg, status: k.status, notBefore: k.notBefore, notAfter: k.notAfter,
      ...(k.revokedAt ? { revokedAt: k.revokedAt } : {}),
      spki: createPublicKey(readFileSync(join(reg.dir, k.publicKey), 'utf8')).export({ type: 'spki', format: 'pem' }) as string,
    }));
  const header: BundleHeader = {
    type: BUNDLE_FORMAT, version: BUNDLE_VERSION, exportedAt: new Date().toISOString(), gateway,
    head: { pos: upTo, hash: last?.hash ?? '0'.repeat(64) }, events: upTo, checkpoints: cps.length,
  };
  const tmp = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  const write = async (o: unknown) => {
    if (!out.write(`${JSON.stringify(o)}\n`)) await once(out, 'drain');
  };
  try {
    await write(header);
    for (const k of keys) await write(k);
    for (const c of cps) await write({ type: 'checkpoint', ...c } satisfies BundleCheckpoint);
    let from = 1;
    while (from <= upTo) {
      const rows = await db.all<ChainRow>(
        'SELECT seq, case_id, at, actor, action, data, chain_pos, hash FROM events WHERE chain_pos >= $1 AND chain_pos <= $2 ORDER BY chain_pos LIMIT $3',
        [from, upTo, PAGE],
      );
      if (rows.length === 0) break;
      for (const r of rows) {
        const e: BundleEvent = { type: 'event', pos: Number(r.chain_pos), seq: Number(r.seq), caseId: r.case_id, at: Number(r.at), actor: r.actor, action: r.action, data: r.data, hash: r.hash };
        await write(e);
      }
      from = Number(rows[rows.length - 1]!.chain_pos) + 1;
    }
    out.end();
    await once(out, 'finish');
    renameSync(tmp, file);
  } catch (e) {
    out.destroy();
    rmSync(tmp, { force: true });
    throw e;
  }
  return header;
}

/** What verifying a bundle found. */
export interface BundleReport {
  ok: boolean;
  header: BundleHeader;
  /** Events verified before the first problem (all of them when ok). */
  checked: number;
  checkpoints: number;
  lastCheckpoint: { pos: number; at: string } | null;
  /** The keys the bundle brings, with the SHA-256 of their SPKI (DER), to compare with the gateway's published keys. */
  keys: { kid: string; alg: string; fingerprint: string }[];
  problem?: ChainProblem;
}

const invalid = (file: string, reason: string) => new GatewayError('AUDIT_BUNDLE_INVALID', { file, reason });

/** Keys from a bundle: the named key, if the checkpoint's time is in its window, it is not revoked, and (when pinned) it is trusted. */
function bundleKeys(keys: Map<string, { entry: BundleKey; key: KeyObject }>, trusted: Set<string> | null): CheckpointKeys {
  return (kid, alg, at) => {
    const k = keys.get(kid);
    if (!k) return { refusal: 'unknown key (not in the bundle)' };
    if (k.entry.owner !== GATEWAY_OWNER) return { refusal: 'key of another owner' };
    if (k.entry.status === 'revoked') return { refusal: 'key revoked' };
    if (k.entry.alg !== alg) return { refusal: 'algorithm mismatch' };
    if (at < Date.parse(k.entry.notBefore)) return { refusal: 'key not yet valid' };
    if (at > Date.parse(k.entry.notAfter)) return { refusal: 'key expired' };
    if (trusted && !trusted.has(fingerprint(k.key))) return { refusal: 'key is not one of the trusted keys' };
    return { key: k.key };
  };
}

export const fingerprint = (key: KeyObject): string => createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');

/**
 * Verifies a bundle without any store, streaming it line by line: recomputes the chain (naming the first altered,
 * inserted or deleted event), checks every checkpoint's signature with the bundled keys (only those among `trusted`
 * PEMs, when given) and its (pos, hash) against the recomputed chain, and that the last events are covered by one.
 */
export async function verifyBundle(file: string, o: { trusted?: string[] } = {}): Promise<BundleReport> {
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) throw invalid(file, 'no such file');
  const trusted = o.trusted ? new Set(o.trusted.map((pem) => fingerprint(createPublicKey(pem)))) : null;
  const keys = new Map<string, { entry: BundleKey; key: KeyObject }>();
  const cps: StoredCheckpoint[] = [];
  let header: BundleHeader | null = null;
  let walker: ChainWalker | null = null;
  const input = createReadStream(file, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      let o: { type?: unknown } & Record<string, unknown>;
      try {
        o = JSON.parse(line) as typeof o;
      } catch {
        throw invalid(file, `line ${n} is not JSON`);
      }
      if (!header) {
        if (o.type !== BUNDLE_FORMAT || o.version !== BUNDLE_VERSION) throw invalid(file, `line 1 is not a ${BUNDLE_FORMAT} header of version ${BUNDLE_VERSION}`);
        header = o as unknown as BundleHeader;
        continue;
      }
      if (o.type === 'event') {
        // Checkpoints come first, so the walk keeps only the hashes at their positions, whatever the chain's length.
        walker ??= new ChainWalker(new Set(cps.map((c) => c.pos)));
        const e = o as unknown as BundleEvent;
        if (!walker.push({ seq: e.seq, case_id: e.caseId, at: e.at, actor: e.actor, action: e.action, data: e.data, chain_pos: e.pos, hash: e.hash })) break;
      } else if (o.type === 'checkpoint') {
        if (walker) throw invalid(file, `line ${n}: a checkpoint after the events`);
        const c = o as unknown as BundleCheckpoint;
        cps.push({ pos: Number(c.pos), hash: String(c.hash), at: Number(c.at), kid: String(c.kid), jws: String(c.jws) });
      } else if (o.type === 'key') {
        const k = o as unknown as BundleKey;
        try {
          keys.set(k.kid, { entry: k, key: createPublicKey(k.spki) });
        } catch {
          throw invalid(file, `line ${n}: key ${k.kid} is not an SPKI PEM public key`);
        }
      } else {
        throw invalid(file, `line ${n} has unknown type ${String(o.type)}`);
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (!header) throw invalid(file, 'the file is empty');
  walker ??= new ChainWalker();
  cps.sort((a, b) => a.pos - b.pos);
  let problem = walker.end();
  let checkedCps = 0;
  if (!problem) {
    const r = await checkCheckpoints(cps, walker, bundleKeys(keys, trusted));
    problem = r.problem;
    checkedCps = r.checked;
  }
  const last = cps.at(-1);
  const end = walker.last.pos;
  if (!problem && Number(header.head?.pos) > end) {
    problem = { kind: 'deleted', position: end + 1, detail: `the bundle ends at ${end} but its header says ${header.head.pos}` };
  }
  if (!problem && end > (last?.pos ?? 0)) {
    const from = (last?.pos ?? 0) + 1;
    problem = { kind: 'checkpoint', position: from, detail: `events at positions ${from} to ${end} are not covered by a signed checkpoint` };
  }
  return {
    ok: !problem,
    header,
    checked: walker.checked,
    checkpoints: checkedCps,
    lastCheckpoint: last ? { pos: last.pos, at: new Date(last.at).toISOString() } : null,
    keys: [...keys.values()].map((k) => ({ kid: k.entry.kid, alg: k.entry.alg, fingerprint: fingerprint(k.key) })),
    ...(problem ? { problem } : {}),
  };
}
