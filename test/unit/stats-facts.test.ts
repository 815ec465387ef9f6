// A case's statistics profile and rollup entries: one worked case, and generated histories whose deltas add up to the final state.
import { expect } from 'chai';
import fc from 'fast-check';
import { ALL, delta, entriesOf, entryKey, profileOf, prune, rollupKeyOf, type CaseSource, type Entries, type RollupKey } from '../../src/domain/stats-facts.js';
import { HOUR_MS } from '../../src/domain/stats.js';

const T0 = Date.parse('2025-10-31T17:00:00Z'); // 1 November, 01:00 in Shanghai

function source(over: Partial<CaseSource> = {}): CaseSource {
  return {
    id: 'c1', createdAt: T0, divisionCode: '320102', industry: 'catering', status: 'licensed', licenceIssuedAt: T0 + 50 * HOUR_MS,
    reviews: [
      { departmentId: 'fire', level: 'district', state: 'approved', extended: false, deliveredAt: T0 + HOUR_MS, decidedAt: T0 + 3.5 * HOUR_MS },
      { departmentId: 'health', level: 'city', state: 'deemed_approved', extended: true, deliveredAt: T0 + HOUR_MS, decidedAt: T0 + 40 * HOUR_MS },
    ],
    permits: [{ departmentId: 'fire', reportedAt: T0 + 74 * HOUR_MS }, { departmentId: 'health', reportedAt: null }],
    notifications: [{ departmentId: 'fire', failed: false }, { departmentId: 'health', failed: true }],
    accepted: [T0 + 0.5 * HOUR_MS],
    awaitingLicence: [T0 + 40 * HOUR_MS],
    inspections: [{ departmentId: 'fire', state: 'passed' }],
    ...over,
  };
}

const plain = (e: Entries) => Object.fromEntries([...e].filter(([, [n, s]]) => n !== 0 || s !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));

describe('statistics profile and rollup entries', function () {
  it('counts a case under its month in Shanghai, under all departments and each of its own for case-level figures, and under its own department otherwise', function () {
    const e = plain(entriesOf(profileOf(source())));
    // Every entry twice: under the month and under the day of submission (Shanghai), alike.
    const key = (metric: string, month: string, division: string, department: string, k1: string, k2: string, hour: number) => entryKey([metric, 'm', month, division, department, k1, k2, hour]);
    for (const k of Object.keys(e)) {
      const [metric, grain, period, ...rest] = rollupKeyOf(k);
      if (grain === 'm') expect(e[entryKey([metric, 'd', '2025-11-01', ...rest])], k).to.deep.equal(e[k]);
      else expect(period).to.equal('2025-11-01');
    }
    const m = '2025-11';
    for (const d of [ALL, 'fire', 'health']) {
      expect(e[key('case', m, '320102', d, 'licensed', 'catering', 0)], d).to.deep.equal([1, 0]);
      expect(e[key('level', m, '320102', d, 'district', '', 0)], d).to.deep.equal([1, 0]);
      expect(e[key('level', m, '320102', d, 'city', '', 0)], d).to.deep.equal([1, 0]);
      expect(e[key('proc_time', m, '320102', d, 'acceptance', '', 0)], d).to.deep.equal([1, 0.5 * HOUR_MS]);
      expect(e[key('proc_time', m, '320102', d, 'review', '', 39)], d).to.deep.equal([1, 39.5 * HOUR_MS]);
      expect(e[key('proc_time', m, '320102', d, 'licence', '', 10)], d).to.deep.equal([1, 10 * HOUR_MS]);
    }
    expect(e[key('review', m, '320102', 'fire', 'approved', '0', 0)]).to.deep.equal([1, 0]);
    expect(e[key('review', m, '320102', 'health', 'deemed_approved', '1', 0)]).to.deep.equal([1, 0]);
    // Deemed approvals have no decision time; the approval took 2.5 hours: bucket 2, its exact milliseconds kept.
    expect(e[key('review_time', m, '320102', 'fire', '', '', 2)]).to.deep.equal([1, 2.5 * HOUR_MS]);
    expect(Object.keys(e).filter((k) => rollupKeyOf(k)[0] === 'review_time')).to.have.length(2);
    expect(e[key('permit_time', m, '320102', 'fire', '', '', 24)]).to.deep.equal([1, 24 * HOUR_MS]);
    expect(e[key('notification', m, '320102', 'health', '1', '', 0)]).to.deep.equal([1, 0]);
    expect(e[key('notification', m, '320102', 'fire', '0', '', 0)]).to.deep.equal([1, 0]);
    expect(e[key('inspection', m, '320102', 'fire', 'passed', '', 0)]).to.deep.equal([1, 0]);
    expect(Object.keys(e)).to.have.length(2 * (3 * 6 + 2 + 1 + 1 + 2 + 1));
  });

  it('a case not yet accepted counts under all departments only, with no durations', function () {
    const e = plain(entriesOf(profileOf(source({ status: 'submitted', licenceIssuedAt: null, reviews: [], permits: [], notifications: [], accepted: [], awaitingLicence: [], inspections: [] }))));
    expect(Object.keys(e).map(rollupKeyOf)).to.have.deep.members([
      ['case', 'm', '2025-11', '320102', ALL, 'submitted', 'catering', 0],
      ['case', 'd', '2025-11-01', '320102', ALL, 'submitted', 'catering', 0],
    ]);
  });

  it('adds up, over generated histories of many cases, to the entries of the cases as they end (deltas are exact and order-free)', function () {
    const review = fc.record({
      departmentId: fc.constantFrom('fire', 'health', 'police'),
      level: fc.constantFrom('district', 'city'),
      state: fc.constantFrom('pending_delivery', 'delivered', 'approved', 'refused', 'deemed_approved', 'cancelled'),
      extended: fc.boolean(),
      deliveredAt: fc.option(fc.integer({ min: 0, max: 400 * HOUR_MS }).map((x) => T0 + x)),
      decidedAt: fc.option(fc.integer({ min: 0, max: 400 * HOUR_MS }).map((x) => T0 + x)),
    });
    const version = (id: string) =>
      fc.record({
        id: fc.constant(id),
        createdAt: fc.integer({ min: -40 * 24 * HOUR_MS, max: 40 * 24 * HOUR_MS }).map((x) => T0 + x),
        divisionCode: fc.constantFrom('320102', '320104'),
        industry: fc.constantFrom('catering', 'retail'),
        status: fc.constantFrom('submitted', 'in_review', 'awaiting_licence', 'licensed', 'refused'),
        licenceIssuedAt: fc.option(fc.integer({ min: 0, max: 400 * HOUR_MS }).map((x) => T0 + x)),
        reviews: fc.uniqueArray(review, { maxLength: 3, selector: (r) => r.departmentId }),
        permits: fc.array(fc.record({ departmentId: fc.constantFrom('fire', 'health'), reportedAt: fc.option(fc.integer({ min: 0, max: 500 * HOUR_MS }).map((x) => T0 + x)) }), { maxLength: 2 }),
        notifications: fc.array(fc.record({ departmentId: fc.constantFrom('fire', 'health'), failed: fc.boolean() }), { maxLength: 3 }),
        accepted: fc.array(fc.integer({ min: 0, max: 50 * HOUR_MS }).map((x) => T0 + x), { maxLength: 2 }),
        awaitingLicence: fc.array(fc.integer({ min: 0, max: 300 * HOUR_MS }).map((x) => T0 + x), { maxLength: 2 }),
        inspections: fc.array(fc.record({ departmentId: fc.constantFrom('fire', 'health'), state: fc.constantFrom('planned', 'passed', 'revoked') }), { maxLength: 2 }),
      });
    // Each case goes through up to four versions; the projection sees some of them, in any interleaving of cases.
    const histories = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd')).chain(([id]) => fc.array(version(id), { minLength: 1, maxLength: 4 })), { maxLength: 6 });
    fc.assert(
      fc.property(histories, fc.boolean(), (hs, dropLast) => {
        const rollup: Entries = new Map();
        const kept = new Map<string, ReturnType<typeof profileOf> | null>();
        const finals = new Map<string, CaseSource | null>();
        for (const h of hs) {
          for (const v of h) {
            const after = dropLast && v === h[h.length - 1] ? null : profileOf(v);
            for (const [k, [n, s]] of delta(kept.get(v.id) ?? null, after)) {
              const cur = rollup.get(k) ?? [0, 0];
              rollup.set(k, [cur[0] + n, cur[1] + s]);
            }
            kept.set(v.id, after);
            finals.set(v.id, after ? v : null);
          }
        }
        const want: Entries = new Map();
        for (const v of finals.values()) if (v) entriesOf(profileOf(v), want);
        expect(plain(rollup)).to.deep.equal(plain(want));
        for (const [, [n]] of rollup) expect(n).to.be.at.least(0);
      }),
      { numRuns: 300, seed: 20261129 },
    );
  });

  it('a recomputation that finds the case unchanged adds nothing', function () {
    const p = profileOf(source());
    expect(prune(delta(p, p)).size).to.equal(0);
    expect(prune(delta(p, profileOf(source({ status: 'operating' })))).size).to.equal(12);
  });

  it('reads back every entry key it writes, whatever text an industry holds (generated)', function () {
    const key = fc.tuple(
      fc.constantFrom('case', 'review_time'),
      fc.constantFrom<'m' | 'd'>('m', 'd'),
      fc.constantFrom('2025-11', '2025-11-01'),
      fc.constantFrom('320102', '320100'),
      fc.constantFrom(ALL, 'xw-fire'),
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.integer({ min: -1000, max: 100_000 }),
    );
    fc.assert(
      fc.property(key, (k) => {
        expect(rollupKeyOf(entryKey(k as RollupKey))).to.deep.equal(k);
      }),
    );
  });
});
