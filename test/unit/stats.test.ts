// Statistics arithmetic: summaries against a plain sort of the expanded values over generated cases, rates, filters and CSV.
import { expect } from 'chai';
import { GatewayError } from '../../src/domain/errors.js';
import { csvField, dayOf, histogramOf, HOUR_MS, monthOf, parseFilter, rates, summarise, sumCounts, toCsv, rollupPeriod } from '../../src/domain/stats.js';

/** A small seeded PRNG (mulberry32), so a failing generated case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** Durations in ms: few distinct hours, repeated, some within the same hour, some exactly on an hour. */
function randomDurations(r: () => number): number[] {
  const xs: number[] = [];
  const distinct = int(r, 0, 12);
  for (let i = 0; i < distinct; i++) {
    const base = int(r, 0, 20) * int(r, 1, 3) * 1_800_000 + int(r, 0, 1) * int(r, 0, 999);
    for (let k = int(r, 0, 6); k > 0; k--) xs.push(base + (r() < 0.3 ? int(r, 0, 3_599_999) : 0));
  }
  return xs;
}

/** A histogram of the durations as a store may return it: the buckets in any order, some split over two rows. */
function rowsOf(xs: number[], r: () => number): [number, number, number][] {
  const rows: [number, number, number][] = [];
  for (const b of histogramOf(xs)) {
    if (b[1] >= 2 && r() < 0.3) rows.push([b[0], 1, 0], [b[0], b[1] - 1, b[2]]);
    else rows.push(b);
  }
  return rows.sort(() => r() - 0.5);
}

describe('statistics arithmetic', function () {
  it('summarises like a sort of the expanded values: mean exact, median and p90 in whole hours (2,000 generated sets)', function () {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = prng(seed);
      const xs = randomDurations(r);
      const h = rowsOf(xs, r);
      const s = summarise(h);
      expect(s.count, `seed ${seed}`).to.equal(xs.length);
      if (xs.length === 0) {
        expect(s, `seed ${seed}`).to.deep.equal({ count: 0, meanHours: null, medianHours: null, p90Hours: null });
        continue;
      }
      const n = xs.length;
      const hs = xs.map((x) => Math.floor(x / HOUR_MS)).sort((a, b) => a - b);
      const median = n % 2 ? hs[(n - 1) / 2]! : (hs[n / 2 - 1]! + hs[n / 2]!) / 2;
      expect(s.medianHours, `seed ${seed}`).to.equal(median);
      expect(s.p90Hours, `seed ${seed}`).to.equal(hs[Math.ceil(0.9 * n) - 1]!);
      expect(s.meanHours!, `seed ${seed}`).to.be.closeTo(xs.reduce((a, b) => a + b, 0) / n / HOUR_MS, 1e-9);
      // Properties that hold for any data: ordered figures within the range, and order of rows irrelevant.
      expect(s.medianHours!).to.be.at.most(s.p90Hours!);
      expect(s.p90Hours!).to.be.at.most(hs[n - 1]!);
      expect(s.meanHours!).to.be.within(Math.min(...xs) / HOUR_MS - 1e-9, Math.max(...xs) / HOUR_MS + 1e-9);
      expect(summarise([...h].reverse()), `seed ${seed}`).to.deep.equal(s);
    }
  });

  it('takes the nearest rank for p90 and averages the middle pair for the median', function () {
    const h = histogramOf(Array.from({ length: 10 }, (_, i) => (i + 1) * HOUR_MS + 1800_000));
    expect(summarise(h)).to.deep.equal({ count: 10, meanHours: 6, medianHours: 5.5, p90Hours: 9 });
    expect(summarise(histogramOf([HOUR_MS]))).to.deep.equal({ count: 1, meanHours: 1, medianHours: 1, p90Hours: 1 });
    expect(summarise(histogramOf([-1]))).to.deep.equal({ count: 1, meanHours: -1 / HOUR_MS, medianHours: -1, p90Hours: -1 });
  });

  it('reads a period as whole months, the whole days at its ends, and the parts of days beyond those', function () {
    const known = () => true;
    const period = (q: Record<string, string>) => rollupPeriod(parseFilter(q, known));
    const at = (iso: string) => Date.parse(iso);
    expect(period({})).to.deep.equal({ months: { from: null, to: null }, days: [], instants: [] });
    expect(period({ from: '2025-11-01', to: '2025-12-31' })).to.deep.equal({ months: { from: '2025-11', to: '2026-01' }, days: [], instants: [] });
    expect(period({ to: '2025-11-30' })).to.deep.equal({ months: { from: null, to: '2025-12' }, days: [], instants: [] });
    expect(period({ from: '2025-11-02' })).to.deep.equal({ months: { from: '2025-12', to: null }, days: [{ from: '2025-11-02', to: '2025-12-01' }], instants: [] });
    expect(period({ to: '2025-11-29' })).to.deep.equal({ months: { from: null, to: '2025-11' }, days: [{ from: '2025-11-01', to: '2025-11-30' }], instants: [] });
    expect(period({ from: '2025-11-15', to: '2026-02-10' })).to.deep.equal({
      months: { from: '2025-12', to: '2026-02' },
      days: [{ from: '2025-11-15', to: '2025-12-01' }, { from: '2026-02-01', to: '2026-02-11' }],
      instants: [],
    });
    // Within one month, or across two with no whole month between: days only.
    expect(period({ from: '2025-11-10', to: '2025-11-24' })).to.deep.equal({ months: null, days: [{ from: '2025-11-10', to: '2025-11-25' }], instants: [] });
    expect(period({ from: '2025-11-15', to: '2025-12-10' })).to.deep.equal({ months: null, days: [{ from: '2025-11-15', to: '2025-12-11' }], instants: [] });
    expect(period({ from: '2025-11-01T00:00:00+08:00' })).to.deep.equal({ months: { from: '2025-11', to: null }, days: [], instants: [] });
    // Instants inside a day: the rest of that day (or the start of it) is counted from the cases.
    expect(period({ from: '2025-11-01T00:00:00Z', to: '2025-12-03T11:30:00+08:00' })).to.deep.equal({
      months: null,
      days: [{ from: '2025-11-02', to: '2025-12-03' }],
      instants: [{ from: at('2025-11-01T00:00:00Z'), to: at('2025-11-01T16:00:00Z') }, { from: at('2025-12-02T16:00:00Z'), to: at('2025-12-03T03:30:00Z') }],
    });
    expect(period({ from: '2025-11-03T09:00:00+08:00', to: '2025-11-03T17:00:00+08:00' })).to.deep.equal({
      months: null, days: [], instants: [{ from: at('2025-11-03T01:00:00Z'), to: at('2025-11-03T09:00:00Z') }],
    });
    expect(period({ from: '2025-11-03T09:00:00+08:00', to: '2025-11-04T08:00:00+08:00' })).to.deep.equal({
      months: null, days: [], instants: [{ from: at('2025-11-03T01:00:00Z'), to: at('2025-11-03T16:00:00Z') }, { from: at('2025-11-03T16:00:00Z'), to: at('2025-11-04T00:00:00Z') }],
    });
    expect(monthOf(Date.parse('2025-10-31T16:00:00Z'))).to.equal('2025-11');
    expect(monthOf(Date.parse('2025-10-31T15:59:59.999Z'))).to.equal('2025-10');
    expect(dayOf(Date.parse('2025-10-31T16:00:00Z'))).to.equal('2025-11-01');
  });

  it('covers every instant of a generated period exactly once, by its months, days and parts of days, and none outside it', function () {
    const MIN = 60_000;
    for (let seed = 1; seed <= 400; seed++) {
      const r = prng(seed);
      // Whole days most of the time, any minute otherwise.
      const start = Date.parse('2024-11-30T16:00:00Z') + int(r, 0, 500) * 24 * HOUR_MS + (r() < 0.5 ? int(r, 0, 24 * 60 - 1) * MIN : 0);
      const end = start + int(r, 1, 120 * 24 * 60) * MIN;
      const from = r() < 0.1 ? null : start;
      const to = r() < 0.1 ? null : end;
      const p = rollupPeriod({ from, to });
      // Probes where coverage changes hands: each day's start in Shanghai and the instant before it, the ends of the
      // period and either side of them, and random instants.
      const probes = [start - 1, start, start + 1, end - 1, end, end + 1];
      for (let d = Date.parse(`${dayOf(start - 3 * 24 * HOUR_MS)}T00:00:00Z`) - 8 * HOUR_MS; d < end + 3 * 24 * HOUR_MS; d += 24 * HOUR_MS) probes.push(d - 1, d);
      for (let k = 0; k < 50; k++) probes.push(start - 2 * 24 * HOUR_MS + Math.floor(r() * (end - start + 4 * 24 * HOUR_MS)));
      for (const x of probes) {
        const day = dayOf(x);
        const byMonth = p.months !== null && (p.months.from === null || day.slice(0, 7) >= p.months.from) && (p.months.to === null || day.slice(0, 7) < p.months.to);
        const byDay = p.days.filter((d) => day >= d.from && day < d.to).length;
        const byInstant = p.instants.filter((i) => x >= i.from && x < i.to).length;
        const inside = (from === null || x >= from) && (to === null || x < to);
        expect(Number(byMonth) + byDay + byInstant, `seed ${seed} at ${new Date(x).toISOString()}`).to.equal(inside ? 1 : 0);
      }
    }
  });

  it('derives rates from counts, null where nothing was decided or sent, and adds counts (generated)', function () {
    expect(rates({ decided: 0, deemedApproved: 0, refused: 0, extended: 0, notifications: 0, failedDeliveries: 0 })).to.include({ deemedApprovalRate: null, deliveryFailureRate: null });
    for (let seed = 1; seed <= 500; seed++) {
      const r = prng(seed);
      const parts = Array.from({ length: int(r, 1, 5) }, () => {
        const decided = int(r, 0, 50);
        const deemed = int(r, 0, decided);
        const refused = int(r, 0, decided - deemed);
        const notifications = int(r, 0, 60);
        return { decided, deemedApproved: deemed, refused, extended: int(r, 0, decided), notifications, failedDeliveries: int(r, 0, notifications) };
      });
      const total = sumCounts(parts);
      expect(total.decided).to.equal(parts.reduce((a, p) => a + p.decided, 0));
      const x = rates(total);
      for (const k of ['deemedApprovalRate', 'refusalRate', 'extensionRate', 'deliveryFailureRate'] as const) if (x[k] !== null) expect(x[k]).to.be.within(0, 1);
      if (total.decided > 0) expect(x.deemedApprovalRate! + x.refusalRate!).to.be.at.most(1 + 1e-12);
    }
  });

  it('reads filters, taking a bare date as that day in Shanghai and refusing bad ones with their field', function () {
    const known = (id: string) => id === 'xw-health';
    expect(parseFilter({ from: '2025-11-01', to: '2025-11-30', department: 'xw-health', district: '3201' }, known)).to.deep.equal({
      from: Date.parse('2025-10-31T16:00:00Z'),
      to: Date.parse('2025-11-30T16:00:00Z'),
      departmentId: 'xw-health',
      district: '3201',
    });
    expect(parseFilter({}, known)).to.deep.equal({ from: null, to: null, departmentId: null, district: null });
    expect(parseFilter({ from: '2025-11-01T00:00:00+08:00' }, known).from).to.equal(Date.parse('2025-10-31T16:00:00Z'));
    const refused = (q: Record<string, unknown>) => {
      try {
        parseFilter(q, known);
      } catch (e) {
        return [(e as GatewayError).code, (e as GatewayError).details.field ?? (e as GatewayError).details.departmentId, (e as GatewayError).status];
      }
      return null;
    };
    expect(refused({ from: '2025-02-30' })).to.deep.equal(['INVALID_STATS_FILTER', 'from', 422]);
    expect(refused({ to: 'yesterday' })).to.deep.equal(['INVALID_STATS_FILTER', 'to', 422]);
    expect(refused({ from: '2025-11-02', to: '2025-11-01' })).to.deep.equal(['INVALID_STATS_FILTER', 'to', 422]);
    expect(refused({ from: ['2025-11-01', '2025-11-02'] })).to.deep.equal(['INVALID_STATS_FILTER', 'from', 422]);
    expect(refused({ district: '32a' })).to.deep.equal(['INVALID_STATS_FILTER', 'district', 422]);
    expect(refused({ department: 'nobody' })).to.deep.equal(['UNKNOWN_DEPARTMENT', 'nobody', 422]);
  });

  it('writes CSV with a header and quoted fields', function () {
    expect(csvField('a,"b"')).to.equal('"a,""b"""');
    expect(csvField(null)).to.equal('');
    expect(toCsv([['cases', 'industry', 'catering, retail', 'count', 2]])).to.equal('section,group,key,metric,value\r\ncases,industry,"catering, retail",count,2\r\n');
  });
});
