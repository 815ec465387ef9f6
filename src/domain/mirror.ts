// Mirror cases: the reviews a peer gateway asks of this gateway's departments, as pure transitions (no I/O, no clock).
import { fail } from './errors.js';
import type { Actor, Application, Case, DomainEvent, Level, OutgoingIntent, Review } from './types.js';
import { OPEN_REVIEW_STATES } from './types.js';
import type { Transition, WorkflowContext } from './workflow.js';

/**
 * A mirror case's reference is `<origin gateway>:<origin reference>`. Why in the reference: local references are
 * `<division>-<date>-<serial>` and never hold a colon, so the pure workflow can tell a mirror case (no licence here)
 * from its own without another column, and the reference shown is the one the applicant was given at the origin.
 */
export const MIRROR_SEPARATOR = ':';

/** Where a mirror case came from; null for a case filed here. */
export function mirrorOrigin(c: Pick<Case, 'reference'>): { gateway: string; reference: string } | null {
  const i = c.reference.indexOf(MIRROR_SEPARATOR);
  return i < 0 ? null : { gateway: c.reference.slice(0, i), reference: c.reference.slice(i + 1) };
}

/** A review asked by a peer gateway: what its notification says. */
export interface MirrorRequest {
  /** The origin case's id: the mirror case has the same id, so the department's signed answer names the origin's case. */
  caseId: string;
  originGateway: string;
  originReference: string;
  departmentId: string;
  level: Level;
  /** The application as the origin's notification carries it (investors' identity numbers never travel). */
  application: Application;
  /** In a chain at the origin, the step before this one (it cannot be extended again, as at the origin). */
  after: string | null;
  /** The notification's payload, passed on to the department as it came. */
  payload: Record<string, unknown>;
}

function emptyReview(r: MirrorRequest): Review {
  return {
    departmentId: r.departmentId, level: r.level, after: r.after, state: 'pending_delivery', deliveredAt: null, dueAt: null, provisional: false,
    extended: false, decision: null, reasons: null, answeredBy: null, answeredVia: null, decidedAt: null,
  };
}

/**
 * Opens (or adds to) the mirror case of an origin case: an in-review case with one review per department asked, each
 * notified through that department's own adapter. No eligibility check and no licence: the origin decided those.
 */
export function openMirror(existing: Case | undefined, r: MirrorRequest, ctx: WorkflowContext, actor: Actor): Transition {
  const outgoing: OutgoingIntent[] = [{ departmentId: r.departmentId, kind: 'notification', payload: { ...r.payload, caseId: r.caseId, origin: { gateway: r.originGateway, reference: r.originReference } } }];
  const events: DomainEvent[] = [{ action: 'review.requested', data: { departmentId: r.departmentId, level: r.level, origin: r.originGateway, by: actor.id } }];
  if (!existing) {
    const c: Case = {
      id: r.caseId, reference: `${r.originGateway}${MIRROR_SEPARATOR}${r.originReference}`, status: 'in_review', application: r.application,
      createdAt: ctx.now, updatedAt: ctx.now, refusedRule: null, statusReason: null, licenceDueAt: null, licenceDueProvisional: false,
      licenceOverdueAt: null, licence: null, reviews: [emptyReview(r)], permits: [], version: 1,
    };
    return { case: c, events: [{ action: 'case.mirrored', data: { origin: r.originGateway, originReference: r.originReference } }, ...events], outgoing };
  }
  const origin = mirrorOrigin(existing);
  if (!origin || origin.gateway !== r.originGateway) fail('TRANSITION_NOT_ALLOWED', { action: `mirror a review of ${r.originGateway} into`, status: origin ? `a mirror of ${origin.gateway}` : 'a case filed here' });
  const old = existing.reviews.find((x) => x.departmentId === r.departmentId);
  if (old && OPEN_REVIEW_STATES.includes(old.state)) return { case: existing, events: [], outgoing: [] };
  const c: Case = { ...existing, reviews: existing.reviews.filter((x) => x.departmentId !== r.departmentId).map((x) => ({ ...x })), permits: [], licence: null };
  c.reviews.push(emptyReview(r));
  c.status = 'in_review';
  c.statusReason = null;
  c.updatedAt = ctx.now;
  c.version += 1;
  return { case: c, events, outgoing };
}

/**
 * The origin cancelled its review (its case was terminated, or another department refused): the department is told
 * through its adapter, and the mirror case ends when nothing is left open.
 */
export function cancelMirror(c0: Case, departmentId: string, reason: string, ctx: WorkflowContext): Transition {
  const r0 = c0.reviews.find((x) => x.departmentId === departmentId);
  if (!r0 || !OPEN_REVIEW_STATES.includes(r0.state)) return { case: c0, events: [], outgoing: [] };
  const c: Case = { ...c0, reviews: c0.reviews.map((x) => ({ ...x })) };
  const r = c.reviews.find((x) => x.departmentId === departmentId)!;
  r.state = 'cancelled';
  const events: DomainEvent[] = [{ action: 'review.cancelled', data: { departmentId, because: 'origin', reason } }];
  const outgoing: OutgoingIntent[] = [{ departmentId, kind: 'cancellation', payload: { caseId: c.id, reference: c.reference, departmentId, reason } }];
  if (c.status === 'in_review' && !c.reviews.some((x) => OPEN_REVIEW_STATES.includes(x.state))) {
    c.status = 'terminated';
    c.statusReason = `cancelled by ${mirrorOrigin(c)?.gateway ?? 'the origin'}: ${reason}`;
    events.push({ action: 'case.terminated', data: { reason: c.statusReason } });
  }
  c.updatedAt = ctx.now;
  c.version += 1;
  return { case: c, events, outgoing };
}

/** The origin's deadline for a review (set at its delivery, moved by an extension): the origin's is authoritative. */
export function originDeadline(c0: Case, departmentId: string, dueAt: number, provisional: boolean, ctx: WorkflowContext): Transition {
  const r0 = c0.reviews.find((x) => x.departmentId === departmentId);
  if (!r0 || !OPEN_REVIEW_STATES.includes(r0.state) || r0.state === 'pending_delivery' || r0.dueAt === dueAt) return { case: c0, events: [], outgoing: [] };
  const c: Case = { ...c0, reviews: c0.reviews.map((x) => ({ ...x })) };
  const r = c.reviews.find((x) => x.departmentId === departmentId)!;
  r.dueAt = dueAt;
  r.provisional = provisional;
  c.updatedAt = ctx.now;
  c.version += 1;
  return { case: c, events: [{ action: 'review.origin_deadline', data: { departmentId, dueAt: new Date(dueAt).toISOString(), provisional } }], outgoing: [] };
}
