// Unit tests of complaints (pure): who a complaint may concern, response deadlines in working days, the state machine, overdue.
import { expect } from 'chai';
import fc from 'fast-check';
import * as cp from '../../src/domain/complaint.js';
import { GatewayError } from '../../src/domain/errors.js';
import type { Actor, Case, Review } from '../../src/domain/types.js';

const DAY = 86_400_000;
const addDays: cp.ComplaintContext['addWorkingDays'] = (from, n) => ({ dueAt: Math.floor(from / DAY) * DAY + (n + 1) * DAY - 1, provisional: false });
const ctx = (now: number, complaintDays = 5): cp.ComplaintContext => ({ now, addWorkingDays: addDays, complaintDays });
const sec: Actor = { kind: 'user', id: 'secretary', role: 'secretary', adapter: 'rest-api' };
const sup: Actor = { kind: 'user', id: 'supervisor', role: 'supervisor', adapter: 'rest-api' };
const T0 = Date.UTC(2025, 10, 3, 2);

const review = (departmentId: string): Review => ({
  departmentId, level: 'district', after: null, state: 'delivered', deliveredAt: T0, dueAt: T0 + 5 * DAY, provisional: false, extended: false,
  decision: null, reasons: null, answeredBy: null, answeredVia: null, decidedAt: null,
});
function inReview(): Case {
  return {
    id: 'c1', reference: 'r1', status: 'in_review',
    application: { enterpriseName: 'E', legalForm: 'limited_liability_company', registeredCapital: 1, industry: 'catering', businessScope: ['catering'], address: 'a', divisionCode: '320102', investors: [], contact: { name: 'n', phone: '1' } },
    createdAt: T0, updatedAt: T0, refusedRule: null, statusReason: null, licenceDueAt: null, licenceDueProvisional: false, licenceOverdueAt: null,
    licence: null, reviews: [review('xw-health'), review('xw-fire')], permits: [], version: 3,
  };
}
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as GatewayError).code;
  }
  return 'no error';
};
const filed = (now = T0) => cp.fileComplaint(inReview(), 'xw-health', '审查拖延', '13800000000', 'k1', ctx(now), sec).complaint;

describe('complaints (pure)', function () {
  it('concerns a department reviewing the case or the bureau, and is due in the configured working days', function () {
    const s = cp.fileComplaint(inReview(), 'xw-health', '审查拖延', '13800000000', 'k1', ctx(T0), sec);
    expect(s.complaint).to.include({ state: 'open', caseId: 'c1', departmentId: 'xw-health', dueAt: addDays(T0, 5).dueAt, filedBy: 'secretary', version: 1 });
    expect(s.events.map((e) => e.action)).to.deep.equal(['complaint.filed']);
    // The applicant's contact stays out of the append-only audit trail.
    expect(JSON.stringify(s.events)).to.not.include('13800000000');
    expect(cp.fileComplaint(inReview(), cp.BUREAU, '窗口态度', 'x', 'k2', ctx(T0, 3), sec).complaint.dueAt).to.equal(addDays(T0, 3).dueAt);
    expect(code(() => cp.fileComplaint(inReview(), 'xw-police', '?', 'x', 'k3', ctx(T0), sec))).to.equal('COMPLAINT_DEPARTMENT_NOT_CONCERNED');
    expect(code(() => cp.fileComplaint(inReview(), 'xw-health', '  ', 'x', 'k3', ctx(T0), sec))).to.equal('VALIDATION_FAILED');
  });

  it('open -> answered -> resolved, or reopened with a fresh deadline and answered again; other steps are refused', function () {
    const k = filed();
    expect(code(() => cp.resolveComplaint(k, null, ctx(T0), sup))).to.equal('COMPLAINT_TRANSITION_NOT_ALLOWED');
    expect(code(() => cp.reopenComplaint(k, 'r', ctx(T0), sup))).to.equal('COMPLAINT_TRANSITION_NOT_ALLOWED');
    const a = cp.answerComplaint(k, '已加快办理', ctx(T0 + DAY), sup).complaint;
    expect(a).to.include({ state: 'answered', answeredAt: T0 + DAY, answeredLate: false, version: 2 });
    expect(code(() => cp.answerComplaint(a, 'again', ctx(T0 + DAY), sup))).to.equal('COMPLAINT_TRANSITION_NOT_ALLOWED');
    const r = cp.resolveComplaint(a, null, ctx(T0 + 2 * DAY), sup).complaint;
    expect(r).to.include({ state: 'resolved', resolvedAt: T0 + 2 * DAY, resolvedBy: 'supervisor' });
    for (const step of [() => cp.answerComplaint(r, 'x', ctx(T0), sup), () => cp.reopenComplaint(r, 'x', ctx(T0), sup), () => cp.resolveComplaint(r, null, ctx(T0), sup)]) {
      expect(code(step)).to.equal('COMPLAINT_TRANSITION_NOT_ALLOWED');
    }
    const o = cp.reopenComplaint(a, '答复不充分', ctx(T0 + 3 * DAY), sup);
    expect(o.complaint).to.include({ state: 'reopened', reopened: 1, dueAt: addDays(T0 + 3 * DAY, 5).dueAt });
    expect(o.events[0]!.action).to.equal('complaint.reopened');
    expect(cp.answerComplaint(o.complaint, '补充答复', ctx(T0 + 4 * DAY), sup).complaint.state).to.equal('answered');
  });

  it('property: overdue exactly while waiting for an answer past the deadline; a late answer is recorded as late', function () {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: -3 * DAY, max: 3 * DAY }), (days, offset) => {
        const k = cp.fileComplaint(inReview(), 'xw-fire', 't', 'c', 'k', ctx(T0, days), sec).complaint;
        const at = k.dueAt + offset;
        expect(cp.isOverdue(k, at)).to.equal(at > k.dueAt);
        const a = cp.answerComplaint(k, 'r', ctx(at, days), sup);
        expect(a.complaint.answeredLate).to.equal(at > k.dueAt);
        expect(a.events[0]!.data.late).to.equal(at > k.dueAt);
        expect(cp.isOverdue(a.complaint, at + 100 * DAY)).to.equal(false);
      }),
      { numRuns: 200 },
    );
  });
});
