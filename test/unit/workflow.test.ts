// Unit tests of the pure case state machine: transitions, deadlines, deemed approval, termination.
import { expect } from 'chai';
import fc from 'fast-check';
import { GatewayError } from '../../src/domain/errors.js';
import type { Actor, Case, Decision } from '../../src/domain/types.js';
import * as wf from '../../src/domain/workflow.js';

const DAY = 86_400_000;
// A calendar-agnostic stand-in: N days later, end of day. The real calendar has its own tests.
const addDays: wf.AddWorkingDays = (from, n) => ({ dueAt: Math.floor(from / DAY) * DAY + (n + 1) * DAY - 1, provisional: false });
const ctx = (now: number): wf.WorkflowContext => ({ now, addWorkingDays: addDays, rules: { reviewDays: 5, extensionDays: 3, licenceDays: 5, permitDays: 15 } });
const actor: Actor = { kind: 'user', id: 'tester', role: 'secretary' };
const T0 = Date.UTC(2025, 0, 6, 2);

function newCase(): Case {
  return {
    id: 'c1', reference: 'r1', status: 'submitted',
    application: { enterpriseName: 'E', legalForm: 'limited_liability_company', registeredCapital: 1, industry: 'x', businessScope: ['catering'], address: 'a', divisionCode: '320102', investors: [], contact: { name: 'n', phone: '1' } },
    createdAt: T0, updatedAt: T0, refusedRule: null, statusReason: null, licenceDueAt: null, licenceDueProvisional: false, licenceOverdueAt: null,
    licence: null, reviews: [], permits: [], version: 1,
  };
}
const deps = ['health', 'fire', 'environment'].map((id) => ({ id, level: 'district' as const, issuesPermit: true }));

function accepted(): Case {
  let c = wf.accept(newCase(), deps, ctx(T0), actor).case;
  for (const d of deps) c = wf.markDelivered(c, d.id, ctx(T0 + 1000), 'fake').case;
  return c;
}

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as GatewayError).code;
  }
  return 'no error';
};

describe('workflow state machine', function () {
  it('accepting writes one review and one notification per department, none delivered yet', function () {
    const t = wf.accept(newCase(), deps, ctx(T0), actor);
    expect(t.case.status).to.equal('in_review');
    expect(t.case.reviews.map((r) => r.state)).to.deep.equal(['pending_delivery', 'pending_delivery', 'pending_delivery']);
    expect(t.case.reviews.every((r) => r.dueAt === null)).to.equal(true);
    expect(t.outgoing.map((o) => [o.departmentId, o.kind])).to.deep.equal([['health', 'notification'], ['fire', 'notification'], ['environment', 'notification']]);
  });

  it('starts the clock at delivery, not at acceptance', function () {
    const c = wf.accept(newCase(), deps, ctx(T0), actor).case;
    const later = T0 + 3 * DAY;
    const d = wf.markDelivered(c, 'fire', ctx(later), 'fake').case;
    expect(d.reviews.find((r) => r.departmentId === 'fire')!.dueAt).to.equal(addDays(later, 5).dueAt);
    expect(wf.markDelivered(d, 'fire', ctx(later + DAY), 'fake').events).to.have.length(0);
  });

  it('does not deem approval before the deadline, nor for an undelivered review', function () {
    const c = wf.accept(newCase(), deps, ctx(T0), actor).case;
    expect(wf.deadlinePassed(c, 'fire', ctx(T0 + 100 * DAY)).events).to.have.length(0);
    const d = accepted();
    const due = d.reviews[0]!.dueAt!;
    expect(wf.deadlinePassed(d, 'health', ctx(due - 1)).events).to.have.length(0);
    expect(wf.deadlinePassed(d, 'health', ctx(due)).case.reviews[0]!.state).to.equal('deemed_approved');
  });

  it('moves to awaiting_licence when every review is approved or deemed approved', function () {
    let c = accepted();
    c = wf.applyOpinion(c, 'health', 'approve', null, ctx(T0 + DAY), actor).case;
    c = wf.applyOpinion(c, 'fire', 'approve', null, ctx(T0 + DAY), actor).case;
    expect(c.status).to.equal('in_review');
    const due = c.reviews.find((r) => r.departmentId === 'environment')!.dueAt!;
    c = wf.deadlinePassed(c, 'environment', ctx(due + 5)).case;
    expect(c.status).to.equal('awaiting_licence');
    expect(c.licenceDueAt).to.equal(addDays(due + 5, 5).dueAt);
  });

  it('extends once, from the current due date', function () {
    let c = accepted();
    const due = c.reviews[1]!.dueAt!;
    c = wf.applyOpinion(c, 'fire', 'extend', 'superior review', ctx(T0 + DAY), actor).case;
    expect(c.reviews[1]!.state).to.equal('extended');
    expect(c.reviews[1]!.dueAt).to.equal(addDays(due, 3).dueAt);
    expect(code(() => wf.applyOpinion(c, 'fire', 'extend', 'again', ctx(T0 + DAY), actor))).to.equal('ALREADY_EXTENDED');
    c = wf.applyOpinion(c, 'fire', 'approve', null, ctx(T0 + 2 * DAY), actor).case;
    expect(c.reviews[1]!.state).to.equal('approved');
  });

  it('a refusal terminates the case and cancels the open reviews with a message to each', function () {
    let c = accepted();
    c = wf.applyOpinion(c, 'health', 'approve', null, ctx(T0 + DAY), actor).case;
    const t = wf.applyOpinion(c, 'fire', 'refuse', 'no exits', ctx(T0 + DAY), actor);
    expect(t.case.status).to.equal('terminated');
    expect(t.case.reviews.map((r) => r.state)).to.deep.equal(['approved', 'refused', 'cancelled']);
    expect(t.outgoing).to.deep.include({ departmentId: 'environment', kind: 'cancellation', payload: { caseId: 'c1', reference: 'r1', departmentId: 'environment', reason: 'refused by fire' } });
    expect(code(() => wf.applyOpinion(t.case, 'environment', 'approve', null, ctx(T0 + DAY), actor))).to.equal('TRANSITION_NOT_ALLOWED');
  });

  it('refuses transitions that are not allowed', function () {
    expect(code(() => wf.issueLicence(newCase(), 'X', [], ctx(T0), actor))).to.equal('TRANSITION_NOT_ALLOWED');
    // Not yet delivered: an answer that overtook its request's delivery record, to be sent again (retryable).
    expect(code(() => wf.applyOpinion(wf.accept(newCase(), deps, ctx(T0), actor).case, 'fire', 'approve', null, ctx(T0), actor))).to.equal('REVIEW_NOT_DELIVERED');
    const c = accepted();
    expect(code(() => wf.accept(c, deps, ctx(T0), actor))).to.equal('TRANSITION_NOT_ALLOWED');
    // Answered already: never again (not retryable).
    const answered = wf.applyOpinion(c, 'fire', 'approve', null, ctx(T0 + DAY), actor).case;
    expect(code(() => wf.applyOpinion(answered, 'fire', 'refuse', 'x', ctx(T0 + DAY), actor))).to.equal('REVIEW_NOT_OPEN');
  });

  it('licence then permits: operating only when every permit is reported', function () {
    let c = accepted();
    for (const d of deps) c = wf.applyOpinion(c, d.id, 'approve', null, ctx(T0 + DAY), actor).case;
    c = wf.issueLicence(c, '91320102MA0000007T', ['health', 'fire'], ctx(T0 + 2 * DAY), actor).case;
    expect(c.status).to.equal('licensed');
    expect(c.permits.map((p) => p.dueAt)).to.deep.equal([addDays(T0 + 2 * DAY, 15).dueAt, addDays(T0 + 2 * DAY, 15).dueAt]);
    c = wf.reportPermit(c, 'health', 'P1', ctx(T0 + 3 * DAY), actor).case;
    expect(code(() => wf.reportPermit(c, 'health', 'P1', ctx(T0 + 3 * DAY), actor))).to.equal('PERMIT_ALREADY_REPORTED');
    expect(code(() => wf.reportPermit(c, 'environment', 'P1', ctx(T0 + 3 * DAY), actor))).to.equal('PERMIT_NOT_EXPECTED');
    expect(c.status).to.equal('licensed');
    c = wf.reportPermit(c, 'fire', 'P2', ctx(T0 + 3 * DAY), actor).case;
    expect(c.status).to.equal('operating');
  });

  it('flags an overdue licence and an overdue permit once each', function () {
    let c = accepted();
    for (const d of deps) c = wf.applyOpinion(c, d.id, 'approve', null, ctx(T0 + DAY), actor).case;
    const late = c.licenceDueAt! + 1;
    const t = wf.licenceOverdue(c, ctx(late));
    expect(t.events.map((e) => e.action)).to.deep.equal(['licence.overdue']);
    expect(wf.licenceOverdue(t.case, ctx(late + DAY)).events).to.have.length(0);
    c = wf.issueLicence(t.case, 'X', ['fire'], ctx(late), actor).case;
    const p = wf.permitOverdue(c, 'fire', ctx(c.permits[0]!.dueAt));
    expect(p.events.map((e) => e.action)).to.deep.equal(['permit.overdue']);
    expect(wf.permitOverdue(p.case, 'fire', ctx(c.permits[0]!.dueAt + DAY)).events).to.have.length(0);
  });

  it('property: whatever the order of opinions and deadlines, a case settles consistently and each review decides once', function () {
    const step = fc.record({ dep: fc.constantFrom('health', 'fire', 'environment'), what: fc.constantFrom<Decision | 'deadline'>('approve', 'refuse', 'extend', 'deadline'), days: fc.integer({ min: 0, max: 12 }) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 20 }), (steps) => {
        let c = accepted();
        let now = T0 + 1000;
        const decided = new Map<string, string>();
        for (const s of steps) {
          now += s.days * DAY;
          let t: wf.Transition;
          try {
            t = s.what === 'deadline' ? wf.deadlinePassed(c, s.dep, ctx(now)) : wf.applyOpinion(c, s.dep, s.what, 'r', ctx(now), actor);
          } catch (e) {
            expect(e).to.be.instanceOf(GatewayError);
            continue;
          }
          for (const r of t.case.reviews) {
            const final = ['approved', 'refused', 'deemed_approved', 'cancelled'].includes(r.state);
            if (final && decided.has(r.departmentId)) expect(r.state).to.equal(decided.get(r.departmentId));
            if (final) decided.set(r.departmentId, r.state);
          }
          c = t.case;
        }
        const states = c.reviews.map((r) => r.state);
        if (c.status === 'awaiting_licence') expect(states.every((s) => s === 'approved' || s === 'deemed_approved')).to.equal(true);
        if (c.status === 'terminated') expect(states.filter((s) => s === 'refused')).to.have.length(1);
        if (c.status === 'in_review') expect(states.some((s) => s === 'delivered' || s === 'extended')).to.equal(true);
      }),
    );
  });
});
