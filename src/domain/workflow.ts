// The case state machine: pure functions (case, input, now) -> (case, events, outgoing messages); no I/O, no clock.
import { fail } from './errors.js';
import { MIRROR_SEPARATOR } from './mirror.js';
import type { Actor, Case, Decision, DomainEvent, Level, OutgoingIntent, Review } from './types.js';
import { OPEN_REVIEW_STATES } from './types.js';

/** Computes the end of the Nth working day after an instant; `provisional` when the calendar does not cover it. */
export type AddWorkingDays = (fromMs: number, n: number) => { dueAt: number; provisional: boolean };

/** Deadline lengths in working days, from configuration. */
export interface DeadlineRules {
  reviewDays: number;
  extensionDays: number;
  licenceDays: number;
  permitDays: number;
  /** Follow-up visits: working days to rectify after a failed inspection (default 10). */
  rectifyDays?: number;
  /** Complaints: working days to answer an applicant's complaint (default 5). */
  complaintDays?: number;
}

/** What every transition needs besides the case: the instant and the deadline arithmetic. */
export interface WorkflowContext {
  now: number;
  addWorkingDays: AddWorkingDays;
  rules: DeadlineRules;
}

/** A transition's result: the new case, the events to record, the messages to send. */
export interface Transition {
  case: Case;
  events: DomainEvent[];
  outgoing: OutgoingIntent[];
}

/** A department chosen to review a case, with what the workflow needs to know of it. */
export interface ReviewingDepartment {
  id: string;
  level: Level;
  issuesPermit: boolean;
  /** A chain's later step: the department whose approval opens this review. */
  after?: string | null;
}

/** Reviews that belong to a chain (a step with a predecessor, or one that others follow): they cannot be extended. */
function inChain(c: Case, r: Review): boolean {
  return r.after !== null || c.reviews.some((x) => x.after === r.departmentId);
}

/**
 * After `departmentId` approved (or was deemed to), the chain's next steps are notified, with the opinion they follow.
 * Why a step's own clock: each starts at its delivery, like every review; a later step has extensionDays (the superior
 * review's share), so a chain of two takes reviewDays + extensionDays working days when delivered without delay.
 */
function openNextSteps(c: Case, departmentId: string, events: DomainEvent[], outgoing: OutgoingIntent[]): void {
  const prev = findReview(c, departmentId);
  for (const r of c.reviews) {
    if (r.after !== departmentId || r.state !== 'waiting') continue;
    r.state = 'pending_delivery';
    const previous = { departmentId, decision: prev.state === 'deemed_approved' ? 'deemed_approved' : 'approve', reasons: prev.reasons, answeredBy: prev.answeredBy };
    outgoing.push({ departmentId: r.departmentId, kind: 'notification', payload: { ...notificationPayload(c, r), previous } });
    events.push({ action: 'review.requested', data: { departmentId: r.departmentId, level: r.level, after: departmentId } });
  }
}

const clone = (c: Case): Case => ({
  ...c,
  reviews: c.reviews.map((r) => ({ ...r })),
  permits: c.permits.map((p) => ({ ...p })),
  licence: c.licence ? { ...c.licence } : null,
});

function done(c: Case, now: number, events: DomainEvent[], outgoing: OutgoingIntent[] = []): Transition {
  if (events.length > 0) {
    c.updatedAt = now;
    c.version += 1;
  }
  return { case: c, events, outgoing };
}

function requireStatus(c: Case, action: string, ...allowed: Case['status'][]): void {
  if (!allowed.includes(c.status)) fail('TRANSITION_NOT_ALLOWED', { action, status: c.status });
}

function findReview(c: Case, departmentId: string): Review {
  const r = c.reviews.find((x) => x.departmentId === departmentId);
  if (!r) fail('NOT_FOUND', { what: `review by ${departmentId} in this case` });
  return r;
}

function notificationPayload(c: Case, r: Review): Record<string, unknown> {
  const a = c.application;
  return {
    caseId: c.id,
    reference: c.reference,
    departmentId: r.departmentId,
    level: r.level,
    enterpriseName: a.enterpriseName,
    legalForm: a.legalForm,
    registeredCapital: a.registeredCapital,
    industry: a.industry,
    businessScope: a.businessScope,
    address: a.address,
    divisionCode: a.divisionCode,
    contact: a.contact,
  };
}

/** Secretary accepts a submitted case: one review and one notification per department. */
export function accept(c0: Case, departments: ReviewingDepartment[], ctx: WorkflowContext, actor: Actor): Transition {
  requireStatus(c0, 'accept', 'submitted');
  const c = clone(c0);
  const events: DomainEvent[] = [{ action: 'case.accepted', data: { by: actor.id, departments: departments.map((d) => d.id) } }];
  const outgoing: OutgoingIntent[] = [];
  c.reviews = departments.map((d) => ({
    departmentId: d.id,
    level: d.level,
    after: d.after ?? null,
    state: d.after ? 'waiting' : 'pending_delivery',
    deliveredAt: null,
    dueAt: null,
    provisional: false,
    extended: false,
    decision: null,
    reasons: null,
    answeredBy: null,
    answeredVia: null,
    decidedAt: null,
  }));
  if (c.reviews.length === 0) {
    settle(c, ctx, events);
  } else {
    c.status = 'in_review';
    for (const r of c.reviews) {
      if (r.state === 'waiting') {
        events.push({ action: 'review.chained', data: { departmentId: r.departmentId, level: r.level, after: r.after } });
        continue;
      }
      outgoing.push({ departmentId: r.departmentId, kind: 'notification', payload: { ...notificationPayload(c, r), reviewDays: ctx.rules.reviewDays } });
      events.push({ action: 'review.requested', data: { departmentId: r.departmentId, level: r.level } });
    }
  }
  return done(c, ctx.now, events, outgoing);
}

/** Secretary returns a submitted case to the applicant for correction. */
export function returnForCorrection(c0: Case, reason: string, ctx: WorkflowContext, actor: Actor): Transition {
  requireStatus(c0, 'return', 'submitted');
  const c = clone(c0);
  c.status = 'returned';
  c.statusReason = reason;
  return done(c, ctx.now, [{ action: 'case.returned', data: { by: actor.id, reason } }]);
}

/** The applicant's corrected application replaces the returned one; eligibility is judged again. */
export function resubmit(c0: Case, application: Case['application'], verdict: { eligible: boolean; ruleId: string; reason: string }, ctx: WorkflowContext, actor: Actor): Transition {
  requireStatus(c0, 'resubmit', 'returned');
  const c = clone(c0);
  c.application = application;
  c.status = verdict.eligible ? 'submitted' : 'refused';
  c.refusedRule = verdict.eligible ? null : verdict.ruleId;
  c.statusReason = verdict.eligible ? null : verdict.reason;
  const events: DomainEvent[] = [{ action: 'case.resubmitted', data: { by: actor.id, enterpriseName: application.enterpriseName } }];
  if (!verdict.eligible) events.push({ action: 'case.refused', data: { rule: verdict.ruleId, reason: verdict.reason } });
  return done(c, ctx.now, events);
}

/** The adapter acknowledged delivery of a notification: the department's clock starts now, never earlier. */
export function markDelivered(c0: Case, departmentId: string, ctx: WorkflowContext, via: string): Transition {
  const r0 = findReview(c0, departmentId);
  if (r0.state !== 'pending_delivery') return { case: c0, events: [], outgoing: [] };
  const c = clone(c0);
  const r = findReview(c, departmentId);
  // A chain's later step is the superior review: it has the extension's working days, from its own delivery.
  const due = ctx.addWorkingDays(ctx.now, r.after !== null ? ctx.rules.extensionDays : ctx.rules.reviewDays);
  r.state = 'delivered';
  r.deliveredAt = ctx.now;
  r.dueAt = due.dueAt;
  r.provisional = due.provisional;
  const events: DomainEvent[] = [
    { action: 'review.delivered', data: { departmentId, via, dueAt: new Date(due.dueAt).toISOString(), provisional: due.provisional } },
  ];
  if (due.provisional) events.push({ action: 'alert.calendar_not_covered', data: { departmentId, dueAt: new Date(due.dueAt).toISOString() } });
  return done(c, ctx.now, events);
}

/** A department's opinion: approve, refuse (terminates the case) or extend once for superior review. */
export function applyOpinion(
  c0: Case,
  departmentId: string,
  decision: Decision,
  reasons: string | null,
  ctx: WorkflowContext,
  actor: Actor,
): Transition {
  requireStatus(c0, 'answer a review of', 'in_review');
  const c = clone(c0);
  const r = findReview(c, departmentId);
  if (r.state === 'waiting') fail('CHAIN_STEP_NOT_OPEN', { departmentId, waitingFor: r.after });
  if (r.state === 'pending_delivery') fail('REVIEW_NOT_DELIVERED', { departmentId });
  const answerable = r.state === 'delivered' || r.state === 'extended';
  if (!answerable) fail('REVIEW_NOT_OPEN', { departmentId, state: r.state });
  const by = { answeredBy: actor.id, answeredVia: actor.adapter ?? 'api' };
  const events: DomainEvent[] = [];
  const outgoing: OutgoingIntent[] = [];
  if (decision === 'extend') {
    if (r.extended) fail('ALREADY_EXTENDED', { departmentId });
    if (inChain(c, r)) fail('EXTENSION_NOT_ALLOWED', { departmentId, reason: 'a chained review already includes the superior review' });
    const due = ctx.addWorkingDays(r.dueAt ?? ctx.now, ctx.rules.extensionDays);
    r.state = 'extended';
    r.extended = true;
    r.dueAt = due.dueAt;
    r.provisional = r.provisional || due.provisional;
    r.reasons = reasons;
    events.push({ action: 'review.extended', data: { departmentId, reasons, dueAt: new Date(due.dueAt).toISOString(), ...by, notifySecretary: true } });
    if (due.provisional) events.push({ action: 'alert.calendar_not_covered', data: { departmentId, dueAt: new Date(due.dueAt).toISOString() } });
    outgoing.push({ departmentId, kind: 'extension_ack', payload: { caseId: c.id, reference: c.reference, departmentId, dueAt: new Date(due.dueAt).toISOString() } });
    return done(c, ctx.now, events, outgoing);
  }
  Object.assign(r, { decision, reasons, decidedAt: ctx.now, ...by });
  if (decision === 'approve') {
    r.state = 'approved';
    events.push({ action: 'review.approved', data: { departmentId, reasons, ...by } });
    openNextSteps(c, departmentId, events, outgoing);
    settle(c, ctx, events);
  } else {
    r.state = 'refused';
    events.push({ action: 'review.refused', data: { departmentId, reasons, ...by } });
    c.status = 'terminated';
    c.statusReason = `refused by ${departmentId}`;
    for (const other of c.reviews) {
      if (other === r) continue;
      if (other.state === 'waiting') {
        // Never notified, so nothing to tell that department.
        other.state = 'cancelled';
        events.push({ action: 'review.cancelled', data: { departmentId: other.departmentId, because: departmentId } });
        continue;
      }
      if (!OPEN_REVIEW_STATES.includes(other.state)) continue;
      other.state = 'cancelled';
      events.push({ action: 'review.cancelled', data: { departmentId: other.departmentId, because: departmentId } });
      outgoing.push({ departmentId: other.departmentId, kind: 'cancellation', payload: { caseId: c.id, reference: c.reference, departmentId: other.departmentId, reason: `refused by ${departmentId}` } });
    }
    events.push({ action: 'case.terminated', data: { reason: c.statusReason } });
  }
  return done(c, ctx.now, events, outgoing);
}

/** The timekeeper found a review past its deadline: silence is deemed approval, if and only if it was delivered. */
export function deadlinePassed(c0: Case, departmentId: string, ctx: WorkflowContext): Transition {
  const r0 = c0.reviews.find((x) => x.departmentId === departmentId);
  const due = r0 && c0.status === 'in_review' && (r0.state === 'delivered' || r0.state === 'extended') && r0.dueAt !== null && r0.dueAt <= ctx.now;
  if (!due) return { case: c0, events: [], outgoing: [] };
  const c = clone(c0);
  const r = findReview(c, departmentId);
  r.state = 'deemed_approved';
  r.decidedAt = ctx.now;
  r.answeredVia = 'timekeeper';
  const events: DomainEvent[] = [{ action: 'review.deemed_approved', data: { departmentId, dueAt: new Date(r.dueAt!).toISOString() } }];
  const outgoing: OutgoingIntent[] = [];
  openNextSteps(c, departmentId, events, outgoing);
  settle(c, ctx, events);
  return done(c, ctx.now, events, outgoing);
}

/** When every review is approved or deemed approved, the case waits for its licence. */
function settle(c: Case, ctx: WorkflowContext, events: DomainEvent[]): void {
  if (!c.reviews.every((r) => r.state === 'approved' || r.state === 'deemed_approved')) return;
  if (c.reference.includes(MIRROR_SEPARATOR)) {
    // A mirror case (a review a peer gateway asked for) ends here: the licence is the origin's to issue.
    c.status = 'concluded';
    events.push({ action: 'case.concluded', data: {} });
    return;
  }
  const due = ctx.addWorkingDays(ctx.now, ctx.rules.licenceDays);
  c.status = 'awaiting_licence';
  c.licenceDueAt = due.dueAt;
  c.licenceDueProvisional = due.provisional;
  events.push({ action: 'case.awaiting_licence', data: { licenceDueAt: new Date(due.dueAt).toISOString(), provisional: due.provisional } });
}

/** Registrar issues the licence with a newly allocated credit code; permits become due. */
export function issueLicence(
  c0: Case,
  creditCode: string,
  permitDepartments: string[],
  ctx: WorkflowContext,
  actor: Actor,
): Transition {
  requireStatus(c0, 'issue a licence for', 'awaiting_licence');
  const c = clone(c0);
  c.licence = { creditCode, issuedAt: ctx.now, issuedBy: actor.id };
  const events: DomainEvent[] = [{ action: 'licence.issued', data: { creditCode, by: actor.id } }];
  const due = ctx.addWorkingDays(ctx.now, ctx.rules.permitDays);
  c.permits = permitDepartments.map((departmentId) => ({
    departmentId,
    dueAt: due.dueAt,
    provisional: due.provisional,
    reportedAt: null,
    permitNumber: null,
    overdueAt: null,
    revokedAt: null,
  }));
  if (c.permits.length === 0) {
    c.status = 'operating';
    events.push({ action: 'case.operating', data: {} });
  } else {
    c.status = 'licensed';
    events.push({ action: 'permits.due', data: { departments: permitDepartments, dueAt: new Date(due.dueAt).toISOString() } });
  }
  return done(c, ctx.now, events);
}

/** A department reports the permit it issued; licence plus all permits makes the case operating. */
export function reportPermit(c0: Case, departmentId: string, permitNumber: string, ctx: WorkflowContext, actor: Actor): Transition {
  requireStatus(c0, 'report a permit for', 'licensed');
  const p0 = c0.permits.find((p) => p.departmentId === departmentId);
  if (!p0) fail('PERMIT_NOT_EXPECTED', { departmentId });
  if (p0.reportedAt !== null) fail('PERMIT_ALREADY_REPORTED', { departmentId });
  const c = clone(c0);
  const p = c.permits.find((x) => x.departmentId === departmentId)!;
  p.reportedAt = ctx.now;
  p.permitNumber = permitNumber;
  const events: DomainEvent[] = [{ action: 'permit.reported', data: { departmentId, permitNumber, by: actor.id, via: actor.adapter ?? 'api' } }];
  if (c.permits.every((x) => x.reportedAt !== null)) {
    c.status = 'operating';
    events.push({ action: 'case.operating', data: {} });
  }
  return done(c, ctx.now, events);
}

/** The timekeeper flags a licence not issued in time, once, for supervision. */
export function licenceOverdue(c0: Case, ctx: WorkflowContext): Transition {
  if (c0.status !== 'awaiting_licence' || c0.licenceOverdueAt !== null || c0.licenceDueAt === null || c0.licenceDueAt > ctx.now) {
    return { case: c0, events: [], outgoing: [] };
  }
  const c = clone(c0);
  c.licenceOverdueAt = ctx.now;
  return done(c, ctx.now, [{ action: 'licence.overdue', data: { licenceDueAt: new Date(c.licenceDueAt!).toISOString() } }]);
}

/** The timekeeper flags a permit not reported in time, once, for supervision. */
export function permitOverdue(c0: Case, departmentId: string, ctx: WorkflowContext): Transition {
  const p0 = c0.permits.find((p) => p.departmentId === departmentId);
  if (c0.status !== 'licensed' || !p0 || p0.reportedAt !== null || p0.overdueAt !== null || p0.dueAt > ctx.now) {
    return { case: c0, events: [], outgoing: [] };
  }
  const c = clone(c0);
  c.permits.find((p) => p.departmentId === departmentId)!.overdueAt = ctx.now;
  return done(c, ctx.now, [{ action: 'permit.overdue', data: { departmentId, dueAt: new Date(p0.dueAt).toISOString() } }]);
}

/** Registrar or secretary ends a case whose conditions are not met (the seed: "the procedure is terminated"). */
export function terminate(c0: Case, reason: string, ctx: WorkflowContext, actor: Actor): Transition {
  requireStatus(c0, 'terminate', 'submitted', 'returned', 'in_review', 'awaiting_licence');
  const c = clone(c0);
  const events: DomainEvent[] = [];
  const outgoing: OutgoingIntent[] = [];
  for (const r of c.reviews) {
    if (r.state === 'waiting') {
      r.state = 'cancelled';
      events.push({ action: 'review.cancelled', data: { departmentId: r.departmentId, because: 'terminated' } });
      continue;
    }
    if (!OPEN_REVIEW_STATES.includes(r.state)) continue;
    r.state = 'cancelled';
    events.push({ action: 'review.cancelled', data: { departmentId: r.departmentId, because: 'terminated' } });
    outgoing.push({ departmentId: r.departmentId, kind: 'cancellation', payload: { caseId: c.id, reference: c.reference, departmentId: r.departmentId, reason } });
  }
  c.status = 'terminated';
  c.statusReason = reason;
  events.push({ action: 'case.terminated', data: { reason, by: actor.id } });
  return done(c, ctx.now, events, outgoing);
}
