// Unit tests of chained reviews: a district department reviews first and reports up; routes with a bad chain are found.
import { expect } from 'chai';
import { GatewayError } from '../../src/domain/errors.js';
import { chainCycle, chainProblem, resolveDepartments, type Department, type Route } from '../../src/domain/routing.js';
import type { Actor, Application, Case } from '../../src/domain/types.js';
import * as wf from '../../src/domain/workflow.js';

const DAY = 86_400_000;
const addDays: wf.AddWorkingDays = (from, n) => ({ dueAt: Math.floor(from / DAY) * DAY + (n + 1) * DAY - 1, provisional: false });
const ctx = (now: number): wf.WorkflowContext => ({ now, addWorkingDays: addDays, rules: { reviewDays: 5, extensionDays: 3, licenceDays: 5, permitDays: 15 } });
const actor: Actor = { kind: 'user', id: 'reviewer', role: 'reviewer' };
const T0 = Date.UTC(2025, 0, 6, 2);

const dep = (id: string, type: string, level: Department['level'], divisionCode: string): Department => ({ id, name: id, type, level, divisionCode, adapter: 'fake', issuesPermit: true });
const DEPARTMENTS = [
  dep('xw-fire', 'fire', 'district', '320102'),
  dep('nj-fire', 'fire', 'city', '320100'),
  dep('js-fire', 'fire', 'province', '320000'),
  dep('xw-health', 'health', 'district', '320102'),
  dep('qh-environment', 'environment', 'district', '320104'),
];
const app = (scope: string[], divisionCode = '320102'): Application => ({
  enterpriseName: 'E', legalForm: 'limited_liability_company', registeredCapital: 2_000_000, industry: 'hotel', businessScope: scope,
  address: 'a', divisionCode, investors: [], contact: { name: 'n', phone: '1' },
});
const tables = (routes: Route[]) => ({
  scopeItems: { hotel: { name: 'hotel', requires: ['fire', 'health'] }, spa: { name: 'spa', requires: ['environment'] } },
  departments: DEPARTMENTS,
  routes,
});
const CHAIN: Route[] = [
  { filedIn: '320102', type: 'fire', department: 'xw-fire', then: ['nj-fire'] },
  { filedIn: '320102', type: 'health', department: 'xw-health' },
  // Cross-district: a case filed in Xuanwu can need the Qinhuai environment bureau.
  { filedIn: '320102', type: 'environment', department: 'qh-environment' },
];

function newCase(): Case {
  return {
    id: 'c1', reference: 'r1', status: 'submitted', application: app(['hotel']),
    createdAt: T0, updatedAt: T0, refusedRule: null, statusReason: null, licenceDueAt: null, licenceDueProvisional: false, licenceOverdueAt: null,
    licence: null, reviews: [], permits: [], version: 1,
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
const state = (c: Case) => Object.fromEntries(c.reviews.map((r) => [r.departmentId, r.state]));

/** Accepted with the chain xw-fire -> nj-fire and xw-health, everything first in line delivered at T0 + 1 s. */
function accepted(): Case {
  const chosen = resolveDepartments(app(['hotel']), tables(CHAIN)).map((d) => ({ id: d.id, level: d.level, issuesPermit: true, after: d.after }));
  const t = wf.accept(newCase(), chosen, ctx(T0), actor);
  expect(t.outgoing.map((o) => o.departmentId)).to.deep.equal(['xw-fire', 'xw-health']);
  let c = t.case;
  for (const d of ['xw-fire', 'xw-health']) c = wf.markDelivered(c, d, ctx(T0 + 1000), 'fake').case;
  return c;
}

describe('chained reviews', function () {
  it('routes a chain: the district department first, the city department after it; other levels and districts alongside', function () {
    const chosen = resolveDepartments(app(['hotel', 'spa']), tables(CHAIN));
    expect(chosen.map((d) => [d.id, d.level, d.after])).to.deep.equal([
      ['xw-fire', 'district', null],
      ['nj-fire', 'city', 'xw-fire'],
      ['xw-health', 'district', null],
      ['qh-environment', 'district', null],
    ]);
    // City-to-district: a case filed at the city (320100) reaches a district department through a city route.
    const city = resolveDepartments(app(['spa'], '320100'), tables([{ filedIn: '320100', type: 'environment', department: 'qh-environment' }]));
    expect(city.map((d) => d.id)).to.deep.equal(['qh-environment']);
  });

  it('notifies the later step only when the first approves, with the first opinion; the later step has the extension days', function () {
    let c = accepted();
    expect(state(c)).to.deep.equal({ 'xw-fire': 'delivered', 'nj-fire': 'waiting', 'xw-health': 'delivered' });
    expect(c.reviews.find((r) => r.departmentId === 'nj-fire')!.dueAt).to.equal(null);
    expect(code(() => wf.applyOpinion(c, 'nj-fire', 'approve', null, ctx(T0 + DAY), actor))).to.equal('CHAIN_STEP_NOT_OPEN');
    const t = wf.applyOpinion(c, 'xw-fire', 'approve', '消防设施合格', ctx(T0 + DAY), actor);
    expect(t.outgoing).to.have.length(1);
    expect(t.outgoing[0]).to.deep.include({ departmentId: 'nj-fire', kind: 'notification' });
    expect(t.outgoing[0]!.payload.previous).to.deep.equal({ departmentId: 'xw-fire', decision: 'approve', reasons: '消防设施合格', answeredBy: 'reviewer' });
    expect(t.events.map((e) => e.action)).to.deep.equal(['review.approved', 'review.requested']);
    c = t.case;
    expect(c.status).to.equal('in_review');
    c = wf.markDelivered(c, 'nj-fire', ctx(T0 + 2 * DAY), 'fake').case;
    expect(c.reviews.find((r) => r.departmentId === 'nj-fire')!.dueAt).to.equal(addDays(T0 + 2 * DAY, 3).dueAt);
    c = wf.applyOpinion(c, 'xw-health', 'approve', null, ctx(T0 + 2 * DAY), actor).case;
    expect(c.status).to.equal('in_review');
    c = wf.applyOpinion(c, 'nj-fire', 'approve', null, ctx(T0 + 3 * DAY), actor).case;
    expect(c.status).to.equal('awaiting_licence');
  });

  it('silence at the first step is deemed approval and passes the case up; silence at the top is deemed approval too', function () {
    let c = accepted();
    const firstDue = c.reviews.find((r) => r.departmentId === 'xw-fire')!.dueAt!;
    const t = wf.deadlinePassed(c, 'xw-fire', ctx(firstDue));
    expect(t.outgoing.map((o) => [o.departmentId, o.payload.previous])).to.deep.equal([['nj-fire', { departmentId: 'xw-fire', decision: 'deemed_approved', reasons: null, answeredBy: null }]]);
    c = wf.markDelivered(t.case, 'nj-fire', ctx(firstDue + 1000), 'fake').case;
    c = wf.applyOpinion(c, 'xw-health', 'approve', null, ctx(firstDue + 1000), actor).case;
    const topDue = c.reviews.find((r) => r.departmentId === 'nj-fire')!.dueAt!;
    expect(wf.deadlinePassed(c, 'nj-fire', ctx(topDue - 1)).events).to.have.length(0);
    c = wf.deadlinePassed(c, 'nj-fire', ctx(topDue)).case;
    expect(state(c)['nj-fire']).to.equal('deemed_approved');
    expect(c.status).to.equal('awaiting_licence');
  });

  it('a refusal at either step terminates the case; a step never notified is cancelled without a message', function () {
    const first = wf.applyOpinion(accepted(), 'xw-fire', 'refuse', '不合格', ctx(T0 + DAY), actor);
    expect(first.case.status).to.equal('terminated');
    expect(state(first.case)).to.deep.equal({ 'xw-fire': 'refused', 'nj-fire': 'cancelled', 'xw-health': 'cancelled' });
    expect(first.outgoing.map((o) => [o.departmentId, o.kind])).to.deep.equal([['xw-health', 'cancellation']]);
    let c = wf.applyOpinion(accepted(), 'xw-fire', 'approve', null, ctx(T0 + DAY), actor).case;
    c = wf.markDelivered(c, 'nj-fire', ctx(T0 + DAY), 'fake').case;
    const top = wf.applyOpinion(c, 'nj-fire', 'refuse', '上级不同意', ctx(T0 + 2 * DAY), actor);
    expect(top.case.status).to.equal('terminated');
    expect(state(top.case)).to.deep.equal({ 'xw-fire': 'approved', 'nj-fire': 'refused', 'xw-health': 'cancelled' });
  });

  it('a chained step cannot be extended: the chain already includes the superior review', function () {
    let c = accepted();
    expect(code(() => wf.applyOpinion(c, 'xw-fire', 'extend', null, ctx(T0 + DAY), actor))).to.equal('EXTENSION_NOT_ALLOWED');
    // A review outside the chain still can.
    expect(wf.applyOpinion(c, 'xw-health', 'extend', null, ctx(T0 + DAY), actor).case.reviews.find((r) => r.departmentId === 'xw-health')!.state).to.equal('extended');
    c = wf.applyOpinion(c, 'xw-fire', 'approve', null, ctx(T0 + DAY), actor).case;
    c = wf.markDelivered(c, 'nj-fire', ctx(T0 + DAY), 'fake').case;
    expect(code(() => wf.applyOpinion(c, 'nj-fire', 'extend', null, ctx(T0 + DAY), actor))).to.equal('EXTENSION_NOT_ALLOWED');
  });

  it('terminating the case cancels a waiting step without telling its department', function () {
    const t = wf.terminate(accepted(), 'applicant withdrew', ctx(T0 + DAY), actor);
    expect(state(t.case)).to.deep.equal({ 'xw-fire': 'cancelled', 'nj-fire': 'cancelled', 'xw-health': 'cancelled' });
    expect(t.outgoing.map((o) => o.departmentId)).to.deep.equal(['xw-fire', 'xw-health']);
  });

  it('finds a bad chain: an unknown department, a department twice, a step down in level or to another type, a cycle across routes', function () {
    expect(chainProblem(CHAIN[0]!, DEPARTMENTS)).to.equal(null);
    expect(chainProblem({ filedIn: '320102', type: 'fire', department: 'xw-fire', then: ['nj-fire', 'js-fire'] }, DEPARTMENTS)).to.equal(null);
    expect(chainProblem({ filedIn: '320102', type: 'fire', department: 'xw-fire', then: ['zz-fire'] }, DEPARTMENTS)).to.deep.equal([1, 'no department zz-fire']);
    expect(chainProblem({ filedIn: '320102', type: 'fire', department: 'xw-fire', then: ['nj-fire', 'xw-fire'] }, DEPARTMENTS)![1]).to.match(/twice/);
    expect(chainProblem({ filedIn: '320102', type: 'fire', department: 'nj-fire', then: ['xw-fire'] }, DEPARTMENTS)![1]).to.match(/reports up/);
    expect(chainProblem({ filedIn: '320102', type: 'fire', department: 'xw-fire', then: ['xw-health'] }, DEPARTMENTS)![1]).to.match(/of type health/);
    expect(chainCycle(CHAIN)).to.equal(null);
    expect(chainCycle([
      { filedIn: '320102', type: 'fire', department: 'xw-fire', then: ['xw-health'] },
      { filedIn: '320104', type: 'health', department: 'xw-health', then: ['xw-fire'] },
    ])).to.deep.equal(['xw-fire', 'xw-health', 'xw-fire']);
  });
});
