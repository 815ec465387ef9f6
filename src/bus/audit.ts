// The audit chain: a sealer links committed events into one hash chain in a single global order; verify walks it.
import { createHash } from 'node:crypto';
import type { Db, Sql } from '../store/sql.js';
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
    const head = (await sql.get<{ pos: number; hash: string }>(`SELECT pos, hash FROM audit_head WHERE id = 1${sql.dialect === 'postgres' ? ' FOR UPDATE' : ''}`))!;
    const rows = await sql.all<EventRow>('SELECT seq, case_id, at, actor, action, data FROM events WHERE chain_pos IS NULL ORDER BY seq LIMIT $1', [limit]);
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
      await sql.run('UPDATE audit_head SET pos = $1, hash = $2 WHERE id = 1', [pos, hash]);
    }
    return sealed;
  });
}

/** The result of walking the chain. */
export interface AuditReport {
  ok: boolean;
  checked: number;
  unsealed: number;
  head: { pos: number; hash: string };
  problem?: { kind: 'altered' | 'inserted' | 'deleted'; position: number; seq?: number; detail: string };
}

/** Walks the whole chain from its start and reports the first altered, inserted or deleted event. */
export async function verifyChain(db: Db, pageSize = 5000): Promise<AuditReport> {
  const head = (await db.get<{ pos: number; hash: string }>('SELECT pos, hash FROM audit_head WHERE id = 1'))!;
  const unsealed = Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE chain_pos IS NULL'))!.n);
  const report = (problem?: AuditReport['problem'], checked = 0): AuditReport => ({
    ok: !problem,
    checked,
    unsealed,
    head: { pos: Number(head.pos), hash: head.hash },
    ...(problem ? { problem } : {}),
  });
  let prev = GENESIS;
  let prevPrev: string | null = null; // the link before `prev`: a row that only verifies against it follows an inserted row
  let lastSeq = 0;
  let expected = 1;
  let checked = 0;
  let pending: EventRow | null = null; // a row that failed to verify, kept to tell an insertion from an alteration
  for (;;) {
    const rows = await db.all<EventRow>(
      'SELECT seq, case_id, at, actor, action, data, chain_pos, hash FROM events WHERE chain_pos >= $1 ORDER BY chain_pos LIMIT $2',
      [expected, pageSize],
    );
    for (const r of rows) {
      const pos = Number(r.chain_pos);
      if (pending) {
        // The failing row is an insertion if the chain resumes right after it, as if it were not there.
        if (linkHash(prev, pos - 1, r) === r.hash) {
          return report({ kind: 'inserted', position: pos - 1, seq: Number(pending.seq), detail: `event at position ${pos - 1} is not part of the chain` }, checked);
        }
        return report({ kind: 'altered', position: Number(pending.chain_pos), seq: Number(pending.seq), detail: 'stored hash does not match the event' }, checked);
      }
      if (pos > expected) {
        return report({ kind: 'deleted', position: expected, detail: `positions ${expected} to ${pos - 1} are missing` }, checked);
      }
      const h = linkHash(prev, pos, r);
      if (h !== r.hash) {
        if (prevPrev !== null && linkHash(prevPrev, pos - 1, r) === r.hash) {
          return report({ kind: 'inserted', position: pos - 1, seq: lastSeq, detail: `event at position ${pos - 1} is not part of the chain` }, checked - 1);
        }
        pending = r;
        continue;
      }
      prevPrev = prev;
      lastSeq = Number(r.seq);
      prev = h;
      expected = pos + 1;
      checked++;
    }
    if (rows.length < pageSize && !pending) break;
    if (rows.length < pageSize && pending) {
      return report({ kind: 'altered', position: Number(pending.chain_pos), seq: Number(pending.seq), detail: 'stored hash does not match the event' }, checked);
    }
  }
  if (expected - 1 < Number(head.pos)) {
    return report({ kind: 'deleted', position: expected, detail: `the chain ends at ${expected - 1} but its head says ${head.pos}` }, checked);
  }
  if (prev !== head.hash) {
    return report({ kind: 'altered', position: expected - 1, detail: 'the last event does not match the chain head' }, checked);
  }
  return report(undefined, checked);
}

/** Sealed events after a position, for live streams catching up (Last-Event-ID). */
export async function eventsAfter(db: Db, after: number, limit = 1000, caseId?: string): Promise<PublishedEvent[]> {
  const rows = caseId
    ? await db.all<EventRow>('SELECT seq, case_id, at, actor, action, data, chain_pos FROM events WHERE chain_pos > $1 AND case_id = $2 ORDER BY chain_pos LIMIT $3', [after, caseId, limit])
    : await db.all<EventRow>('SELECT seq, case_id, at, actor, action, data, chain_pos FROM events WHERE chain_pos > $1 ORDER BY chain_pos LIMIT $2', [after, limit]);
  return rows.map((r) => publish(r, Number(r.chain_pos)));
}
