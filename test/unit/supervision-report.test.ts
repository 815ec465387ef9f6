// Unit tests of the period supervision report (pure): which reviews, deliveries, complaints and permits count, and where.
import { expect } from 'chai';
import fc from 'fast-check';
import { periodReport, type ComplaintFact, type PermitFact, type ReviewFact } from '../../src/domain/supervision-report.js';

const DAY = 86_400_000;
const FROM = Date.UTC(2025, 10, 1);
const TO = FROM + 30 * DAY;
const NOW = TO + 5 * DAY;
const rv = (over: Partial<ReviewFact>): ReviewFact => ({ departmentId: 'a', state: 'approved', deliveredAt: FROM + DAY, dueAt: FROM + 6 * DAY, decidedAt: FROM + 3 * DAY, extended: false, ...over });
const none = { reviews: [] as ReviewFact[], failedDeliveries: [], complaints: [] as ComplaintFact[], permits: [] as PermitFact[] };

describe('period supervision report (pure)', function () {
  it('counts reviews decided in the period or due in it and still open, per department and in total', function () {
    const r = periodReport({ from: FROM, to: TO, now: NOW }, {
      ...none,
      reviews: [
        rv({}),
        rv({ state: 'refused', decidedAt: FROM + 2 * DAY }),
        rv({ state: 'approved', extended: true, dueAt: FROM + 9 * DAY, decidedAt: FROM + 8 * DAY }),
        rv({ departmentId: 'b', state: 'deemed_approved', decidedAt: FROM + 7 * DAY }),
        rv({ departmentId: 'b', state: 'delivered', decidedAt: null, dueAt: FROM + 10 * DAY }),
        // Outside the period: decided before it, due after it, or never delivered nor due.
        rv({ decidedAt: FROM - DAY }),
        rv({ state: 'delivered', decidedAt: null, dueAt: TO }),
        rv({ state: 'cancelled', decidedAt: null, dueAt: FROM + DAY }),
        rv({ state: 'waiting', deliveredAt: null, dueAt: null, decidedAt: null }),
      ],
    });
    expect(r.departments.a!.reviews).to.deep.equal({ considered: 3, delivered: 3, decidedOnTime: 3, approved: 2, refused: 1, deemedApproved: 0, extended: 1, open: 0, meanDaysToDecide: 3.33 });
    expect(r.departments.b!.reviews).to.include({ considered: 2, deemedApproved: 1, open: 1, decidedOnTime: 0, meanDaysToDecide: null });
    expect(r.totals.reviews).to.include({ considered: 5, deemedApproved: 1, refused: 1, open: 1, meanDaysToDecide: 3.33 });
  });

  it('counts failed deliveries, complaints received, resolved and overdue, and permits reported late; filters by department', function () {
    const facts = {
      reviews: [],
      failedDeliveries: [{ departmentId: 'a', sentAt: FROM + DAY }, { departmentId: 'a', sentAt: TO + DAY }, { departmentId: 'b', sentAt: FROM }],
      complaints: [
        { departmentId: 'a', state: 'resolved', filedAt: FROM + DAY, dueAt: FROM + 6 * DAY, answeredLate: false, resolvedAt: FROM + 3 * DAY },
        { departmentId: 'a', state: 'open', filedAt: FROM + 2 * DAY, dueAt: FROM + 7 * DAY, answeredLate: false, resolvedAt: null },
        { departmentId: 'a', state: 'answered', filedAt: FROM + 2 * DAY, dueAt: FROM + 7 * DAY, answeredLate: true, resolvedAt: null },
        { departmentId: 'a', state: 'open', filedAt: TO - DAY, dueAt: NOW + DAY, answeredLate: false, resolvedAt: null },
        // Filed before the period, resolved in it.
        { departmentId: 'bureau', state: 'resolved', filedAt: FROM - 9 * DAY, dueAt: FROM - 2 * DAY, answeredLate: false, resolvedAt: FROM + DAY },
      ] as ComplaintFact[],
      permits: [{ departmentId: 'b', dueAt: FROM + DAY, reportedAt: FROM + 2 * DAY }, { departmentId: 'b', dueAt: FROM + 3 * DAY, reportedAt: FROM + 2 * DAY }],
    };
    const r = periodReport({ from: FROM, to: TO, now: NOW }, facts);
    expect(r.departments.a).to.deep.include({ failedDeliveries: 1, complaints: { received: 4, resolved: 1, overdue: 2 }, permitsReportedLate: 0 });
    expect(r.departments.bureau!.complaints).to.deep.equal({ received: 0, resolved: 1, overdue: 0 });
    expect(r.departments.b).to.deep.include({ failedDeliveries: 1, permitsReportedLate: 1 });
    expect(r.totals).to.deep.include({ failedDeliveries: 2, complaints: { received: 4, resolved: 2, overdue: 2 }, permitsReportedLate: 1 });
    const onlyB = periodReport({ from: FROM, to: TO, now: NOW, departmentId: 'b' }, facts);
    expect(Object.keys(onlyB.departments)).to.deep.equal(['b']);
    expect(onlyB.totals.failedDeliveries).to.equal(1);
    // A department asked for by name is listed even with nothing to count.
    expect(periodReport({ from: FROM, to: TO, now: NOW, departmentId: 'z' }, facts).departments.z!.reviews.considered).to.equal(0);
  });

  it('property: the totals are the sums of the departments, and splitting the period splits the counts', function () {
    const states = ['approved', 'refused', 'deemed_approved', 'delivered', 'extended', 'cancelled'] as const;
    const review = fc.record({
      departmentId: fc.constantFrom('a', 'b', 'c'),
      state: fc.constantFrom(...states),
      deliveredAt: fc.integer({ min: FROM - 5 * DAY, max: TO }),
      dueAt: fc.integer({ min: FROM - 5 * DAY, max: TO + 5 * DAY }),
      decidedAt: fc.option(fc.integer({ min: FROM - 5 * DAY, max: TO + 5 * DAY }), { nil: null }),
      extended: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(review, { maxLength: 40 }), fc.integer({ min: FROM, max: TO }), (reviews, mid) => {
        const whole = periodReport({ from: FROM, to: TO, now: NOW }, { ...none, reviews });
        const sum = (k: 'considered' | 'approved' | 'deemedApproved' | 'open') => Object.values(whole.departments).reduce((n, d) => n + d.reviews[k], 0);
        for (const k of ['considered', 'approved', 'deemedApproved', 'open'] as const) expect(whole.totals.reviews[k]).to.equal(sum(k));
        const left = periodReport({ from: FROM, to: mid, now: NOW }, { ...none, reviews });
        const right = periodReport({ from: mid, to: TO, now: NOW }, { ...none, reviews });
        expect(left.totals.reviews.considered + right.totals.reviews.considered).to.equal(whole.totals.reviews.considered);
      }),
      { numRuns: 200 },
    );
  });
});
