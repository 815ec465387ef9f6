// Reads and writes whole cases (case row, reviews, permits) and their events, inside a caller's transaction.
import type { Actor, Application, Case, CaseStatus, DomainEvent, Permit, Review } from '../domain/types.js';
import { forUpdate, placeholders, type Sql } from './sql.js';

interface CaseRow {
  id: string;
  reference: string;
  status: CaseStatus;
  application: string;
  created_at: number;
  updated_at: number;
  refused_rule: string | null;
  status_reason: string | null;
  licence_due_at: number | null;
  licence_due_provisional: number;
  licence_overdue_at: number | null;
  credit_code: string | null;
  licence_issued_at: number | null;
  licence_issued_by: string | null;
  version: number;
}

interface ReviewRow {
  case_id: string;
  department_id: string;
  level: Review['level'];
  state: Review['state'];
  delivered_at: number | null;
  due_at: number | null;
  provisional: number;
  extended: number;
  decision: Review['decision'];
  reasons: string | null;
  answered_by: string | null;
  answered_via: string | null;
  decided_at: number | null;
}

interface PermitRow {
  case_id: string;
  department_id: string;
  due_at: number;
  provisional: number;
  reported_at: number | null;
  permit_number: string | null;
  overdue_at: number | null;
}

const CASE_COLUMNS =
  'id, reference, status, application, created_at, updated_at, refused_rule, status_reason, licence_due_at, licence_due_provisional, licence_overdue_at, credit_code, licence_issued_at, licence_issued_by, version';

function toReview(r: ReviewRow): Review {
  return {
    departmentId: r.department_id,
    level: r.level,
    state: r.state,
    deliveredAt: r.delivered_at,
    dueAt: r.due_at,
    provisional: !!r.provisional,
    extended: !!r.extended,
    decision: r.decision,
    reasons: r.reasons,
    answeredBy: r.answered_by,
    answeredVia: r.answered_via,
    decidedAt: r.decided_at,
  };
}

function toPermit(p: PermitRow): Permit {
  return {
    departmentId: p.department_id,
    dueAt: p.due_at,
    provisional: !!p.provisional,
    reportedAt: p.reported_at,
    permitNumber: p.permit_number,
    overdueAt: p.overdue_at,
  };
}

function toCase(row: CaseRow, reviews: Review[], permits: Permit[]): Case {
  return {
    id: row.id,
    reference: row.reference,
    status: row.status,
    application: JSON.parse(row.application) as Application,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    refusedRule: row.refused_rule,
    statusReason: row.status_reason,
    licenceDueAt: row.licence_due_at,
    licenceDueProvisional: !!row.licence_due_provisional,
    licenceOverdueAt: row.licence_overdue_at,
    licence: row.credit_code ? { creditCode: row.credit_code, issuedAt: row.licence_issued_at!, issuedBy: row.licence_issued_by! } : null,
    reviews,
    permits,
    version: row.version,
  };
}

const NO_REVIEWS = new Set<CaseStatus>(['submitted', 'returned', 'refused']);
const HAS_PERMITS = new Set<CaseStatus>(['licensed', 'operating']);

/** Loads cases by id with their reviews and permits; `lock` takes row locks (PostgreSQL) until the transaction ends. */
export async function loadCases(sql: Sql, ids: string[], lock = false): Promise<Map<string, Case>> {
  const out = new Map<string, Case>();
  if (ids.length === 0) return out;
  // Lock in id order so that two transactions locking overlapping sets cannot deadlock.
  const sorted = [...new Set(ids)].sort();
  const ph = placeholders(sorted.length);
  const rows = await sql.all<CaseRow>(`SELECT ${CASE_COLUMNS} FROM cases WHERE id IN (${ph}) ORDER BY id${lock ? forUpdate(sql) : ''}`, sorted);
  if (rows.length === 0) return out;
  // Reviews exist from acceptance on and permits from the licence on: cases before those steps need no query for them.
  const withReviews = rows.filter((r) => !NO_REVIEWS.has(r.status)).map((r) => r.id);
  const withPermits = rows.filter((r) => HAS_PERMITS.has(r.status)).map((r) => r.id);
  const reviews = withReviews.length
    ? await sql.all<ReviewRow>(`SELECT * FROM reviews WHERE case_id IN (${placeholders(withReviews.length)}) ORDER BY case_id, department_id`, withReviews)
    : [];
  const permits = withPermits.length
    ? await sql.all<PermitRow>(`SELECT * FROM permits WHERE case_id IN (${placeholders(withPermits.length)}) ORDER BY case_id, department_id`, withPermits)
    : [];
  const rv = new Map<string, Review[]>();
  for (const r of reviews) (rv.get(r.case_id) ?? rv.set(r.case_id, []).get(r.case_id)!).push(toReview(r));
  const pm = new Map<string, Permit[]>();
  for (const p of permits) (pm.get(p.case_id) ?? pm.set(p.case_id, []).get(p.case_id)!).push(toPermit(p));
  for (const row of rows) out.set(row.id, toCase(row, rv.get(row.id) ?? [], pm.get(row.id) ?? []));
  return out;
}

export async function loadCase(sql: Sql, id: string, lock = false): Promise<Case | undefined> {
  return (await loadCases(sql, [id], lock)).get(id);
}

export async function insertCase(sql: Sql, c: Case): Promise<void> {
  const a = c.application;
  await sql.run(
    `INSERT INTO cases (${CASE_COLUMNS}, enterprise_name, division_code, industry)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
    [
      c.id, c.reference, c.status, JSON.stringify(a), c.createdAt, c.updatedAt, c.refusedRule, c.statusReason,
      c.licenceDueAt, c.licenceDueProvisional ? 1 : 0, c.licenceOverdueAt, c.licence?.creditCode ?? null,
      c.licence?.issuedAt ?? null, c.licence?.issuedBy ?? null, c.version, a.enterpriseName, a.divisionCode, a.industry,
    ],
  );
  await saveChildren(sql, c, undefined);
}

/** Writes what changed between `before` and `after`; fails if the case changed underneath (version check). */
export async function saveCase(sql: Sql, before: Case, after: Case): Promise<void> {
  if (before === after) return;
  const common = [
    after.id, after.status, after.updatedAt, after.refusedRule, after.statusReason, after.licenceDueAt,
    after.licenceDueProvisional ? 1 : 0, after.licenceOverdueAt, after.licence?.creditCode ?? null,
    after.licence?.issuedAt ?? null, after.licence?.issuedBy ?? null, after.version, before.version,
  ];
  const SET = `status = $2, updated_at = $3, refused_rule = $4, status_reason = $5, licence_due_at = $6, licence_due_provisional = $7,
       licence_overdue_at = $8, credit_code = $9, licence_issued_at = $10, licence_issued_by = $11, version = $12`;
  // The application (and the indexed name and division) is rewritten only when it changed: most steps leave it alone.
  const changed =
    before.application === after.application
      ? await sql.run(`UPDATE cases SET ${SET} WHERE id = $1 AND version = $13`, common)
      : await sql.run(`UPDATE cases SET ${SET}, application = $14, enterprise_name = $15, division_code = $16, industry = $17 WHERE id = $1 AND version = $13`, [
          ...common, JSON.stringify(after.application), after.application.enterpriseName, after.application.divisionCode, after.application.industry,
        ]);
  if (changed !== 1) throw new Error(`case ${after.id} changed concurrently (version ${before.version})`);
  await saveChildren(sql, after, before);
}

async function saveChildren(sql: Sql, c: Case, before: Case | undefined): Promise<void> {
  for (const r of c.reviews) {
    const old = before?.reviews.find((x) => x.departmentId === r.departmentId);
    if (old && JSON.stringify(old) === JSON.stringify(r)) continue;
    const v = [c.id, r.departmentId, r.level, r.state, r.deliveredAt, r.dueAt, r.provisional ? 1 : 0, r.extended ? 1 : 0, r.decision, r.reasons, r.answeredBy, r.answeredVia, r.decidedAt];
    if (old) {
      await sql.run(
        `UPDATE reviews SET level = $3, state = $4, delivered_at = $5, due_at = $6, provisional = $7, extended = $8, decision = $9,
           reasons = $10, answered_by = $11, answered_via = $12, decided_at = $13 WHERE case_id = $1 AND department_id = $2`,
        v,
      );
    } else {
      await sql.run(
        `INSERT INTO reviews (case_id, department_id, level, state, delivered_at, due_at, provisional, extended, decision, reasons, answered_by, answered_via, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        v,
      );
    }
  }
  for (const p of c.permits) {
    const old = before?.permits.find((x) => x.departmentId === p.departmentId);
    if (old && JSON.stringify(old) === JSON.stringify(p)) continue;
    const v = [c.id, p.departmentId, p.dueAt, p.provisional ? 1 : 0, p.reportedAt, p.permitNumber, p.overdueAt];
    if (old) {
      await sql.run(`UPDATE permits SET due_at = $3, provisional = $4, reported_at = $5, permit_number = $6, overdue_at = $7 WHERE case_id = $1 AND department_id = $2`, v);
    } else {
      await sql.run(`INSERT INTO permits (case_id, department_id, due_at, provisional, reported_at, permit_number, overdue_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`, v);
    }
  }
}

/** Appends events to the audit log; the sealer chains them later in one global order (see bus/sealer). */
export async function appendEvents(sql: Sql, caseId: string | null, at: number, actor: Actor, events: DomainEvent[]): Promise<void> {
  if (events.length === 0) return;
  const actorJson = JSON.stringify(actor);
  const params: unknown[] = [];
  const rows: string[] = [];
  for (const e of events) {
    const b = params.length;
    rows.push(`($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`);
    params.push(caseId, at, actorJson, e.action, JSON.stringify(e.data));
  }
  await sql.run(`INSERT INTO events (case_id, at, actor, action, data) VALUES ${rows.join(', ')}`, params);
}

/** Next value of a named counter, starting at `first`; one row per counter serialises concurrent callers. */
export async function nextCounter(sql: Sql, name: string, first: number): Promise<number> {
  await sql.run('INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, first - 1]);
  const row = await sql.get<{ value: number }>('UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value', [name]);
  return row!.value;
}
