// The pull's storage: the cursor row, what is already known about a page's records and enterprises, and one page's writes in the caller's transaction.
import type { PagePlan, Stored } from '../domain/province-change.js';
import type { DomainEvent } from '../domain/types.js';
import { appendEvents, type OutboxInsert } from '../store/case-repo.js';
import { isUniqueViolation, placeholders, type Sql } from '../store/sql.js';

/** The stored cursor of one source, with running totals. */
export interface CursorRow {
  source: string;
  cursor: string;
  seq: number;
  pages: number;
  applied: number;
  stale: number;
  duplicates: number;
  quarantined: number;
  warnings: number;
  created: number;
  refused: number;
  last_run_at: number | null;
  last_success_at: number | null;
  last_error_code: string | null;
  last_error: string | null;
}

export async function readCursor(sql: Sql, source: string): Promise<CursorRow | undefined> {
  return sql.get<CursorRow>('SELECT * FROM province_pull WHERE source = $1', [source]);
}

/**
 * An enterprise's current version is that of its newest applied change (on the partial index of applied changes). One
 * lookup per code, by equality: whatever the table looked like when the connection planned the statement once (empty,
 * at the first page), only the index that leads with the credit code serves it; a plan of `= ANY` over the whole table
 * made with another index of applied changes read all of them for every page.
 */
const VERSIONS_PG = `SELECT * FROM (SELECT c.code AS credit_code,
    (SELECT p.version FROM province_changes p WHERE p.credit_code = c.code AND p.outcome = 'applied' ORDER BY p.version DESC LIMIT 1) AS version
  FROM unnest($1::text[]) AS c(code)) v WHERE v.version IS NOT NULL`;

/** Which of `ids` were stored before (as changes or quarantined), and the current version of each of `codes` known. */
export async function loadStored(sql: Sql, ids: string[], codes: string[]): Promise<Stored> {
  let seen: { id: string }[];
  let versions: { credit_code: string; version: number }[];
  if (sql.dialect === 'postgres') {
    // Sent together (the pool pipelines them): one round trip for both lookups.
    // Nothing asked, nothing sent: most pages look up no ids, and most of a page's enterprises are known already.
    [seen, versions] = await Promise.all([
      ids.length === 0 ? [] : sql.all<{ id: string }>('SELECT id FROM province_changes WHERE id = ANY($1::text[]) UNION ALL SELECT id FROM province_quarantine WHERE id = ANY($1::text[])', [ids]),
      codes.length === 0 ? [] : sql.all<{ credit_code: string; version: number }>(VERSIONS_PG, [codes]),
    ]);
  } else {
    seen = [];
    versions = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const ph = placeholders(chunk.length);
      seen.push(...(await sql.all<{ id: string }>(`SELECT id FROM province_changes WHERE id IN (${ph}) UNION ALL SELECT id FROM province_quarantine WHERE id IN (${ph})`, chunk)));
    }
    for (let i = 0; i < codes.length; i += 500) {
      const chunk = codes.slice(i, i + 500);
      versions.push(...(await sql.all<{ credit_code: string; version: number }>(`SELECT credit_code, MAX(version) AS version FROM province_changes WHERE credit_code IN (${placeholders(chunk.length)}) AND outcome = 'applied' GROUP BY credit_code`, chunk)));
    }
  }
  return { seen: new Set(seen.map((r) => r.id)), versions: new Map(versions.map((r) => [r.credit_code, Number(r.version)])) };
}

/**
 * True for the failure of a page whose new records reuse stored ids: the plain INSERT of its changes hit the primary key.
 * Only records at or before the cursor are looked up (every stored record's sequence number is at most the cursor's); a
 * record past it under a stored id is the province's error, and the page is refused.
 */
export function isIdReused(e: unknown): boolean {
  return isUniqueViolation(e) && /province_changes/.test(`${(e as { constraint?: string }).constraint ?? ''} ${(e as Error).message}`);
}

/** Raised (by the write itself) when the cursor was not where the page was reconciled against: another gateway moved it. */
export const CURSOR_MOVED = 'PROVINCE_CURSOR_MOVED';

export function isCursorMoved(e: unknown): boolean {
  return String((e as Error)?.message ?? '').includes(CURSOR_MOVED);
}

/** What the cursor row becomes with a page applied, from where it must be (`from`, `fromSeq`) for the page to apply. */
export interface CursorAdvance {
  source: string;
  from: string;
  fromSeq: number;
  cursor: string;
  seq: number;
  warnings: number;
  created: number;
  at: number;
}

const CHANGE_COLS = ['id', 'seq', 'credit_code', 'kind', 'version', 'division_code', 'name', 'occurred_at', 'outcome', 'warning', 'received_at'];
const CHANGE_TYPES = ['text', 'bigint', 'text', 'text', 'bigint', 'text', 'text', 'bigint', 'text', 'text', 'bigint'];
const ENTERPRISE_COLS = ['credit_code', 'name', 'division_code', 'first_change', 'source', 'warning', 'first_seen_at'];
const ENTERPRISE_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'bigint'];
const QUARANTINE_COLS = ['id', 'seq', 'code', 'reason', 'raw', 'at'];
const QUARANTINE_TYPES = ['text', 'bigint', 'text', 'text', 'text', 'bigint'];
const OUTBOX_COLS = ['id', 'case_id', 'department_id', 'adapter', 'kind', 'payload', 'next_attempt_at', 'created_at', 'updated_at', 'state', 'attempts'];
const OUTBOX_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'text', 'integer'];
const CURSOR_SET = `cursor = $2, seq = $3, pages = pages + 1, applied = applied + $4, stale = stale + $5, duplicates = duplicates + $6,
  quarantined = quarantined + $7, warnings = warnings + $8, created = created + $9, last_success_at = $10, last_error_code = NULL, last_error = NULL, updated_at = $10`;

/** The rows of a plan, as column lists. */
function rows(plan: PagePlan, at: number) {
  return {
    changes: plan.changes.map((c) => {
      const r = c.record;
      return [r.id, r.seq, r.creditCode, r.kind, r.version, r.divisionCode, r.name, Date.parse(r.occurredAt), c.outcome, c.warning, at];
    }),
    // An enterprise is registered once, when first seen; its state after that is its newest applied change.
    created: plan.enterprises.filter((e) => e.created).map((e) => {
      const r = e.record;
      return [r.creditCode, r.name, r.divisionCode, r.id, 'province', e.warning, at];
    }),
    // NUL as U+FFFD: PostgreSQL text cannot hold it.
    quarantine: plan.quarantined.map((q) => [q.id, q.seq, q.code, q.reason, JSON.stringify(q.raw).slice(0, 4096).replace(/\u0000/g, '\uFFFD'), at]),
  };
}

/**
 * Writes one page: its records, its enterprises, its quarantined records, its publications (outbox), its audit event and
 * the cursor's advance, all in the caller's transaction, so a page is either wholly applied with its cursor or not at all.
 * Changes and new enterprises are plain INSERTs (every row is known to be new; a speculative insertion costs more), and
 * nothing is rewritten: an enterprise's state is its newest applied change.
 */
export async function writePage(sql: Sql, plan: PagePlan, adv: CursorAdvance, outbox: OutboxInsert[], event: DomainEvent | null): Promise<void> {
  const r = rows(plan, adv.at);
  const applied = plan.changes.filter((c) => c.outcome === 'applied').length;
  const cursorParams = [adv.source, adv.cursor, adv.seq, applied, plan.changes.length - applied, plan.duplicates, plan.quarantined.length, adv.warnings, adv.created, adv.at, adv.from, adv.fromSeq];
  const outboxRows = outbox.map((o) => [o.id, o.caseId, o.departmentId, o.adapter, o.kind, o.payload, o.nextAttemptAt, o.at, o.at, 'ready', 0]);
  if (sql.dialect === 'postgres') {
    // One statement of data-modifying parts over array parameters: one round trip per page, and a statement text that
    // depends only on which parts are present (a handful of prepared statements).
    const params: unknown[] = [...cursorParams];
    const unnest = (data: unknown[][], types: string[]) => {
      const args = types.map((t, c) => {
        params.push(data.map((row) => row[c] ?? null));
        return `$${params.length}::${t}[]`;
      });
      return `unnest(${args.join(', ')})`;
    };
    // The cursor advances only from where the page was reconciled against; the row lock this UPDATE takes is the one
    // that orders gateways, and one that finds the cursor moved fails the whole statement (CURSOR_MOVED).
    const parts = [`cu AS (UPDATE province_pull SET ${CURSOR_SET} WHERE source = $1 AND cursor = $11 AND seq = $12 RETURNING 1)`];
    if (r.changes.length) parts.push(`ch AS (INSERT INTO province_changes (${CHANGE_COLS.join(', ')}) SELECT * FROM ${unnest(r.changes, CHANGE_TYPES)} RETURNING 1)`);
    if (r.created.length) parts.push(`ei AS (INSERT INTO enterprises (${ENTERPRISE_COLS.join(', ')}) SELECT * FROM ${unnest(r.created, ENTERPRISE_TYPES)} RETURNING 1)`);
    if (r.quarantine.length) parts.push(`qu AS (INSERT INTO province_quarantine (${QUARANTINE_COLS.join(', ')}) SELECT * FROM ${unnest(r.quarantine, QUARANTINE_TYPES)} ON CONFLICT (id) DO NOTHING RETURNING 1)`);
    if (outboxRows.length) parts.push(`ob AS (INSERT INTO outbox (${OUTBOX_COLS.join(', ')}) SELECT * FROM ${unnest(outboxRows, OUTBOX_TYPES)} RETURNING 1)`);
    // A failed cast is the one way plain SQL raises an error; not of a constant, which would be folded and raised always.
    const text = `WITH ${parts.join(',\n')} SELECT CASE WHEN (SELECT count(*) FROM cu) = 1 THEN 0 ELSE ('${CURSOR_MOVED} ' || (SELECT count(*) FROM cu))::int END AS n`;
    if (sql.later) sql.later(text, params);
    else await sql.get(text, params);
  } else {
    if ((await sql.run(`UPDATE province_pull SET ${CURSOR_SET} WHERE source = $1 AND cursor = $11 AND seq = $12`, cursorParams)) !== 1) throw new Error(CURSOR_MOVED);
    await insertChunks(sql, 'province_changes', CHANGE_COLS, r.changes, '');
    await insertChunks(sql, 'enterprises', ENTERPRISE_COLS, r.created, '');
    await insertChunks(sql, 'province_quarantine', QUARANTINE_COLS, r.quarantine, 'ON CONFLICT (id) DO NOTHING');
    await insertChunks(sql, 'outbox', OUTBOX_COLS, outboxRows, '');
  }
  if (event) await appendEvents(sql, null, adv.at, { kind: 'system', id: 'province-pull', role: 'dispatcher' }, [event]);
}

/** SQLite: multi-row INSERTs of a bounded number of rows (a bounded number of cached statement texts). */
async function insertChunks(sql: Sql, table: string, cols: string[], data: unknown[][], tail: string): Promise<void> {
  const per = 64;
  for (let i = 0; i < data.length; i += per) {
    const chunk = data.slice(i, i + per);
    const values = chunk.map((_, k) => `(${placeholders(cols.length, k * cols.length + 1)})`).join(', ');
    await sql.run(`INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values} ${tail}`, chunk.flat());
  }
}

/** Notes a failed run (the province down, a refused page, a gap that stayed) on the cursor row; the cursor itself stays. */
export async function noteFailure(sql: Sql, source: string, code: string, message: string, at: number, refused: boolean): Promise<void> {
  await sql.run('INSERT INTO province_pull (source, cursor, seq, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT (source) DO NOTHING', [source, '', at]);
  await sql.run(`UPDATE province_pull SET last_error_code = $2, last_error = $3, updated_at = $4${refused ? ', refused = refused + 1' : ''} WHERE source = $1`, [source, code, message.slice(0, 1000), at]);
}

export async function noteRun(sql: Sql, source: string, at: number): Promise<void> {
  await sql.run('INSERT INTO province_pull (source, cursor, seq, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT (source) DO NOTHING', [source, '', at]);
  await sql.run('UPDATE province_pull SET last_run_at = $2 WHERE source = $1', [source, at]);
}
