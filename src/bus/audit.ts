// The audit chain: a sealer links committed events into one hash chain in a single global order; verify walks it.
import { createHash } from 'node:crypto';
import type { Db, Sql } from '../store/sql.js';
import { checkCheckpoints, loadCheckpoints, type CheckpointKeys } from './checkpoints.js';
import type { PublishedEvent } from './hub.js';

interface EventRow {
  seq: number;
  case_id: string | null;
  at: number;
  actor: string;
  action: string;
  data: string;
  chain_pos: number | null;
  hash: string | null;
}

export const GENESIS = '0'.repeat(64);

/** Hash of one chain link; covers the stored text of every field, so any edit of a sealed event changes it. */
export function linkHash(prev: string, pos: number, e: Pick<EventRow, 'seq' | 'case_id' | 'at' | 'actor' | 'action' | 'data'>): string {
  return createHash('sha256')
    .update(prev)
    .update(JSON.stringify([Number(pos), Number(e.seq), e.case_id, Number(e.at), e.actor, e.action, e.data]))
    .digest('hex');
}

function publish(e: EventRow, pos: number): PublishedEvent {
  return {
    id: pos,
    caseId: e.case_id,
    at: new Date(Number(e.at)).toISOString(),
    action: e.action,
    actor: JSON.parse(e.actor) as PublishedEvent['actor'],
    data: JSON.parse(e.data) as Record<string, unknown>,
  };
}

/**
 * Seals committed events that are not yet in the chain, in the order the sealer sees them.
 * Why a separate step: chaining inside every business transaction would serialise all writers on the chain head;
 * sealing afterwards keeps writers parallel, and the chain's order is the sealing order.
 */
export async function seal(db: Db, limit = 2000): Promise<PublishedEvent[]> {
  return db.tx(async (sql) => {
    // PostgreSQL: the head row's lock serialises sealers (of every gateway); the events are read by a later statement,
    // so they are seen as of after the previous sealer committed.
    const pg = sql.dialect === 'postgres';
    const head = (await sql.get<{ pos: number; hash: string; sealed_seq?: number }>(pg ? 'SELECT pos, hash FROM audit_head WHERE id = 1 FOR UPDATE' : 'SELECT pos, hash, sealed_seq FROM audit_head WHERE id = 1'))!;
    // PostgreSQL numbers events as they are inserted, not as they commit: one with a lower seq can commit after one with
    // a higher seq was sealed, so the unsealed are found by their empty position (a partial index). SQLite's transactions
    // run one after another and its seq never goes back, so every event past the last sealed one is unsealed, and the
    // primary key finds them; the position test only guards against an event sealed out of turn.
    const rows = pg
      ? await sql.all<EventRow>('SELECT seq, case_id, at, actor, action, data FROM events WHERE chain_pos IS NULL ORDER BY seq LIMIT $1', [limit])
      : await sql.all<EventRow>('SELECT seq, case_id, at, actor, action, data FROM events WHERE seq > $1 AND chain_pos IS NULL ORDER BY seq LIMIT $2', [head.sealed_seq, limit]);
    if (rows.length === 0) return [];
    let pos = Number(head.pos);
    let hash = head.hash;
    const sealed: PublishedEvent[] = [];
    const seqs: number[] = [];
    const positions: number[] = [];
    const hashes: string[] = [];
    for (const r of rows) {
      pos += 1;
      hash = linkHash(hash, pos, r);
      seqs.push(Number(r.seq));
      positions.push(pos);
      hashes.push(hash);
      sealed.push(publish(r, pos));
    }
    if (sql.dialect === 'postgres') {
      // One statement with array parameters: one round trip and one prepared statement, whatever the batch size.
      await sql.run(
        `WITH links AS (
           UPDATE events AS e SET chain_pos = v.pos, hash = v.hash FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS v(seq, pos, hash) WHERE e.seq = v.seq
         )
         UPDATE audit_head SET pos = $4, hash = $5 WHERE id = 1`,
        [seqs, positions, hashes, pos, hash],
      );
    } else {
      // In process, one prepared statement per row is cheaper than any multi-row form SQLite offers.
      for (let k = 0; k < seqs.length; k++) await sql.run('UPDATE events SET chain_pos = $2, hash = $3 WHERE seq = $1', [seqs[k], positions[k], hashes[k]]);
      await sql.run('UPDATE audit_head SET pos = $1, hash = $2, sealed_seq = $3 WHERE id = 1', [pos, hash, seqs[seqs.length - 1]]);
    }
    return sealed;
  });
}

/** An event as sealed: the stored text of every field, its chain position and its link hash. */
export interface ChainRow {
  seq: number;
  case_id: string | null;
  at: number;
  actor: string;
  action: string;
  data: string;
  chain_pos: number;
  hash: string;
}

/** The first thing wrong with a chain: an event altered, inserted or deleted, or a checkpoint that does not hold. */
export interface ChainProblem {
  kind: 'altered' | 'inserted' | 'deleted' | 'checkpoint';
  position: number;
  seq?: number;
  detail: string;
}

/**
 * Walks a chain one event at a time, in chain order, without any store: the live verifier pages the events table
 * through it, the offline verifier streams a bundle through it. Stops at the first problem; remembers the hash at the
 * positions it is asked to (the checkpoints'), so a long chain is checked in constant memory.
 */
export class ChainWalker {
  private prev = GENESIS;
  /** The link before `prev`: a row that only verifies against it follows an inserted row. */
  private prevPrev: string | null = null;
  private lastSeq = 0;
  private expected = 1;
  private pending: ChainRow | null = null; // a row that failed to verify, kept to tell an insertion from an alteration
  checked = 0;
  problem: ChainProblem | undefined;
  /** Recomputed hashes at the remembered positions. */
  readonly hashes = new Map<number, string>();

  constructor(private readonly remember: ReadonlySet<number> = new Set()) {}

  /** Position and hash of the last verified event (0 and GENESIS before any). */
  get last(): { pos: number; hash: string } {
    return { pos: this.expected - 1, hash: this.prev };
  }

  /** Feeds the next event in chain order; false once a problem was found (later rows are ignored). */
  push(r: ChainRow): boolean {
    if (this.problem) return false;
    const pos = Number(r.chain_pos);
    if (this.pending) {
      // The failing row is an insertion if the chain resumes right after it, as if it were not there.
      if (linkHash(this.prev, pos - 1, r) === r.hash) {
        return this.fail({ kind: 'inserted', position: pos - 1, seq: Number(this.pending.seq), detail: `event at position ${pos - 1} is not part of the chain` });
      }
      return this.fail(altered(this.pending));
    }
    if (pos > this.expected) {
      return this.fail({ kind: 'deleted', position: this.expected, detail: `positions ${this.expected} to ${pos - 1} are missing` });
    }
    if (pos < this.expected) {
      // A position seen twice (possible in a bundle, never in the store): whichever of the two links is forged.
      if (this.prevPrev !== null && linkHash(this.prevPrev, pos, r) === r.hash) {
        this.checked--;
        return this.fail({ kind: 'inserted', position: pos, seq: this.lastSeq, detail: `event at position ${pos} is not part of the chain` });
      }
      return this.fail({ kind: 'inserted', position: pos, seq: Number(r.seq), detail: `a second event at position ${pos} is not part of the chain` });
    }
    const h = linkHash(this.prev, pos, r);
    if (h !== r.hash) {
      if (this.prevPrev !== null && linkHash(this.prevPrev, pos - 1, r) === r.hash) {
        this.checked--;
        return this.fail({ kind: 'inserted', position: pos - 1, seq: this.lastSeq, detail: `event at position ${pos - 1} is not part of the chain` });
      }
      this.pending = r;
      return true;
    }
    this.prevPrev = this.prev;
    this.lastSeq = Number(r.seq);
    this.prev = h;
    this.expected = pos + 1;
    this.checked++;
    if (this.remember.has(pos)) this.hashes.set(pos, h);
    return true;
  }

  /** Ends the walk; `head` (the store's chain head), when given, must be where the walk ended. */
  end(head?: { pos: number; hash: string }): ChainProblem | undefined {
    if (this.problem) return this.problem;
    if (this.pending) return this.set(altered(this.pending));
    if (head && this.expected - 1 < Number(head.pos)) {
      return this.set({ kind: 'deleted', position: this.expected, detail: `the chain ends at ${this.expected - 1} but its head says ${head.pos}` });
    }
    if (head && this.prev !== head.hash) {
      return this.set({ kind: 'altered', position: this.expected - 1, detail: 'the last event does not match the chain head' });
    }
    return undefined;
  }

  private fail(p: ChainProblem): false {
    this.problem = p;
    return false;
  }

  private set(p: ChainProblem): ChainProblem {
    this.problem = p;
    return p;
  }
}

const altered = (r: ChainRow): ChainProblem => ({ kind: 'altered', position: Number(r.chain_pos), seq: Number(r.seq), detail: 'stored hash does not match the event' });

/** Walks a whole chain held in memory (tests, small bundles). */
export function walkChain(rows: Iterable<ChainRow>, head?: { pos: number; hash: string }, remember?: ReadonlySet<number>): ChainWalker {
  const w = new ChainWalker(remember);
  for (const r of rows) if (!w.push(r)) break;
  w.end(head);
  return w;
}

/** The result of walking the chain. */
export interface AuditReport {
  ok: boolean;
  checked: number;
  unsealed: number;
  head: { pos: number; hash: string };
  /** Signed checkpoints checked, those passed over (key revoked since), the last that holds, and how many sealed events come after it. */
  checkpoints: { checked: number; skipped: number; last: { pos: number; at: string } | null; uncovered: number };
  problem?: ChainProblem;
}

/**
 * Walks the whole chain from its start and reports the first altered, inserted or deleted event; with the key
 * registry, also checks every signed checkpoint against its signature and the recomputed chain.
 */
export async function verifyChain(db: Db, o: { keys?: CheckpointKeys; pageSize?: number } = {}): Promise<AuditReport> {
  const pageSize = o.pageSize ?? 5000;
  const head = (await db.get<{ pos: number; hash: string }>('SELECT pos, hash FROM audit_head WHERE id = 1'))!;
  const unsealed = Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE chain_pos IS NULL'))!.n);
  // The walk covers the chain as of the head read first: other gateways may seal (and sign) more meanwhile.
  const stored = (await loadCheckpoints(db)).filter((c) => c.pos <= Number(head.pos));
  const walker = new ChainWalker(new Set(stored.map((c) => c.pos)));
  let from = 1;
  for (;;) {
    const rows = await db.all<ChainRow>(
      'SELECT seq, case_id, at, actor, action, data, chain_pos, hash FROM events WHERE chain_pos >= $1 AND chain_pos <= $2 ORDER BY chain_pos LIMIT $3',
      [from, Number(head.pos), pageSize],
    );
    let going = true;
    for (const r of rows) if (!(going = walker.push(r))) break;
    if (!going || rows.length < pageSize) break;
    from = Number(rows[rows.length - 1]!.chain_pos) + 1;
  }
  const h = { pos: Number(head.pos), hash: head.hash };
  let problem = walker.end(h);
  let cps: Awaited<ReturnType<typeof checkCheckpoints>> = { checked: 0, skipped: 0 };
  if (!problem && o.keys) ({ problem } = cps = await checkCheckpoints(stored, walker, o.keys));
  const last = o.keys ? cps.last : stored.at(-1);
  return {
    ok: !problem,
    checked: walker.checked,
    unsealed,
    head: h,
    checkpoints: { checked: cps.checked, skipped: cps.skipped, last: last ? { pos: last.pos, at: new Date(last.at).toISOString() } : null, uncovered: h.pos - (last?.pos ?? 0) },
    ...(problem ? { problem } : {}),
  };
}

/** Sealed events after a position, for live streams catching up (Last-Event-ID). */
export async function eventsAfter(db: Db, after: number, limit = 1000, caseId?: string): Promise<PublishedEvent[]> {
  const rows = caseId
    ? await db.all<EventRow>('SELECT seq, case_id, at, actor, action, data, chain_pos FROM events WHERE chain_pos > $1 AND case_id = $2 ORDER BY chain_pos LIMIT $3', [after, caseId, limit])
    : await db.all<EventRow>('SELECT seq, case_id, at, actor, action, data, chain_pos FROM events WHERE chain_pos > $1 ORDER BY chain_pos LIMIT $2', [after, limit]);
  return rows.map((r) => publish(r, Number(r.chain_pos)));
}
