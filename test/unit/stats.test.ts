// Statistics arithmetic: summaries against a plain sort of the expanded values over generated cases, rates, filters and CSV.
import { expect } from 'chai';
import { GatewayError } from '../../src/domain/errors.js';
import { csvField, HOUR_MS, parseFilter, rates, summarise, sumCounts, toCsv, type Histogram } from '../../src/domain/stats.js';

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

/** The oracle: every value written out and sorted. */
function expanded(h: Histogram): number[] {
  return h.flatMap(([v, n]) => Array.from({ length: Math.max(n, 0) }, () => v)).sort((a, b) => a - b);
}

function randomHistogram(r: () => number): [number, number][] {
  const rows: [number, number][] = [];
  const distinct = int(r, 0, 12);
  // Few distinct values, repeated, and sometimes the same value on two rows: as GROUP BY over several columns gives.
  for (let i = 0; i < distinct; i++) rows.push([int(r, 0, 20) * int(r, 1, 3) * 1_800_000 + int(r, 0, 1) * int(r, 0, 999), int(r, 0, 6)]);
  if (rows.length && r() < 0.3) rows.push([rows[0]![0], int(r, 1, 3)]);
  return rows;
}

describe('statistics arithmetic', function () {
  it('summarises like a sort of the expanded values (2,000 generated histograms)', function () {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = prng(seed);
      const h = randomHistogram(r);
      const xs = expanded(h);
      const s = summarise(h);
      expect(s.count, `seed ${seed}`).to.equal(xs.length);
      if (xs.length === 0) {
        expect(s, `seed ${seed}`).to.deep.equal({ count: 0, meanHours: null, medianHours: null, p90Hours: null });
        continue;
      }
      const n = xs.length;
      const median = n % 2 ? xs[(n - 1) / 2]! : (xs[n / 2 - 1]! + xs[n / 2]!) / 2;
      expect(s.medianHours, `seed ${seed}`).to.equal(median / HOUR_MS);
      expect(s.p90Hours, `seed ${seed}`).to.equal(xs[Math.ceil(0.9 * n) - 1]! / HOUR_MS);
      expect(s.meanHours!, `seed ${seed}`).to.be.closeTo(xs.reduce((a, b) => a + b, 0) / n / HOUR_MS, 1e-9);
      // Properties that hold for any data: ordered figures within the range, and order of rows irrelevant.
      expect(s.medianHours!).to.be.at.most(s.p90Hours!);
      expect(s.p90Hours!).to.be.at.most(xs[n - 1]! / HOUR_MS);
      expect(s.meanHours!).to.be.within(xs[0]! / HOUR_MS - 1e-9, xs[n - 1]! / HOUR_MS + 1e-9);
      expect(summarise([...h].reverse()), `seed ${seed}`).to.deep.equal(s);
    }
  });

  it('takes the nearest rank for p90 and averages the middle pair for the median', function () {
    const h: Histogram = Array.from({ length: 10 }, (_, i) => [(i + 1) * HOUR_MS, 1] as const);
    expect(summarise(h)).to.deep.equal({ count: 10, meanHours: 5.5, medianHours: 5.5, p90Hours: 9 });
    expect(summarise([[HOUR_MS, 1]])).to.deep.equal({ count: 1, meanHours: 1, medianHours: 1, p90Hours: 1 });
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
