// Unit tests of mirror cases: reviews a peer gateway asks for, their deadlines, cancellation, and their end without a licence.
import { expect } from 'chai';
import { GatewayError } from '../../src/domain/errors.js';
import { cancelMirror, mirrorOrigin, openMirror, originDeadline, type MirrorRequest } from '../../src/domain/mirror.js';
import type { Actor } from '../../src/domain/types.js';
import * as wf from '../../src/domain/workflow.js';

const DAY = 86_400_000;
const addDays: wf.AddWorkingDays = (from, n) => ({ dueAt: Math.floor(from / DAY) * DAY + (n + 1) * DAY - 1, provisional: false });
const ctx = (now: number): wf.WorkflowContext => ({ now, addWorkingDays: addDays, rules: { reviewDays: 5, extensionDays: 3, licenceDays: 5, permitDays: 15 } });
const peer: Actor = { kind: 'adapter', id: 'xuanwu-gateway', adapter: 'to-xuanwu' };
const reviewer: Actor = { kind: 'user', id: 'reviewer-nj-fire', role: 'reviewer' };
const T0 = Date.UTC(2025, 0, 6, 2);

const request = (departmentId = 'nj-fire', after: string | null = null): MirrorRequest => ({
  caseId: 'case-1', originGateway: 'xuanwu-gateway', originReference: '320102-20250106-000001', departmentId, level: 'city', after,
  application: { enterpriseName: 'E', legalForm: 'limited_liability_company', registeredCapital: 1, industry: 'hotel', businessScope: ['hotel'], address: 'a', divisionCode: '320102', investors: [], contact: { name: 'n', phone: '1' } },
  payload: { reference: '320102-20250106-000001', departmentId },
});

describe('mirror cases (pure)', function () {
  it('opens an in-review case with the origin in its reference and the notification for the department', function () {
    const t = openMirror(undefined, request(), ctx(T0), peer);
    expect(t.case.status).to.equal('in_review');
    expect(t.case.id).to.equal('case-1');
    expect(mirrorOrigin(t.case)).to.deep.equal({ gateway: 'xuanwu-gateway', reference: '320102-20250106-000001' });
    expect(t.case.reviews.map((r) => [r.departmentId, r.state])).to.deep.equal([['nj-fire', 'pending_delivery']]);
    expect(t.outgoing).to.have.length(1);
    expect(t.outgoing[0]!.payload.origin).to.deep.equal({ gateway: 'xuanwu-gateway', reference: '320102-20250106-000001' });
    expect(t.events.map((e) => e.action)).to.deep.equal(['case.mirrored', 'review.requested']);
    expect(mirrorOrigin({ reference: '320102-20250106-000001' })).to.equal(null);
  });

  it('adds a second department to the same mirror case, ignores a repeat, and refuses another origin', function () {
    const one = openMirror(undefined, request(), ctx(T0), peer).case;
    const two = openMirror(one, request('nj-police'), ctx(T0 + 1), peer);
    expect(two.case.reviews.map((r) => r.departmentId)).to.deep.equal(['nj-fire', 'nj-police']);
    expect(openMirror(one, request(), ctx(T0 + 1), peer).events).to.deep.equal([]);
    expect(() => openMirror(one, { ...request('nj-police'), originGateway: 'qinhuai-gateway' }, ctx(T0), peer)).to.throw(GatewayError);
  });

  it('concludes, without a licence, when its reviews are answered; takes the origin deadline; cannot extend a chained step', function () {
    let c = openMirror(undefined, request(), ctx(T0), peer).case;
    c = wf.markDelivered(c, 'nj-fire', ctx(T0), 'simulated').case;
    const due = T0 + 3 * DAY;
    c = originDeadline(c, 'nj-fire', due, false, ctx(T0 + 1)).case;
    expect(c.reviews[0]!.dueAt).to.equal(due);
    const t = wf.applyOpinion(c, 'nj-fire', 'approve', null, ctx(T0 + 2), reviewer);
    expect(t.case.status).to.equal('concluded');
    expect(t.case.licenceDueAt).to.equal(null);
    expect(t.events.map((e) => e.action)).to.deep.equal(['review.approved', 'case.concluded']);

    let chained = openMirror(undefined, request('nj-fire', 'xw-fire'), ctx(T0), peer).case;
    chained = wf.markDelivered(chained, 'nj-fire', ctx(T0), 'simulated').case;
    expect(() => wf.applyOpinion(chained, 'nj-fire', 'extend', 'x', ctx(T0), reviewer)).to.throw(GatewayError, /cannot be extended/);
  });

  it("ends when the origin cancels what is left open, telling the department", function () {
    let c = openMirror(undefined, request(), ctx(T0), peer).case;
    c = openMirror(c, request('nj-police'), ctx(T0), peer).case;
    const first = cancelMirror(c, 'nj-fire', 'terminated at the origin', ctx(T0 + 1));
    expect(first.case.status).to.equal('in_review');
    expect(first.outgoing.map((o) => [o.departmentId, o.kind])).to.deep.equal([['nj-fire', 'cancellation']]);
    const second = cancelMirror(first.case, 'nj-police', 'terminated at the origin', ctx(T0 + 2));
    expect(second.case.status).to.equal('terminated');
    expect(cancelMirror(second.case, 'nj-police', 'again', ctx(T0 + 3)).events).to.deep.equal([]);
  });
});
