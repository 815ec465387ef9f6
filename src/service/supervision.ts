// Efficiency supervision: what is overdue or near its deadline, per department, plus deemed approvals, extensions, failed deliveries and complaints.
import { periodReport, type PeriodReport } from '../domain/supervision-report.js';
import type { ComplaintState } from '../domain/complaint.js';
import type { ReviewState } from '../domain/types.js';
import type { Db } from '../store/sql.js';

/** The supervisor's live picture. */
export interface SupervisionReport {
  now: string;
  nearDeadlineUntil: string;
  reviews: { overdue: unknown[]; nearDeadline: unknown[]; extended: unknown[]; deemedApproved: unknown[] };
  licences: { overdue: unknown[]; nearDeadline: unknown[] };
  permits: { overdue: unknown[]; nearDeadline: unknown[] };
  failedDeliveries: unknown[];
  /** Complaints waiting for an answer (open or reopened), and those of them past their response deadline. */
  complaints: { open: unknown[]; overdue: unknown[] };
  /** Deadlines computed where the calendar does not cover a day: provisional until an administrator adds the year. */
  provisionalDeadlines: unknown[];
  perDepartment: Record<string, { open: number; nearDeadline: number; deemedApproved: number; extended: number; overduePermits: number; openComplaints: number; overdueComplaints: number }>;
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

  type K = { id: string; case_id: string; reference: string; department_id: string; state: string; filed_at: number | string; due_at: number | string };
  const complaints = (
    await db.all<K>(
      `SELECT k.id, k.case_id, c.reference, k.department_id, k.state, k.filed_at, k.due_at FROM complaints k JOIN cases c ON c.id = k.case_id
       WHERE k.state IN ('open', 'reopened') ORDER BY k.due_at LIMIT 2000`,
    )
  ).map((k) => ({ ...k, due_at: Number(k.due_at), filed_at: Number(k.filed_at) }));
  const kv = (k: (typeof complaints)[number]) => ({ complaintId: k.id, caseId: k.case_id, reference: k.reference, departmentId: k.department_id, state: k.state, filedAt: iso(k.filed_at), dueAt: iso(k.due_at) });
  const overdueComplaints = complaints.filter((k) => k.due_at < now);

  const perDepartment: SupervisionReport['perDepartment'] = {};
  const dep = (id: string) => (perDepartment[id] ??= { open: 0, nearDeadline: 0, deemedApproved: 0, extended: 0, overduePermits: 0, openComplaints: 0, overdueComplaints: 0 });
  open.forEach((r) => dep(r.department_id).open++);
  near.forEach((r) => dep(r.department_id).nearDeadline++);
  deemed.forEach((r) => dep(r.department_id).deemedApproved++);
  extended.forEach((r) => dep(r.department_id).extended++);
  per.filter((p) => p.due_at <= now).forEach((p) => dep(p.department_id).overduePermits++);
  complaints.forEach((k) => dep(k.department_id).openComplaints++);
  overdueComplaints.forEach((k) => dep(k.department_id).overdueComplaints++);

  return {
    now: iso(now)!,
    nearDeadlineUntil: iso(horizon)!,
    reviews: { overdue: overdue.map(rv), nearDeadline: near.map(rv), extended: extended.map(rv), deemedApproved: deemed.slice(-500).map(rv) },
    licences: { overdue: lic.filter((l) => l.licence_due_at <= now).map(lv), nearDeadline: lic.filter((l) => l.licence_due_at > now && l.licence_due_at <= horizon).map(lv) },
    permits: { overdue: per.filter((p) => p.due_at <= now).map(pv), nearDeadline: per.filter((p) => p.due_at > now && p.due_at <= horizon).map(pv) },
    failedDeliveries: failed,
    complaints: { open: complaints.map(kv), overdue: overdueComplaints.map(kv) },
    provisionalDeadlines: provisional.map((p) => ({ ...(p as object), dueAt: iso((p as { dueAt: number }).dueAt) })),
    perDepartment,
  };
}

/**
 * The report of a period [from, to) (epoch ms) for every department or one: the rows that can count are read here,
 * the figures are computed by the pure `periodReport`.
 */
export async function supervisionPeriodReport(db: Db, from: number, to: number, now: number, departmentId?: string): Promise<PeriodReport> {
  const dep = departmentId === undefined ? '' : ' AND department_id = $3';
  const args = departmentId === undefined ? [from, to] : [from, to, departmentId];
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  type R = { department_id: string; state: ReviewState; delivered_at: unknown; due_at: unknown; decided_at: unknown; extended: unknown };
  const reviews = await db.all<R>(
    `SELECT department_id, state, delivered_at, due_at, decided_at, extended FROM reviews
     WHERE ((decided_at >= $1 AND decided_at < $2) OR (decided_at IS NULL AND due_at >= $1 AND due_at < $2))${dep}`,
    args,
  );
  type F = { department_id: string; created_at: unknown };
  const failed = await db.all<F>(`SELECT department_id, created_at FROM outbox WHERE state = 'failed' AND created_at >= $1 AND created_at < $2${dep}`, args);
  type K = { department_id: string; state: ComplaintState; filed_at: unknown; due_at: unknown; answered_late: unknown; resolved_at: unknown };
  const complaints = await db.all<K>(
    `SELECT department_id, state, filed_at, due_at, answered_late, resolved_at FROM complaints
     WHERE ((filed_at >= $1 AND filed_at < $2) OR (resolved_at >= $1 AND resolved_at < $2))${dep}`,
    args,
  );
  type P = { department_id: string; due_at: unknown; reported_at: unknown };
  const permits = await db.all<P>(`SELECT department_id, due_at, reported_at FROM permits WHERE reported_at >= $1 AND reported_at < $2${dep}`, args);
  return periodReport(
    { from, to, now, departmentId },
    {
      reviews: reviews.map((r) => ({ departmentId: r.department_id, state: r.state, deliveredAt: n(r.delivered_at), dueAt: n(r.due_at), decidedAt: n(r.decided_at), extended: !!Number(r.extended) })),
      failedDeliveries: failed.map((f) => ({ departmentId: f.department_id, sentAt: Number(f.created_at) })),
      complaints: complaints.map((k) => ({ departmentId: k.department_id, state: k.state, filedAt: Number(k.filed_at), dueAt: Number(k.due_at), answeredLate: !!Number(k.answered_late), resolvedAt: n(k.resolved_at) })),
      permits: permits.map((p) => ({ departmentId: p.department_id, dueAt: Number(p.due_at), reportedAt: n(p.reported_at) })),
    },
  );
}
