// Efficiency supervision: what is overdue or near its deadline, per department, plus deemed approvals, extensions and failed deliveries.
import type { Db } from '../store/sql.js';

/** The supervisor's live picture. */
export interface SupervisionReport {
  now: string;
  nearDeadlineUntil: string;
  reviews: { overdue: unknown[]; nearDeadline: unknown[]; extended: unknown[]; deemedApproved: unknown[] };
  licences: { overdue: unknown[]; nearDeadline: unknown[] };
  permits: { overdue: unknown[]; nearDeadline: unknown[] };
  failedDeliveries: unknown[];
  /** Deadlines computed where the calendar does not cover a day: provisional until an administrator adds the year. */
  provisionalDeadlines: unknown[];
  perDepartment: Record<string, { open: number; nearDeadline: number; deemedApproved: number; extended: number; overduePermits: number }>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** `oneWorkingDayLater` gives the horizon of "near deadline": due before the end of the next working day. */
export async function supervisionReport(db: Db, now: number, oneWorkingDayLater: (from: number, n: number) => number): Promise<SupervisionReport> {
  const horizon = oneWorkingDayLater(now, 1);
  type R = { case_id: string; reference: string; department_id: string; level: string; state: string; due_at: number | null; decided_at: number | null };
  const reviews = await db.all<R>(
    `SELECT r.case_id, c.reference, r.department_id, r.level, r.state, r.due_at, r.decided_at FROM reviews r JOIN cases c ON c.id = r.case_id
     WHERE (r.state IN ('pending_delivery', 'delivered', 'extended') AND c.status = 'in_review') OR r.state = 'deemed_approved' ORDER BY r.due_at`,
  );
  const rv = (r: R) => ({ caseId: r.case_id, reference: r.reference, departmentId: r.department_id, level: r.level, state: r.state, dueAt: iso(r.due_at) });
  const open = reviews.filter((r) => r.state !== 'deemed_approved');
  // An open review past its due time is overdue only until the timekeeper's next pass makes it a deemed approval.
  const overdue = open.filter((r) => r.due_at !== null && r.due_at <= now);
  const near = open.filter((r) => r.due_at !== null && r.due_at > now && r.due_at <= horizon);
  const extended = open.filter((r) => r.state === 'extended');
  const deemed = reviews.filter((r) => r.state === 'deemed_approved');

  type L = { id: string; reference: string; licence_due_at: number; licence_overdue_at: number | null };
  const lic = await db.all<L>(`SELECT id, reference, licence_due_at, licence_overdue_at FROM cases WHERE status = 'awaiting_licence' ORDER BY licence_due_at`);
  const lv = (l: L) => ({ caseId: l.id, reference: l.reference, dueAt: iso(l.licence_due_at) });
  type P = { case_id: string; reference: string; department_id: string; due_at: number; overdue_at: number | null };
  const per = await db.all<P>(
    `SELECT p.case_id, c.reference, p.department_id, p.due_at, p.overdue_at FROM permits p JOIN cases c ON c.id = p.case_id WHERE p.reported_at IS NULL ORDER BY p.due_at`,
  );
  const pv = (p: P) => ({ caseId: p.case_id, reference: p.reference, departmentId: p.department_id, dueAt: iso(p.due_at) });
  const failed = await db.all(
    `SELECT id AS "messageId", case_id AS "caseId", department_id AS "departmentId", adapter, kind, attempts, last_error AS "lastError" FROM outbox WHERE state = 'failed' ORDER BY created_at LIMIT 500`,
  );

  const provisional = await db.all(
    `SELECT r.case_id AS "caseId", r.department_id AS "departmentId", 'review' AS kind, r.due_at AS "dueAt" FROM reviews r
       WHERE r.provisional = 1 AND r.state IN ('delivered', 'extended')
     UNION ALL SELECT id, NULL, 'licence', licence_due_at FROM cases WHERE licence_due_provisional = 1 AND status = 'awaiting_licence'
     UNION ALL SELECT case_id, department_id, 'permit', due_at FROM permits WHERE provisional = 1 AND reported_at IS NULL`,
  );

  const perDepartment: SupervisionReport['perDepartment'] = {};
  const dep = (id: string) => (perDepartment[id] ??= { open: 0, nearDeadline: 0, deemedApproved: 0, extended: 0, overduePermits: 0 });
  open.forEach((r) => dep(r.department_id).open++);
  near.forEach((r) => dep(r.department_id).nearDeadline++);
  deemed.forEach((r) => dep(r.department_id).deemedApproved++);
  extended.forEach((r) => dep(r.department_id).extended++);
  per.filter((p) => p.due_at <= now).forEach((p) => dep(p.department_id).overduePermits++);

  return {
    now: iso(now)!,
    nearDeadlineUntil: iso(horizon)!,
    reviews: { overdue: overdue.map(rv), nearDeadline: near.map(rv), extended: extended.map(rv), deemedApproved: deemed.slice(-500).map(rv) },
    licences: { overdue: lic.filter((l) => l.licence_due_at <= now).map(lv), nearDeadline: lic.filter((l) => l.licence_due_at > now && l.licence_due_at <= horizon).map(lv) },
    permits: { overdue: per.filter((p) => p.due_at <= now).map(pv), nearDeadline: per.filter((p) => p.due_at > now && p.due_at <= horizon).map(pv) },
    failedDeliveries: failed,
    provisionalDeadlines: provisional.map((p) => ({ ...(p as object), dueAt: iso((p as { dueAt: number }).dueAt) })),
    perDepartment,
  };
}
