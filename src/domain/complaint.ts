// Applicants' complaints (效能监察): filed about a case and a department, answered within working days, closed by the supervisor. Pure.
import { fail } from './errors.js';
import type { Actor, Case, DomainEvent } from './types.js';
import type { AddWorkingDays } from './workflow.js';

/** The department id of a complaint about the registration bureau itself (the gateway's own counter), not a reviewer. */
export const BUREAU = 'bureau';

/**
 * open -> answered (the department or the supervisor records a response) -> resolved (the supervisor closes it) or
 * reopened (the supervisor finds the answer wanting: a fresh response deadline) -> answered again.
 * Overdue is not a state: a complaint open or reopened past its deadline is shown overdue (see `isOverdue`), because
 * nothing happens by itself when a response is late (unlike a review's silence), so there is no transition to record.
 */
export type ComplaintState = 'open' | 'answered' | 'resolved' | 'reopened';
export const COMPLAINT_STATES: readonly ComplaintState[] = ['open', 'answered', 'resolved', 'reopened'];

/** One complaint; times are epoch milliseconds. */
export interface Complaint {
  id: string;
  caseId: string;
  departmentId: string;
  text: string;
  contact: string;
  state: ComplaintState;
  filedBy: string;
  filedAt: number;
  /** When the current response is due (a reopening sets a new one). */
  dueAt: number;
  dueProvisional: boolean;
  response: string | null;
  answeredBy: string | null;
  answeredAt: number | null;
  /** Sticky: some response came after its deadline (kept through reopenings, for the period report). */
  answeredLate: boolean;
  resolvedBy: string | null;
  resolvedAt: number | null;
  reopened: number;
  version: number;
}

/** What a complaint step needs: the instant, the working-day arithmetic and the response period. */
export interface ComplaintContext {
  now: number;
  addWorkingDays: AddWorkingDays;
  complaintDays: number;
}

/** A step's result: the complaint and the events for the case's timeline. */
export interface ComplaintStep {
  complaint: Complaint;
  events: DomainEvent[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Departments a complaint about this case may concern: those reviewing it, and the bureau itself. */
export function concernedDepartments(c: Case): string[] {
  return [BUREAU, ...c.reviews.map((r) => r.departmentId)];
}

/** Files a complaint; the department must be one reviewing the case, or the bureau. */
export function fileComplaint(c: Case, departmentId: string, text: string, contact: string, id: string, ctx: ComplaintContext, actor: Actor): ComplaintStep {
  if (!concernedDepartments(c).includes(departmentId)) fail('COMPLAINT_DEPARTMENT_NOT_CONCERNED', { departmentId, caseId: c.id });
  if (!text.trim()) fail('VALIDATION_FAILED', { summary: 'a complaint needs its text' });
  const due = ctx.addWorkingDays(ctx.now, ctx.complaintDays);
  const complaint: Complaint = {
    id, caseId: c.id, departmentId, text, contact, state: 'open', filedBy: actor.id, filedAt: ctx.now, dueAt: due.dueAt, dueProvisional: due.provisional,
    response: null, answeredBy: null, answeredAt: null, answeredLate: false, resolvedBy: null, resolvedAt: null, reopened: 0, version: 1,
  };
  // The contact stays out of the event: the audit chain is append-only and should not carry personal data it cannot forget.
  return { complaint, events: [{ action: 'complaint.filed', data: { complaintId: id, departmentId, complaintDays: ctx.complaintDays, dueAt: iso(due.dueAt), provisional: due.provisional, by: actor.id } }] };
}

function transition(k: Complaint, action: string, allowed: ComplaintState[]): void {
  if (!allowed.includes(k.state)) fail('COMPLAINT_TRANSITION_NOT_ALLOWED', { complaintId: k.id, action, state: k.state });
}

const bump = (k: Complaint): Complaint => ({ ...k, version: k.version + 1 });

/** The department's (or the supervisor's) response; late when after the deadline, which is recorded but not refused. */
export function answerComplaint(k0: Complaint, response: string, ctx: ComplaintContext, actor: Actor): ComplaintStep {
  transition(k0, 'answer', ['open', 'reopened']);
  if (!response.trim()) fail('VALIDATION_FAILED', { summary: 'an answer needs its text' });
  const late = ctx.now > k0.dueAt;
  const k = { ...bump(k0), state: 'answered' as const, response, answeredBy: actor.id, answeredAt: ctx.now, answeredLate: k0.answeredLate || late };
  return { complaint: k, events: [{ action: 'complaint.answered', data: { complaintId: k.id, departmentId: k.departmentId, late, by: actor.id, via: actor.adapter ?? 'api' } }] };
}

/** The supervisor accepts the answer and closes the complaint. */
export function resolveComplaint(k0: Complaint, note: string | null, ctx: ComplaintContext, actor: Actor): ComplaintStep {
  transition(k0, 'resolve', ['answered']);
  const k = { ...bump(k0), state: 'resolved' as const, resolvedBy: actor.id, resolvedAt: ctx.now };
  return { complaint: k, events: [{ action: 'complaint.resolved', data: { complaintId: k.id, departmentId: k.departmentId, note, by: actor.id } }] };
}

/** The supervisor finds the answer wanting: the department owes a new one within a fresh response period. */
export function reopenComplaint(k0: Complaint, reason: string, ctx: ComplaintContext, actor: Actor): ComplaintStep {
  transition(k0, 'reopen', ['answered']);
  const due = ctx.addWorkingDays(ctx.now, ctx.complaintDays);
  const k = { ...bump(k0), state: 'reopened' as const, dueAt: due.dueAt, dueProvisional: due.provisional, reopened: k0.reopened + 1 };
  return { complaint: k, events: [{ action: 'complaint.reopened', data: { complaintId: k.id, departmentId: k.departmentId, reason, dueAt: iso(due.dueAt), provisional: due.provisional, by: actor.id } }] };
}

/** Waiting for a response past its deadline. */
export function isOverdue(k: Pick<Complaint, 'state' | 'dueAt'>, now: number): boolean {
  return (k.state === 'open' || k.state === 'reopened') && k.dueAt < now;
}
