// Reads and writes whole cases (case row, reviews, permits) and their events, inside a caller's transaction.
import { GatewayError } from '../domain/errors.js';
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
  after_department: string | null;
}

interface PermitRow {
  case_id: string;
  department_id: string;
  due_at: number;
  provisional: number;
  reported_at: number | null;
  permit_number: string | null;
  overdue_at: number | null;
  revoked_at: number | null;
}

const CASE_COLUMNS =
  'id, reference, status, application, created_at, updated_at, refused_rule, status_reason, licence_due_at, licence_due_provisional, licence_overdue_at, credit_code, licence_issued_at, licence_issued_by, version';

function toReview(r: ReviewRow): Review {
  return {
    departmentId: r.department_id,
    level: r.level,
    after: r.after_department ?? null,
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
    revokedAt: p.revoked_at ?? null,
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
  if (sql.dialect === 'postgres') return loadCasesPg(sql, sorted, lock);
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

const CHILDREN_PG = `(SELECT json_agg(r ORDER BY r.department_id) FROM reviews r WHERE r.case_id = c.id) AS reviews,
  (SELECT json_agg(p ORDER BY p.department_id) FROM permits p WHERE p.case_id = c.id) AS permits`;

/**
 * PostgreSQL: one round trip per load, with a fixed statement text (an array parameter, not a list of placeholders).
 * A locking load needs two statements: the children must be read by a statement that starts after the lock is granted,
 * since a statement's snapshot would otherwise show the reviews as they were before the transaction we waited for committed.
 */
async function loadCasesPg(sql: Sql, sorted: string[], lock: boolean): Promise<Map<string, Case>> {
  const out = new Map<string, Case>();
  type Row = CaseRow & { reviews: ReviewRow[] | null; permits: PermitRow[] | null };
  let rows: Row[];
  if (lock) {
    // Sent together (the pool pipelines): the server runs the second only after the first has its locks, so the
    // second's snapshot already shows what the transactions we waited for wrote.
    const [locked, children] = await Promise.all([
      sql.all<CaseRow>(`SELECT ${CASE_COLUMNS} FROM cases WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [sorted]),
      sql.all<{ id: string; reviews: ReviewRow[] | null; permits: PermitRow[] | null }>(`SELECT c.id, ${CHILDREN_PG} FROM unnest($1::text[]) AS c(id)`, [sorted]),
    ]);
    const byId = new Map(children.map((c) => [c.id, c]));
    rows = locked.map((r) => ({ ...r, reviews: byId.get(r.id)?.reviews ?? null, permits: byId.get(r.id)?.permits ?? null }));
  } else {
    rows = await sql.all<Row>(`SELECT ${CASE_COLUMNS.split(', ').map((c) => `c.${c}`).join(', ')}, ${CHILDREN_PG} FROM cases c WHERE c.id = ANY($1::text[]) ORDER BY c.id`, [sorted]);
  }
  for (const row of rows) out.set(row.id, toCase(row, (row.reviews ?? []).map(toReview), (row.permits ?? []).map(toPermit)));
  return out;
}

/** The case, locked for the transaction (PostgreSQL row lock); NOT_FOUND when there is none. */
export async function lockedCase(sql: Sql, id: string): Promise<Case> {
  const c = await loadCase(sql, id, true);
  if (!c) throw new GatewayError('NOT_FOUND', { what: 'case' });
  return c;
}

export async function loadCase(sql: Sql, id: string, lock = false): Promise<Case | undefined> {
  return (await loadCases(sql, [id], lock)).get(id);
}

export async function insertCase(sql: Sql, c: Case): Promise<void> {
  await writeChanges(sql, [{ before: undefined, after: c, at: c.createdAt, events: [] }]);
}

/** Writes what changed between `before` and `after`; fails if the case changed underneath (version check). */
export async function saveCase(sql: Sql, before: Case, after: Case): Promise<void> {
  if (before === after) return;
  await writeChanges(sql, [{ before, after, at: after.updatedAt, events: [] }]);
}

/** An event to append, with who caused it. */
export interface ActedEvent extends DomainEvent {
  actor: Actor;
}

/** One case's change within a transaction: `before` as loaded (undefined for a new case), `after` with every step applied. */
export interface CaseChange {
  before: Case | undefined;
  after: Case;
  /** Time of the events. */
  at: number;
  events: ActedEvent[];
}

/** An outbox message to write with the change that caused it. */
export interface OutboxInsert {
  id: string;
  /** Null for messages about no case (status changes from the province). */
  caseId: string | null;
  departmentId: string;
  adapter: string;
  kind: string;
  payload: string;
  nextAttemptAt: number;
  at: number;
}

const CASE_SET_COLUMNS = [
  'status', 'updated_at', 'refused_rule', 'status_reason', 'licence_due_at', 'licence_due_provisional', 'licence_overdue_at',
  'credit_code', 'licence_issued_at', 'licence_issued_by', 'version',
] as const;
const CASE_PG_TYPES = ['text', 'bigint', 'text', 'text', 'bigint', 'integer', 'bigint', 'text', 'bigint', 'text', 'integer'];

function caseSetValues(c: Case): unknown[] {
  return [
    c.status, c.updatedAt, c.refusedRule, c.statusReason, c.licenceDueAt, c.licenceDueProvisional ? 1 : 0, c.licenceOverdueAt,
    c.licence?.creditCode ?? null, c.licence?.issuedAt ?? null, c.licence?.issuedBy ?? null, c.version,
  ];
}

function applicationValues(c: Case): unknown[] {
  const a = c.application;
  return [JSON.stringify(a), a.enterpriseName, a.divisionCode, a.industry];
}

const REVIEW_KEY = ['case_id', 'department_id'];
const REVIEW_COLUMNS = ['level', 'state', 'delivered_at', 'due_at', 'provisional', 'extended', 'decision', 'reasons', 'answered_by', 'answered_via', 'decided_at', 'after_department'];
const REVIEW_PG_TYPES = ['text', 'text', 'text', 'text', 'bigint', 'bigint', 'integer', 'integer', 'text', 'text', 'text', 'text', 'bigint', 'text'];
const reviewValues = (caseId: string, r: Review): unknown[] => [
  caseId, r.departmentId, r.level, r.state, r.deliveredAt, r.dueAt, r.provisional ? 1 : 0, r.extended ? 1 : 0, r.decision, r.reasons, r.answeredBy, r.answeredVia, r.decidedAt, r.after,
];

const PERMIT_COLUMNS = ['due_at', 'provisional', 'reported_at', 'permit_number', 'overdue_at', 'revoked_at'];
const PERMIT_PG_TYPES = ['text', 'text', 'bigint', 'integer', 'bigint', 'text', 'bigint', 'bigint'];
const permitValues = (caseId: string, p: Permit): unknown[] => [caseId, p.departmentId, p.dueAt, p.provisional ? 1 : 0, p.reportedAt, p.permitNumber, p.overdueAt, p.revokedAt];

const EVENT_COLUMNS = ['case_id', 'at', 'actor', 'action', 'data'];
const EVENT_PG_TYPES = ['text', 'bigint', 'text', 'text', 'text'];
const OUTBOX_COLUMNS = ['id', 'case_id', 'department_id', 'adapter', 'kind', 'payload', 'next_attempt_at', 'created_at', 'updated_at', 'state', 'attempts'];
const OUTBOX_PG_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'text', 'integer'];
const outboxValues = (o: OutboxInsert): unknown[] => [o.id, o.caseId, o.departmentId, o.adapter, o.kind, o.payload, o.nextAttemptAt, o.at, o.at, 'ready', 0];

const same = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Rows to write, gathered from a batch of changes. */
interface Plan {
  newCases: Case[];
  updates: { id: string; values: unknown[]; before: unknown[]; oldVersion: number; application: unknown[] | null }[];
  reviewInserts: unknown[][];
  reviewUpdates: { values: unknown[]; before: unknown[] }[];
  permitInserts: unknown[][];
  permitUpdates: { values: unknown[]; before: unknown[] }[];
  events: unknown[][];
}

function plan(changes: CaseChange[]): Plan {
  const p: Plan = { newCases: [], updates: [], reviewInserts: [], reviewUpdates: [], permitInserts: [], permitUpdates: [], events: [] };
  for (const ch of changes) {
    const { before, after } = ch;
    if (!before) p.newCases.push(after);
    else if (before !== after) {
      p.updates.push({
        id: after.id,
        values: caseSetValues(after),
        before: caseSetValues(before),
        oldVersion: before.version,
        // The application (and the indexed name and division) is rewritten only when it changed: most steps leave it alone.
        application: before.application === after.application ? null : applicationValues(after),
      });
    }
    if (before !== after) {
      for (const r of after.reviews) {
        const old = before?.reviews.find((x) => x.departmentId === r.departmentId);
        const v = reviewValues(after.id, r);
        if (!old) p.reviewInserts.push(v);
        else {
          const o = reviewValues(after.id, old);
          if (!same(o, v)) p.reviewUpdates.push({ values: v, before: o });
        }
      }
      for (const pm of after.permits) {
        const old = before?.permits.find((x) => x.departmentId === pm.departmentId);
        const v = permitValues(after.id, pm);
        if (!old) p.permitInserts.push(v);
        else {
          const o = permitValues(after.id, old);
          if (!same(o, v)) p.permitUpdates.push({ values: v, before: o });
        }
      }
    }
    for (const e of ch.events) p.events.push([after.id, ch.at, JSON.stringify(e.actor), e.action, JSON.stringify(e.data)]);
  }
  return p;
}

/**
 * Writes a batch of case changes, their audit events and outbox messages inside the caller's transaction.
 * Fails if any case changed underneath (version check). Events keep their order: per change, then within it.
 */
export async function writeChanges(sql: Sql, changes: CaseChange[], outbox: OutboxInsert[] = []): Promise<void> {
  const p = plan(changes);
  if (sql.dialect === 'postgres') await writePg(sql, p, outbox);
  else await writeSqlite(sql, p, outbox);
}

// ---- SQLite: one connection in process, so statements are cheap; what costs is the pages each one touches.

/** Rows per multi-row INSERT; a bound keeps the number of distinct statement texts (and cached statements) small. */
const SQLITE_CHUNK = 32;

async function insertRows(sql: Sql, table: string, columns: string[], rows: unknown[][], literalTail = ''): Promise<void> {
  for (let i = 0; i < rows.length; i += SQLITE_CHUNK) {
    const chunk = rows.slice(i, i + SQLITE_CHUNK);
    const n = columns.length - (literalTail ? literalTail.split(',').length : 0);
    const tuples = chunk.map((_, k) => `(${placeholders(n, k * n + 1)}${literalTail ? `, ${literalTail}` : ''})`).join(', ');
    await sql.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples}`, chunk.flat());
  }
}

/**
 * Updates only the columns whose value changed. Why: SQLite rewrites every index on a column named in SET, whether or
 * not its value changed, and a case's status columns carry four indexes that most steps (an approval of three) leave alone.
 */
async function updateChanged(sql: Sql, table: string, key: string[], columns: readonly string[], values: unknown[], before: unknown[], extraWhere = '', extra: unknown[] = []): Promise<number> {
  const sets: string[] = [];
  const params: unknown[] = values.slice(0, key.length);
  for (let i = 0; i < columns.length; i++) {
    const v = values[key.length + i];
    if (v === before[key.length + i]) continue;
    params.push(v);
    sets.push(`${columns[i]} = $${params.length}`);
  }
  if (sets.length === 0 && !extraWhere) return 1;
  const where = key.map((k, i) => `${k} = $${i + 1}`).join(' AND ');
  const tail = extraWhere.replace(/\$(\d+)/g, (_, n: string) => `$${params.length + Number(n)}`);
  return sql.run(`UPDATE ${table} SET ${sets.length ? sets.join(', ') : `${key[0]} = ${key[0]}`} WHERE ${where}${tail}`, [...params, ...extra]);
}

async function writeSqlite(sql: Sql, p: Plan, outbox: OutboxInsert[]): Promise<void> {
  if (p.newCases.length) {
    await insertRows(sql, 'cases', [...CASE_COLUMNS.split(', '), 'enterprise_name', 'division_code', 'industry'], p.newCases.map((c) => {
      const a = c.application;
      return [
        c.id, c.reference, c.status, JSON.stringify(a), c.createdAt, c.updatedAt, c.refusedRule, c.statusReason,
        c.licenceDueAt, c.licenceDueProvisional ? 1 : 0, c.licenceOverdueAt, c.licence?.creditCode ?? null,
        c.licence?.issuedAt ?? null, c.licence?.issuedBy ?? null, c.version, a.enterpriseName, a.divisionCode, a.industry,
      ];
    }));
  }
  for (const u of p.updates) {
    const cols = [...CASE_SET_COLUMNS, ...(u.application ? ['application', 'enterprise_name', 'division_code', 'industry'] : [])];
    const values = [u.id, ...u.values, ...(u.application ?? [])];
    const before = [u.id, ...u.before, ...(u.application ? [undefined, undefined, undefined, undefined] : [])];
    const n = await updateChanged(sql, 'cases', ['id'], cols, values, before, ' AND version = $1', [u.oldVersion]);
    if (n !== 1) throw new Error(`case ${u.id} changed concurrently (version ${u.oldVersion})`);
  }
  for (const r of p.reviewUpdates) await updateChanged(sql, 'reviews', REVIEW_KEY, REVIEW_COLUMNS, r.values, r.before);
  if (p.reviewInserts.length) await insertRows(sql, 'reviews', [...REVIEW_KEY, ...REVIEW_COLUMNS], p.reviewInserts);
  for (const r of p.permitUpdates) await updateChanged(sql, 'permits', REVIEW_KEY, PERMIT_COLUMNS, r.values, r.before);
  if (p.permitInserts.length) await insertRows(sql, 'permits', [...REVIEW_KEY, ...PERMIT_COLUMNS], p.permitInserts);
  if (p.events.length) await insertRows(sql, 'events', EVENT_COLUMNS, p.events);
  if (outbox.length) await insertRows(sql, 'outbox', OUTBOX_COLUMNS, outbox.map((o) => outboxValues(o).slice(0, 9)), "'ready', 0");
}

// ---- PostgreSQL: every statement is a round trip, so a whole batch is one statement of data-modifying CTEs over
// array parameters; its text depends only on which parts are present, so it stays a handful of prepared statements.

function columnsOf(rows: unknown[][], width: number): unknown[][] {
  const cols: unknown[][] = Array.from({ length: width }, () => new Array<unknown>(rows.length));
  for (let r = 0; r < rows.length; r++) for (let c = 0; c < width; c++) cols[c]![r] = rows[r]![c] ?? null;
  return cols;
}

async function writePg(sql: Sql, p: Plan, outbox: OutboxInsert[]): Promise<void> {
  const params: unknown[] = [];
  const parts: string[] = [];
  const unnest = (rows: unknown[][], types: string[], names: string[], ordinality = false) => {
    const cols = columnsOf(rows, types.length);
    const args = cols.map((c, i) => {
      params.push(c);
      return `$${params.length}::${types[i]}[]`;
    });
    return `unnest(${args.join(', ')})${ordinality ? ' WITH ORDINALITY' : ''} AS u(${names.join(', ')}${ordinality ? ', n' : ''})`;
  };
  const simple = p.updates.filter((u) => !u.application);
  if (p.newCases.length) {
    const cols = [...CASE_COLUMNS.split(', '), 'enterprise_name', 'division_code', 'industry'];
    const types = ['text', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text', 'bigint', 'integer', 'bigint', 'text', 'bigint', 'text', 'integer', 'text', 'text', 'text'];
    const rows = p.newCases.map((c) => {
      const a = c.application;
      return [
        c.id, c.reference, c.status, JSON.stringify(a), c.createdAt, c.updatedAt, c.refusedRule, c.statusReason,
        c.licenceDueAt, c.licenceDueProvisional ? 1 : 0, c.licenceOverdueAt, c.licence?.creditCode ?? null,
        c.licence?.issuedAt ?? null, c.licence?.issuedBy ?? null, c.version, a.enterpriseName, a.divisionCode, a.industry,
      ];
    });
    parts.push(`ic AS (INSERT INTO cases (${cols.join(', ')}) SELECT * FROM ${unnest(rows, types, cols)} RETURNING 1)`);
  }
  if (simple.length) {
    const names = ['id', ...CASE_SET_COLUMNS, 'old_version'];
    const rows = simple.map((u) => [u.id, ...u.values, u.oldVersion]);
    parts.push(
      `uc AS (UPDATE cases AS t SET ${CASE_SET_COLUMNS.map((c) => `${c} = u.${c}`).join(', ')} FROM ${unnest(rows, ['text', ...CASE_PG_TYPES, 'integer'], names)}
        WHERE t.id = u.id AND t.version = u.old_version RETURNING 1)`,
    );
  }
  if (p.reviewUpdates.length) {
    const names = [...REVIEW_KEY, ...REVIEW_COLUMNS];
    parts.push(
      `ur AS (UPDATE reviews AS t SET ${REVIEW_COLUMNS.map((c) => `${c} = u.${c}`).join(', ')} FROM ${unnest(p.reviewUpdates.map((r) => r.values), REVIEW_PG_TYPES, names)}
        WHERE t.case_id = u.case_id AND t.department_id = u.department_id RETURNING 1)`,
    );
  }
  if (p.reviewInserts.length) {
    const names = [...REVIEW_KEY, ...REVIEW_COLUMNS];
    parts.push(`ir AS (INSERT INTO reviews (${names.join(', ')}) SELECT * FROM ${unnest(p.reviewInserts, REVIEW_PG_TYPES, names)} RETURNING 1)`);
  }
  if (p.permitUpdates.length) {
    const names = [...REVIEW_KEY, ...PERMIT_COLUMNS];
    parts.push(
      `up AS (UPDATE permits AS t SET ${PERMIT_COLUMNS.map((c) => `${c} = u.${c}`).join(', ')} FROM ${unnest(p.permitUpdates.map((r) => r.values), PERMIT_PG_TYPES, names)}
        WHERE t.case_id = u.case_id AND t.department_id = u.department_id RETURNING 1)`,
    );
  }
  if (p.permitInserts.length) {
    const names = [...REVIEW_KEY, ...PERMIT_COLUMNS];
    parts.push(`ip AS (INSERT INTO permits (${names.join(', ')}) SELECT * FROM ${unnest(p.permitInserts, PERMIT_PG_TYPES, names)} RETURNING 1)`);
  }
  if (p.events.length) {
    // Ordered by position in the batch, so sequence numbers (and the audit order) follow the order the events happened in.
    parts.push(
      `ie AS (INSERT INTO events (${EVENT_COLUMNS.join(', ')}) SELECT ${EVENT_COLUMNS.map((c) => `u.${c}`).join(', ')} FROM ${unnest(p.events, EVENT_PG_TYPES, EVENT_COLUMNS, true)} ORDER BY u.n RETURNING 1)`,
    );
  }
  if (outbox.length) {
    parts.push(`io AS (INSERT INTO outbox (${OUTBOX_COLUMNS.join(', ')}) SELECT * FROM ${unnest(outbox.map(outboxValues), OUTBOX_PG_TYPES, OUTBOX_COLUMNS)} RETURNING 1)`);
  }
  if (parts.length > 0) {
    let check = '0';
    if (simple.length) {
      // The version check is made by the statement itself (an error when a case changed underneath: a failed cast is
      // the one way plain SQL raises one), so the write may go out without waiting for its answer.
      params.push(simple.length);
      const k = `$${params.length}::bigint`;
      check = `CASE WHEN (SELECT count(*) FROM uc) = ${k} THEN 0 ELSE ('case changed concurrently: ' || (SELECT count(*) FROM uc) || ' of ' || ${k} || ' cases updated')::int END`;
    }
    const text = `WITH ${parts.join(',\n')} SELECT ${check} AS n`;
    if (sql.later) sql.later(text, params);
    else await sql.get(text, params);
  }
  // A corrected application (resubmission) is rare: it gets its own statement.
  for (const u of p.updates.filter((x) => x.application)) {
    const n = await sql.run(
      `UPDATE cases SET ${CASE_SET_COLUMNS.map((c, i) => `${c} = $${i + 2}`).join(', ')}, application = $13, enterprise_name = $14, division_code = $15, industry = $16
       WHERE id = $1 AND version = $17`,
      [u.id, ...u.values, ...u.application!, u.oldVersion],
    );
    if (n !== 1) throw new Error(`case ${u.id} changed concurrently (version ${u.oldVersion})`);
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

/** Next value of a named counter, starting at `first`; one row per counter serialises concurrent callers until they commit. */
export async function nextCounter(sql: Sql, name: string, first: number): Promise<number> {
  return (await reserveCounter(sql, name, first, 1)).first;
}

/** Reserves `count` consecutive values of a named counter (first value ever: `first`) in one statement. */
export async function reserveCounter(sql: Sql, name: string, first: number, count: number): Promise<{ first: number; last: number }> {
  const row = await sql.get<{ value: number }>(
    'INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = counters.value + $3 RETURNING value',
    [name, first - 1 + count, count],
  );
  const last = Number(row!.value);
  return { first: last - count + 1, last };
}
