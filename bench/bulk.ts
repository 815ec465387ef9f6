// Bulk loading of stored cases with plain multi-row SQL (consistent with src/store/migrations.ts), far faster than the workflow.
import { randomUUID } from 'node:crypto';
import { linkHash } from '../src/bus/audit.js';
import { placeholders, type Db, type Sql } from '../src/store/sql.js';
import { application, DEPARTMENTS } from './support.js';

const ROWS_PER_STATEMENT = 400; // 400 x 18 columns stays far below both drivers' parameter limits
const CASES_PER_TX = 2500;

async function insertRows(sql: Sql, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    const values = chunk.map((_, k) => `(${placeholders(columns.length, k * columns.length + 1)})`).join(', ');
    await sql.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values}`, chunk.flat());
  }
}

const CASE_COLS = ['id', 'reference', 'status', 'application', 'created_at', 'updated_at', 'refused_rule', 'status_reason', 'licence_due_at', 'licence_due_provisional', 'licence_overdue_at', 'credit_code', 'licence_issued_at', 'licence_issued_by', 'version', 'enterprise_name', 'division_code', 'industry'];
const REVIEW_COLS = ['case_id', 'department_id', 'level', 'state', 'delivered_at', 'due_at', 'provisional', 'extended', 'decision', 'reasons', 'answered_by', 'answered_via', 'decided_at'];
const PERMIT_COLS = ['case_id', 'department_id', 'due_at', 'provisional', 'reported_at', 'permit_number', 'overdue_at'];

/**
 * PostgreSQL: refresh planner statistics after a bulk load, as autovacuum would have for rows that arrived over days.
 * Without it the deadline query is planned for ~100 rows and sorts the whole backlog on disk for every batch.
 */
async function analyze(db: Db): Promise<void> {
  if (db.dialect === 'postgres') await db.run('ANALYZE cases, reviews, permits, events');
}

/** `n` accepted cases in review, each with four delivered reviews whose deadline is `dueAt` (pending deadlines). */
export async function bulkInReview(db: Db, n: number, at: number, dueAt: number, tag: string): Promise<void> {
  for (let from = 0; from < n; from += CASES_PER_TX) {
    const count = Math.min(CASES_PER_TX, n - from);
    await db.tx(async (sql) => {
      const cases: unknown[][] = [];
      const reviews: unknown[][] = [];
      for (let k = 0; k < count; k++) {
        const i = from + k;
        const id = randomUUID();
        const a = application(tag, i);
        cases.push([id, `B-${tag}-${String(i).padStart(7, '0')}`, 'in_review', JSON.stringify(a), at, at, null, null, null, 0, null, null, null, null, 3, a.enterpriseName, a.divisionCode, a.industry]);
        for (const d of DEPARTMENTS) reviews.push([id, d, 'district', 'delivered', at, dueAt, 0, 0, null, null, null, null, null]);
      }
      await insertRows(sql, 'cases', CASE_COLS, cases);
      await insertRows(sql, 'reviews', REVIEW_COLS, reviews);
    });
  }
  await analyze(db);
}

/**
 * `n` finished cases (operating: four approved reviews, licence, four reported permits) with three audit events each,
 * linked into the audit chain with the product's own link hash so the stored chain stays verifiable.
 */
export async function bulkOperating(db: Db, from: number, n: number, at: number, tag: string): Promise<void> {
  for (let start = from; start < from + n; start += CASES_PER_TX) {
    const count = Math.min(CASES_PER_TX, from + n - start);
    await db.tx(async (sql) => {
      const cases: unknown[][] = [];
      const reviews: unknown[][] = [];
      const permits: unknown[][] = [];
      const events: unknown[][] = [];
      const lock = sql.dialect === 'postgres' ? ' FOR UPDATE' : '';
      const head = (await sql.get<{ pos: number; hash: string }>(`SELECT pos, hash FROM audit_head WHERE id = 1${lock}`))!;
      let seq = Number((await sql.get<{ s: number | null }>('SELECT MAX(seq) AS s FROM events'))!.s ?? 0);
      let pos = Number(head.pos);
      let hash = head.hash;
      const actor = JSON.stringify({ kind: 'user', id: 'secretary', role: 'secretary', adapter: 'bench-bulk' });
      for (let k = 0; k < count; k++) {
        const i = start + k;
        const id = randomUUID();
        const a = application(tag, i);
        const code = `BULK${tag}${String(i).padStart(10, '0')}`;
        cases.push([id, `B-${tag}-${String(i).padStart(7, '0')}`, 'operating', JSON.stringify(a), at, at, null, null, at, 0, null, code, at, 'registrar', 9, a.enterpriseName, a.divisionCode, a.industry]);
        for (const d of DEPARTMENTS) {
          reviews.push([id, d, 'district', 'approved', at, at, 0, 0, 'approve', '符合条件', `reviewer-${d}`, 'rest-api', at]);
          permits.push([id, d, at, 0, at, `${d}-${i}`, null]);
        }
        for (const [action, data] of [
          ['case.submitted', { enterpriseName: a.enterpriseName, divisionCode: a.divisionCode }],
          ['case.accepted', { by: 'secretary', departments: DEPARTMENTS }],
          ['licence.issued', { creditCode: code, by: 'registrar' }],
        ] as const) {
          seq += 1;
          pos += 1;
          const e = { seq, case_id: id, at, actor, action, data: JSON.stringify(data) };
          hash = linkHash(hash, pos, e);
          events.push([seq, id, at, actor, action, e.data, pos, hash]);
        }
      }
      await insertRows(sql, 'cases', CASE_COLS, cases);
      await insertRows(sql, 'reviews', REVIEW_COLS, reviews);
      await insertRows(sql, 'permits', PERMIT_COLS, permits);
      await insertRows(sql, 'events', ['seq', 'case_id', 'at', 'actor', 'action', 'data', 'chain_pos', 'hash'], events);
      await sql.run('UPDATE audit_head SET pos = $1, hash = $2 WHERE id = 1', [pos, hash]);
      // Explicit keys do not move a PostgreSQL sequence; move it so the product's own inserts continue after ours.
      if (sql.dialect === 'postgres') await sql.run("SELECT setval(pg_get_serial_sequence('events', 'seq'), $1)", [seq]);
    });
  }
  await analyze(db);
}
