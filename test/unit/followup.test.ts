// Unit tests of follow-up visits (pure): the inspection state machine, rectification deadlines in working days, revocation.
import { expect } from 'chai';
import fc from 'fast-check';
import { GatewayError } from '../../src/domain/errors.js';
import * as fu from '../../src/domain/followup.js';
import type { Actor, Case } from '../../src/domain/types.js';

const DAY = 86_400_000;
const addDays: fu.FollowUpContext['addWorkingDays'] = (from, n) => ({ dueAt: Math.floor(from / DAY) * DAY + (n + 1) * DAY - 1, provisional: false });
const ctx = (now: number, rectifyDays = 10): fu.FollowUpContext => ({ now, addWorkingDays: addDays, rectifyDays });
const actor: Actor = { kind: 'user', id: 'reviewer-xw-health', role: 'reviewer', adapter: 'rest' };
const T0 = Date.UTC(2025, 10, 3, 2);

function licensed(status: Case['status'] = 'licensed'): Case {
  return {
    id: 'c1', reference: 'r1', status,
    application: { enterpriseName: 'E', legalForm: 'limited_liability_company', registeredCapital: 1, industry: 'catering', businessScope: ['catering', 'bar'], address: 'a', divisionCode: '320102', investors: [], contact: { name: 'n', phone: '1' } },
    createdAt: T0, updatedAt: T0, refusedRule: null, statusReason: null, licenceDueAt: null, licenceDueProvisional: false, licenceOverdueAt: null,
    licence: { creditCode: 'X', issuedAt: T0, issuedBy: 'registrar' }, reviews: [],
    permits: ['xw-health', 'xw-fire'].map((departmentId) => ({ departmentId, dueAt: T0 + 20 * DAY, provisional: false, reportedAt: null, permitNumber: null, overdueAt: null, revokedAt: null })),
    version: 3,
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
const planned = (c = licensed()) => fu.planInspection(c, 'xw-health', T0 + DAY, 'i1', ctx(T0), actor).inspection;

describe('follow-up visits (pure)', function () {
  it('plans only for licensed enterprises and departments with an unrevoked permit', function () {
    expect(planned()).to.include({ state: 'planned', caseId: 'c1', departmentId: 'xw-health', version: 1 });
    expect(code(() => fu.planInspection(licensed('in_review'), 'xw-health', T0, 'i', ctx(T0), actor))).to.equal('FOLLOW_UP_NOT_ALLOWED');
    expect(code(() => fu.planInspection(licensed(), 'xw-police', T0, 'i', ctx(T0), actor))).to.equal('FOLLOW_UP_NOT_ALLOWED');
  });

  it('a pass closes; a fail needs findings and orders rectification within the configured working days', function () {
    const i = planned();
    expect(fu.recordInspection(licensed(), i, 'pass', null, ctx(T0), actor).inspection).to.include({ state: 'passed', closedAt: T0 });
    expect(code(() => fu.recordInspection(licensed(), i, 'fail', '  ', ctx(T0), actor))).to.equal('VALIDATION_FAILED');
    const s = fu.recordInspection(licensed(), i, 'fail', '卫生不合格', ctx(T0), actor);
    expect(s.inspection).to.include({ state: 'rectifying', rectifyDueAt: addDays(T0, 10).dueAt });
    expect(s.events.map((e) => e.action)).to.deep.equal(['inspection.failed', 'rectification.ordered']);
    expect(code(() => fu.recordInspection(licensed(), s.inspection, 'pass', null, ctx(T0), actor))).to.equal('INSPECTION_NOT_OPEN');
  });

  it('property: a re-inspection is refused before the rectification deadline and accepted from it on', function () {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: -5 * DAY, max: 5 * DAY }), (days, offset) => {
        const s = fu.recordInspection(licensed(), planned(), 'fail', 'f', ctx(T0, days), actor);
        const due = s.inspection.rectifyDueAt!;
        expect(due).to.equal(addDays(T0, days).dueAt);
        const at = due + offset;
        const r = code(() => fu.reinspect(licensed(), s.inspection, 'pass', null, ['catering'], ctx(at), actor));
        expect(r).to.equal(at < due ? 'INSPECTION_NOT_DUE' : 'no error');
      }),
      { numRuns: 200 },
    );
  });

  it('a failed re-inspection revokes only that department\'s permit and orders the scope change; a passed one closes', function () {
    const c = licensed();
    const rect = fu.recordInspection(c, planned(c), 'fail', 'f', ctx(T0), actor).inspection;
    const later = rect.rectifyDueAt!;
    const ok = fu.reinspect(c, rect, 'pass', null, ['catering'], ctx(later), actor);
    expect(ok.inspection).to.include({ state: 'rectified', closedAt: later });
    expect(ok.case).to.equal(c);
    const bad = fu.reinspect(c, rect, 'fail', '仍不合格', ['catering'], ctx(later), actor);
    expect(bad.inspection.state).to.equal('revoked');
    expect(bad.case.permits.map((p) => [p.departmentId, p.revokedAt])).to.deep.equal([['xw-health', later], ['xw-fire', null]]);
    expect(bad.case.version).to.equal(c.version + 1);
    expect(c.permits[0]!.revokedAt).to.equal(null);
    expect(bad.events.find((e) => e.action === 'scope_change.ordered')!.data).to.deep.include({ departmentId: 'xw-health', remove: ['catering'] });
    expect(code(() => fu.planInspection(bad.case, 'xw-health', later, 'i2', ctx(later), actor))).to.equal('FOLLOW_UP_NOT_ALLOWED');
  });
});
