// Follow-up visits (定期回访): planned inspections of licensed enterprises, rectification notices, re-inspection, revocation. Pure.
import { fail } from './errors.js';
import type { Actor, Case, DomainEvent } from './types.js';
import type { AddWorkingDays } from './workflow.js';

/**
 * planned -> passed (closed), or -> rectifying (a notice to suspend and rectify within N working days);
 * rectifying -> rectified (re-inspection passed, closed) or -> revoked (the department's permit is revoked and the
 * bureau orders a change of business scope).
 */
export type InspectionState = 'planned' | 'passed' | 'rectifying' | 'rectified' | 'revoked';

export type Outcome = 'pass' | 'fail';

/** One inspection of one enterprise (a licensed case) by one department; times are epoch milliseconds. */
export interface Inspection {
  id: string;
  caseId: string;
  departmentId: string;
  state: InspectionState;
  plannedFor: number;
  plannedBy: string;
  plannedAt: number;
  inspectedAt: number | null;
  findings: string | null;
  rectifyDueAt: number | null;
  rectifyProvisional: boolean;
  reinspectedAt: number | null;
  reinspectionFindings: string | null;
  closedAt: number | null;
  version: number;
}

/** What a follow-up step needs besides the inspection: the instant, the working-day arithmetic and the rectification period. */
export interface FollowUpContext {
  now: number;
  addWorkingDays: AddWorkingDays;
  rectifyDays: number;
}

/** A step's result: the inspection, the case (changed only by a revocation) and the events for the case's timeline. */
export interface FollowUpStep {
  inspection: Inspection;
  case: Case;
  events: DomainEvent[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A department plans an inspection of an enterprise it issued a permit to (the case is licensed or operating). */
export function planInspection(c: Case, departmentId: string, plannedFor: number, id: string, ctx: FollowUpContext, actor: Actor): FollowUpStep {
  if (c.status !== 'licensed' && c.status !== 'operating') fail('FOLLOW_UP_NOT_ALLOWED', { departmentId, reason: `the case is ${c.status}; only licensed enterprises are inspected` });
  const permit = c.permits.find((p) => p.departmentId === departmentId);
  if (!permit) fail('FOLLOW_UP_NOT_ALLOWED', { departmentId, reason: `${departmentId} issued no permit for this case` });
  if (permit.revokedAt !== null) fail('FOLLOW_UP_NOT_ALLOWED', { departmentId, reason: `the permit of ${departmentId} is revoked` });
  const inspection: Inspection = {
    id, caseId: c.id, departmentId, state: 'planned', plannedFor, plannedBy: actor.id, plannedAt: ctx.now,
    inspectedAt: null, findings: null, rectifyDueAt: null, rectifyProvisional: false, reinspectedAt: null, reinspectionFindings: null, closedAt: null, version: 1,
  };
  return { inspection, case: c, events: [{ action: 'inspection.planned', data: { inspectionId: id, departmentId, plannedFor: iso(plannedFor), by: actor.id } }] };
}

const bump = (i: Inspection): Inspection => ({ ...i, version: i.version + 1 });

function requireFindings(outcome: Outcome, findings: string | null): void {
  if (outcome === 'fail' && !findings?.trim()) fail('VALIDATION_FAILED', { summary: 'a failed inspection needs findings' });
}

/** The inspection's result: passed closes it; failed orders the enterprise to suspend and rectify within rectifyDays working days. */
export function recordInspection(c: Case, i0: Inspection, outcome: Outcome, findings: string | null, ctx: FollowUpContext, actor: Actor): FollowUpStep {
  if (i0.state !== 'planned') fail('INSPECTION_NOT_OPEN', { inspectionId: i0.id, state: i0.state });
  requireFindings(outcome, findings);
  const i = { ...bump(i0), inspectedAt: ctx.now, findings };
  const by = { by: actor.id, via: actor.adapter ?? 'api' };
  if (outcome === 'pass') {
    Object.assign(i, { state: 'passed', closedAt: ctx.now });
    return { inspection: i, case: c, events: [{ action: 'inspection.passed', data: { inspectionId: i.id, departmentId: i.departmentId, findings, ...by } }] };
  }
  const due = ctx.addWorkingDays(ctx.now, ctx.rectifyDays);
  Object.assign(i, { state: 'rectifying', rectifyDueAt: due.dueAt, rectifyProvisional: due.provisional });
  return {
    inspection: i,
    case: c,
    events: [
      { action: 'inspection.failed', data: { inspectionId: i.id, departmentId: i.departmentId, findings, ...by } },
      { action: 'rectification.ordered', data: { inspectionId: i.id, departmentId: i.departmentId, suspend: true, rectifyDays: ctx.rectifyDays, rectifyDueAt: iso(due.dueAt), provisional: due.provisional } },
    ],
  };
}

/**
 * The re-inspection after the rectification deadline: passed closes the matter; failed revokes the department's permit
 * and orders a change of business scope (the bureau's order, on the case's timeline for the registrar): `affectedItems`
 * are the case's scope items that needed this department's pre-approval, which the enterprise may no longer carry on.
 */
export function reinspect(c0: Case, i0: Inspection, outcome: Outcome, findings: string | null, affectedItems: string[], ctx: FollowUpContext, actor: Actor): FollowUpStep {
  if (i0.state !== 'rectifying') fail('INSPECTION_NOT_OPEN', { inspectionId: i0.id, state: i0.state });
  if (ctx.now < i0.rectifyDueAt!) fail('INSPECTION_NOT_DUE', { inspectionId: i0.id, rectifyDueAt: iso(i0.rectifyDueAt!) });
  requireFindings(outcome, findings);
  const i = { ...bump(i0), reinspectedAt: ctx.now, reinspectionFindings: findings, closedAt: ctx.now };
  const by = { by: actor.id, via: actor.adapter ?? 'api' };
  if (outcome === 'pass') {
    i.state = 'rectified';
    return { inspection: i, case: c0, events: [{ action: 'inspection.rectified', data: { inspectionId: i.id, departmentId: i.departmentId, findings, ...by } }] };
  }
  i.state = 'revoked';
  const c: Case = { ...c0, permits: c0.permits.map((p) => (p.departmentId === i.departmentId ? { ...p, revokedAt: ctx.now } : { ...p })), updatedAt: ctx.now, version: c0.version + 1 };
  return {
    inspection: i,
    case: c,
    events: [
      { action: 'inspection.failed_again', data: { inspectionId: i.id, departmentId: i.departmentId, findings, ...by } },
      { action: 'permit.revoked', data: { inspectionId: i.id, departmentId: i.departmentId, ...by } },
      { action: 'scope_change.ordered', data: { inspectionId: i.id, departmentId: i.departmentId, remove: affectedItems } },
    ],
  };
}
