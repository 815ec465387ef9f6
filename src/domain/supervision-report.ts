// The supervision report per period and department (效能监察报告): pure aggregation of reviews, deliveries, complaints and permits.
import type { ComplaintState } from './complaint.js';
import type { ReviewState } from './types.js';

const DAY_MS = 86_400_000;

/** A review as the report needs it; times are epoch milliseconds. */
export interface ReviewFact {
  departmentId: string;
  state: ReviewState;
  deliveredAt: number | null;
  dueAt: number | null;
  decidedAt: number | null;
  extended: boolean;
}

/**
 * A message to a department whose delivery was given up (outbox state failed), by when it was written: that is the
 * workflow's time, while the dispatcher's attempts are stamped with the real time, which differs under a manual clock.
 */
export interface FailedDeliveryFact {
  departmentId: string;
  sentAt: number;
}

export interface ComplaintFact {
  departmentId: string;
  state: ComplaintState;
  filedAt: number;
  dueAt: number;
  answeredLate: boolean;
  resolvedAt: number | null;
}

export interface PermitFact {
  departmentId: string;
  dueAt: number;
  reportedAt: number | null;
}

/** The period [from, to) in epoch milliseconds, the instant of the report, and an optional single department. */
export interface ReportPeriod {
  from: number;
  to: number;
  now: number;
  departmentId?: string;
}

export interface DepartmentFigures {
  reviews: {
    /** Reviews decided in the period, or due in it and still undecided. */
    considered: number;
    delivered: number;
    /** Answered by the department (approved or refused) by the deadline; an answer cannot be late, silence becomes a deemed approval. */
    decidedOnTime: number;
    approved: number;
    refused: number;
    deemedApproved: number;
    extended: number;
    /** Due in the period and still open (the timekeeper has not yet passed, or the case left review). */
    open: number;
    /** Mean calendar days from delivery to the department's own decision (deemed approvals excluded: silence is no decision); null when none. */
    meanDaysToDecide: number | null;
  };
  failedDeliveries: number;
  complaints: { received: number; resolved: number; overdue: number };
  permitsReportedLate: number;
}

export interface PeriodReport {
  from: string;
  to: string;
  now: string;
  departments: Record<string, DepartmentFigures>;
  totals: DepartmentFigures;
}

const emptyFigures = (): DepartmentFigures => ({
  reviews: { considered: 0, delivered: 0, decidedOnTime: 0, approved: 0, refused: 0, deemedApproved: 0, extended: 0, open: 0, meanDaysToDecide: null },
  failedDeliveries: 0,
  complaints: { received: 0, resolved: 0, overdue: 0 },
  permitsReportedLate: 0,
});

const DECIDED: readonly ReviewState[] = ['approved', 'refused', 'deemed_approved'];
const OPEN: readonly ReviewState[] = ['pending_delivery', 'delivered', 'extended'];

export function periodReport(
  p: ReportPeriod,
  facts: { reviews: ReviewFact[]; failedDeliveries: FailedDeliveryFact[]; complaints: ComplaintFact[]; permits: PermitFact[] },
): PeriodReport {
  const inPeriod = (t: number | null): t is number => t !== null && t >= p.from && t < p.to;
  const wanted = (d: string) => p.departmentId === undefined || d === p.departmentId;
  const departments: Record<string, DepartmentFigures> = {};
  const totals = emptyFigures();
  const days: Record<string, number[]> = {};
  const allDays: number[] = [];
  // Every figure goes to its department and to the totals alike.
  const both = (d: string, f: (x: DepartmentFigures) => void) => {
    f((departments[d] ??= emptyFigures()));
    f(totals);
  };
  if (p.departmentId !== undefined) departments[p.departmentId] = emptyFigures();

  for (const r of facts.reviews) {
    if (!wanted(r.departmentId)) continue;
    const decided = DECIDED.includes(r.state) && inPeriod(r.decidedAt);
    const dueOpen = OPEN.includes(r.state) && inPeriod(r.dueAt);
    if (!decided && !dueOpen) continue;
    both(r.departmentId, (x) => {
      const v = x.reviews;
      v.considered++;
      if (r.deliveredAt !== null) v.delivered++;
      if (r.extended) v.extended++;
      if (dueOpen) v.open++;
      if (r.state === 'approved') v.approved++;
      if (r.state === 'refused') v.refused++;
      if (r.state === 'deemed_approved') v.deemedApproved++;
      if ((r.state === 'approved' || r.state === 'refused') && (r.dueAt === null || r.decidedAt! <= r.dueAt)) v.decidedOnTime++;
    });
    if ((r.state === 'approved' || r.state === 'refused') && r.deliveredAt !== null && r.decidedAt !== null) {
      const d = (r.decidedAt - r.deliveredAt) / DAY_MS;
      (days[r.departmentId] ??= []).push(d);
      allDays.push(d);
    }
  }
  for (const f of facts.failedDeliveries) if (wanted(f.departmentId) && inPeriod(f.sentAt)) both(f.departmentId, (x) => x.failedDeliveries++);
  for (const k of facts.complaints) {
    if (!wanted(k.departmentId)) continue;
    if (inPeriod(k.filedAt)) {
      // Overdue as of now: answered late at some point, or still waiting for an answer past its deadline.
      const overdue = k.answeredLate || ((k.state === 'open' || k.state === 'reopened') && k.dueAt < p.now);
      both(k.departmentId, (x) => {
        x.complaints.received++;
        if (overdue) x.complaints.overdue++;
      });
    }
    if (k.state === 'resolved' && inPeriod(k.resolvedAt)) both(k.departmentId, (x) => x.complaints.resolved++);
  }
  for (const m of facts.permits) if (wanted(m.departmentId) && inPeriod(m.reportedAt) && m.reportedAt > m.dueAt) both(m.departmentId, (x) => x.permitsReportedLate++);

  const mean = (xs: number[] | undefined) => (xs?.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100 : null);
  for (const [d, x] of Object.entries(departments)) x.reviews.meanDaysToDecide = mean(days[d]);
  totals.reviews.meanDaysToDecide = mean(allDays);
  const iso = (ms: number) => new Date(ms).toISOString();
  return { from: iso(p.from), to: iso(p.to), now: iso(p.now), departments, totals };
}
