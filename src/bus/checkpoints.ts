// Signed checkpoints of the audit chain: the chain head (pos, hash) signed by the gateway's key, so a rewritten chain shows.
import type { KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import type { Logger } from 'pino';
import type { Db } from '../store/sql.js';
import type { KeyRegistry } from '../trust/keys.js';
import { GATEWAY_OWNER } from '../trust/messages.js';
import type { ChainProblem } from './audit.js';

export const CHECKPOINT_TYP = 'pag-checkpoint+jws';

/** What a checkpoint signs. `at` is ISO-8601 (real time: key validity is real time, whatever the gateway's clock). */
export interface CheckpointPayload {
  pos: number;
  hash: string;
  at: string;
  kid: string;
  gateway: string;
}

/** A checkpoint as stored (and bundled): the signed fields beside the compact JWS that holds them. */
export interface StoredCheckpoint {
  pos: number;
  hash: string;
  at: number;
  kid: string;
  jws: string;
}

/**
 * The public key a checkpoint's kid names, usable at the checkpoint's time, or why it may not be used; `skip`: the
 * checkpoint is passed over rather than failed (a key the trusted registry revoked since).
 */
export type CheckpointKeys = (kid: string, alg: string, at: number) => { key: KeyObject } | { refusal: string; skip?: boolean };

/**
 * Checkpoint keys from the live key registry: the gateway's own keys, with their status and validity window. A key
 * revoked since vouches for nothing, but its checkpoints are passed over, not failed: the registry lives outside the
 * store, and the checkpoints signed after the rotation cover the whole chain again. (A bundle's own key list is not
 * trusted that far: there a revoked key fails.)
 */
export function registryKeys(reg: KeyRegistry): CheckpointKeys {
  return (kid, alg, at) => {
    const found = reg.verificationKey(kid, GATEWAY_OWNER, alg, at);
    return 'refusal' in found ? { refusal: found.refusal, skip: found.refusal === 'key revoked' } : { key: found.key };
  };
}

/** Signs a chain head with the gateway's current key. jose rather than node:crypto: checkpoints are rare, speed does not matter. */
export async function signCheckpoint(keys: KeyRegistry, gateway: string, head: { pos: number; hash: string }, now = Date.now()): Promise<StoredCheckpoint> {
  const { entry, key } = keys.signingKey(GATEWAY_OWNER, now);
  const payload: CheckpointPayload = { pos: head.pos, hash: head.hash, at: new Date(now).toISOString(), kid: entry.kid, gateway };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: entry.alg, kid: entry.kid, typ: CHECKPOINT_TYP })
    .sign(key);
  return { pos: head.pos, hash: head.hash, at: now, kid: entry.kid, jws };
}

/** Checks one checkpoint's signature; its signed payload, or why it does not hold. */
export async function openCheckpoint(jws: string, keys: CheckpointKeys): Promise<{ payload: CheckpointPayload } | { reason: string; skip?: boolean }> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claimed: Partial<CheckpointPayload>;
  try {
    header = decodeProtectedHeader(jws);
    // Read before verification only to choose the key and its time; trusted once the signature holds.
    claimed = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as Partial<CheckpointPayload>;
  } catch {
    return { reason: 'not a compact JWS' };
  }
  if (header.typ !== CHECKPOINT_TYP) return { reason: `typ is not ${CHECKPOINT_TYP}` };
  if (typeof header.kid !== 'string' || typeof header.alg !== 'string') return { reason: 'the header names no kid or alg' };
  const at = Date.parse(String(claimed.at));
  if (!Number.isFinite(at)) return { reason: 'the checkpoint has no time' };
  const found = keys(header.kid, header.alg, at);
  if ('refusal' in found) return { reason: `key ${header.kid}: ${found.refusal}`, skip: found.skip };
  let payload: CheckpointPayload;
  try {
    payload = JSON.parse(new TextDecoder().decode((await compactVerify(jws, found.key, { algorithms: [header.alg] })).payload)) as CheckpointPayload;
  } catch (e) {
    return { reason: `signature does not verify with key ${header.kid} (${(e as Error).message})` };
  }
  if (payload.kid !== header.kid) return { reason: 'the signed kid differs from the header' };
  if (!Number.isInteger(payload.pos) || typeof payload.hash !== 'string') return { reason: 'the signed payload has no position or hash' };
  return { payload };
}

/** What the checkpoints are checked against: the recomputed hashes at their positions and where the chain ends. */
export interface WalkedChain {
  readonly hashes: ReadonlyMap<number, string>;
  readonly last: { pos: number; hash: string };
}

/**
 * Checks checkpoints (in position order) against a walked chain: a valid signature by a usable key, the stored fields
 * equal to the signed ones, and the signed hash equal to the recomputed one at its position. The first problem, if any.
 */
export async function checkCheckpoints(
  cps: readonly StoredCheckpoint[],
  chain: WalkedChain,
  keys: CheckpointKeys,
): Promise<{ problem?: ChainProblem; checked: number; skipped: number; last?: StoredCheckpoint }> {
  let checked = 0;
  let skipped = 0;
  let last: StoredCheckpoint | undefined;
  for (const c of cps) {
    const bad = (detail: string) => ({ problem: { kind: 'checkpoint' as const, position: Number(c.pos), detail }, checked, skipped, last });
    const opened = await openCheckpoint(c.jws, keys);
    if ('reason' in opened && opened.skip) {
      skipped++;
      continue;
    }
    if ('reason' in opened) return bad(opened.reason);
    const p = opened.payload;
    if (p.pos !== Number(c.pos) || p.hash !== c.hash) return bad(`the stored position or hash differs from the signed one (${p.pos} ${p.hash})`);
    if (p.pos > chain.last.pos) {
      return { problem: { kind: 'deleted', position: chain.last.pos + 1, detail: `the chain ends at ${chain.last.pos} but a checkpoint signed at ${p.at} covers position ${p.pos}` }, checked, skipped, last };
    }
    if (chain.hashes.get(p.pos) !== p.hash) {
      return {
        problem: { kind: 'altered', position: p.pos, detail: `the chain up to position ${p.pos} is not the one signed at ${p.at}: events up to there were changed and the chain recomputed` },
        checked,
        skipped,
        last,
      };
    }
    checked++;
    last = c;
  }
  return { checked, skipped, last };
}

export async function loadCheckpoints(db: Db): Promise<StoredCheckpoint[]> {
  const rows = await db.all<StoredCheckpoint>('SELECT pos, hash, at, kid, jws FROM audit_checkpoints ORDER BY pos');
  return rows.map((r) => ({ pos: Number(r.pos), hash: r.hash, at: Number(r.at), kid: r.kid, jws: r.jws }));
}

/**
 * Signs the current chain head unless a checkpoint already covers it. Under the head's row lock, as sealing is, so
 * gateways sharing one PostgreSQL take turns and never sign two checkpoints at one position.
 */
export async function writeCheckpoint(db: Db, keys: KeyRegistry, gateway: string, now = Date.now()): Promise<StoredCheckpoint | null> {
  return db.tx(async (sql) => {
    const head = (await sql.get<{ pos: number; hash: string }>(`SELECT pos, hash FROM audit_head WHERE id = 1${sql.dialect === 'postgres' ? ' FOR UPDATE' : ''}`))!;
    const pos = Number(head.pos);
    if (pos === 0) return null;
    const latest = await sql.get<{ pos: number | null }>('SELECT MAX(pos) AS pos FROM audit_checkpoints');
    if (latest?.pos !== null && latest?.pos !== undefined && Number(latest.pos) >= pos) return null;
    const cp = await signCheckpoint(keys, gateway, { pos, hash: head.hash }, now);
    await sql.run('INSERT INTO audit_checkpoints (pos, hash, at, kid, jws) VALUES ($1, $2, $3, $4, $5)', [cp.pos, cp.hash, cp.at, cp.kid, cp.jws]);
    return cp;
  });
}

/** When to sign: after `everyEvents` events sealed here, or `everySeconds` after the last checkpoint if any were sealed since. */
export interface CheckpointPolicy {
  everyEvents: number;
  everySeconds: number;
}

/**
 * The configuration's gateway.auditCheckpoint, where PAG_CHECKPOINT_EVENTS and PAG_CHECKPOINT_SECONDS override it (as
 * every environment setting overrides the file); 1000 events and 60 seconds where neither says.
 */
export function checkpointPolicy(configured: Partial<CheckpointPolicy> = {}, env: NodeJS.ProcessEnv = process.env): CheckpointPolicy {
  const n = (v: string | undefined, d: number | undefined, dflt: number) => (Number(v) > 0 ? Number(v) : (d ?? dflt));
  return { everyEvents: n(env.PAG_CHECKPOINT_EVENTS, configured.everyEvents, 1000), everySeconds: n(env.PAG_CHECKPOINT_SECONDS, configured.everySeconds, 60) };
}

/** Decides when the sealer's work is signed; a failure to sign is logged and retried later, never stops sealing. */
export class Checkpointer {
  private sealedSince = 0;
  private lastAt = Date.now();

  constructor(
    private readonly db: Db,
    private readonly keys: KeyRegistry,
    private readonly gateway: string,
    private readonly log: Logger,
    /** Read at each sealing pass, so a configuration change applies without a restart. */
    private readonly policyNow: () => CheckpointPolicy = () => checkpointPolicy(),
  ) {}

  get policy(): CheckpointPolicy {
    return this.policyNow();
  }

  /** Counts events sealed by this gateway and signs when the policy says so. */
  async sealed(n: number): Promise<void> {
    this.sealedSince += n;
    const policy = this.policyNow();
    const due = this.sealedSince >= policy.everyEvents || (this.sealedSince > 0 && Date.now() - this.lastAt >= policy.everySeconds * 1000);
    if (due) await this.now();
  }

  /** Signs the current head now (unless already covered). */
  async now(): Promise<StoredCheckpoint | null> {
    try {
      const cp = await writeCheckpoint(this.db, this.keys, this.gateway);
      if (cp) this.log.debug({ pos: cp.pos, kid: cp.kid }, 'audit checkpoint signed');
      return cp;
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'audit checkpoint failed');
      return null;
    } finally {
      // Also after a failure: the next attempt waits for the next interval rather than every sealing pass.
      this.sealedSince = 0;
      this.lastAt = Date.now();
    }
  }
}
