// Statistics arithmetic: durations summarised from value histograms (mean, median, p90), rates, filters and CSV rows. Pure.
import { fail } from './errors.js';

/**
 * Durations grouped by the whole hours they lasted (rounded down): each bucket with how many durations fell in it and
 * their exact sum in milliseconds. Why buckets: a million durations in milliseconds are a million distinct values, while
 * their hours are a few hundred, so the statistics rollup (service/stats-projection) stays small whatever the volume.
 */
export type Histogram = ReadonlyArray<readonly [hour: number, count: number, sumMs: number]>;

/** A duration summary in hours of elapsed (clock) time; null figures where nothing was measured. */
export interface DurationSummary {
  count: number;
  /** Exact. */
  meanHours: number | null;
  /** To the hour: of the durations' whole hours (the mean of the middle two when the count is even). */
  medianHours: number | null;
  /** To the hour: the whole hours of the duration at the 90th percentile (nearest rank). */
  p90Hours: number | null;
}

export const HOUR_MS = 3_600_000;

/** The whole hours a duration lasted, rounded down. */
export const hourOf = (ms: number): number => Math.floor(ms / HOUR_MS);

/** The histogram of durations given one by one (in milliseconds). */
export function histogramOf(durationsMs: Iterable<number>): [number, number, number][] {
  const m = new Map<number, [number, number, number]>();
  for (const d of durationsMs) {
    const h = hourOf(d);
    const b = m.get(h);
    if (b) {
      b[1] += 1;
      b[2] += d;
    } else m.set(h, [h, 1, d]);
  }
  return [...m.values()];
}

/** Merges and sorts a histogram's buckets by hour; zero and negative counts are dropped. */
export function normalise(h: Histogram): [number, number, number][] {
  const m = new Map<number, [number, number, number]>();
  for (const [v, n, sum] of h) {
    if (n <= 0) continue;
    const b = m.get(v);
    if (b) {
      b[1] += n;
      b[2] += sum;
    } else m.set(v, [v, n, sum]);
  }
  return [...m.values()].sort((a, b) => a[0] - b[0]);
}

/** The hour at 1-based rank `rank` of the sorted durations the histogram stands for. */
function atRank(sorted: [number, number, number][], rank: number): number {
  let seen = 0;
  for (const [v, n] of sorted) {
    seen += n;
    if (seen >= rank) return v;
  }
  throw new RangeError(`rank ${rank} beyond ${seen} values`);
}

/**
 * Mean (exact), median (the mean of the two middle values when the count is even) and the 90th percentile by nearest
 * rank (the smallest value with at least 90 % of values at or below it), the last two to the whole hour.
 */
export function summarise(h: Histogram): DurationSummary {
  const s = normalise(h);
  const count = s.reduce((a, [, n]) => a + n, 0);
  if (count === 0) return { count: 0, meanHours: null, medianHours: null, p90Hours: null };
  // Integer milliseconds stay exact below 2^53, so the sum does not depend on the order of rows.
  const total = s.reduce((a, [, , sum]) => a + sum, 0);
  const median = count % 2 === 1 ? atRank(s, (count + 1) / 2) : (atRank(s, count / 2) + atRank(s, count / 2 + 1)) / 2;
  return { count, meanHours: total / count / HOUR_MS, medianHours: median, p90Hours: atRank(s, Math.ceil(0.9 * count)) };
}

/** A share, or null when there is nothing to divide by. */
export const rate = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

/** Review counts of one department (or all) and the rates derived from them. */
export interface RateCounts {
  /** Reviews that ended in approval, refusal or deemed approval. */
  decided: number;
  deemedApproved: number;
  refused: number;
  /** Decided reviews that had been extended once. */
  extended: number;
  /** Notifications of review requests put in the outbox, and those that ended failed. */
  notifications: number;
  failedDeliveries: number;
}

export interface Rates extends RateCounts {
  deemedApprovalRate: number | null;
  refusalRate: number | null;
  extensionRate: number | null;
  deliveryFailureRate: number | null;
}

export function rates(c: RateCounts): Rates {
  return {
    ...c,
    deemedApprovalRate: rate(c.deemedApproved, c.decided),
    refusalRate: rate(c.refused, c.decided),
    extensionRate: rate(c.extended, c.decided),
    deliveryFailureRate: rate(c.failedDeliveries, c.notifications),
  };
}

/** Adds per-department counts into one. */
export function sumCounts(all: RateCounts[]): RateCounts {
  const z: RateCounts = { decided: 0, deemedApproved: 0, refused: 0, extended: 0, notifications: 0, failedDeliveries: 0 };
  for (const c of all) for (const k of Object.keys(z) as (keyof RateCounts)[]) z[k] += c[k];
  return z;
}

/** Which cases the figures cover: submitted within [from, to) (epoch ms), in a district (division-code prefix), reviewed by a department. */
export interface StatsFilter {
  from: number | null;
  to: number | null;
  departmentId: string | null;
  district: string | null;
}

/** Shanghai is UTC+8 all year: a bare date means that day in Shanghai. */
const SHANGHAI_MS = 8 * HOUR_MS;

function instant(field: 'from' | 'to', v: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const day = Date.parse(`${v}T00:00:00Z`);
    if (Number.isNaN(day) || new Date(day).toISOString().slice(0, 10) !== v) fail('INVALID_STATS_FILTER', { field, reason: `${v} is not a calendar date` });
    // `to` as a date includes that whole day.
    return day - SHANGHAI_MS + (field === 'to' ? 24 * HOUR_MS : 0);
  }
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(v)) {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  return fail('INVALID_STATS_FILTER', { field, reason: `${v} is neither a date (YYYY-MM-DD) nor an ISO-8601 instant with a zone` });
}

/** The month (YYYY-MM) an instant falls in, in Shanghai time. */
export const monthOf = (ms: number): string => new Date(ms + SHANGHAI_MS).toISOString().slice(0, 7);

/** The day (YYYY-MM-DD) an instant falls in, in Shanghai time. */
export const dayOf = (ms: number): string => new Date(ms + SHANGHAI_MS).toISOString().slice(0, 10);

/** When a Shanghai day (YYYY-MM-DD) starts, in epoch milliseconds. */
const dayStart = (day: string): number => Date.parse(`${day}T00:00:00Z`) - SHANGHAI_MS;

const nextMonth = (m: string): string => {
  const [y, mo] = m.split('-').map(Number) as [number, number];
  return mo === 12 ? `${String(y + 1).padStart(4, '0')}-01` : `${String(y).padStart(4, '0')}-${String(mo + 1).padStart(2, '0')}`;
};

/**
 * A period in rollup terms: whole months [from, to) and whole days [from, to) read from the rollup (null ends are
 * open), and the parts of days [from, to) (epoch ms) at the ends of a period that starts or ends inside a day, which
 * are counted from the cases. The parts cover the period exactly once.
 */
export interface RollupPeriod {
  months: { from: string | null; to: string | null } | null;
  days: { from: string; to: string }[];
  instants: { from: number; to: number }[];
}

/** A filter's period split into whole months, the whole days at its ends, and the parts of days beyond those. */
export function rollupPeriod(f: Pick<StatsFilter, 'from' | 'to'>): RollupPeriod {
  const instants: RollupPeriod['instants'] = [];
  let fromDay: string | null = null;
  let toDay: string | null = null;
  if (f.from !== null) {
    fromDay = dayOf(f.from);
    if (dayStart(fromDay) !== f.from) fromDay = dayOf(dayStart(fromDay) + 36 * HOUR_MS); // the next day
  }
  if (f.to !== null) toDay = dayOf(f.to);
  // Within one day, or from inside one day to inside the next: no whole day at all.
  if (fromDay !== null && toDay !== null && fromDay > toDay) return { months: null, days: [], instants: [{ from: f.from!, to: f.to! }] };
  if (f.from !== null && fromDay !== null && dayStart(fromDay) !== f.from) instants.push({ from: f.from, to: dayStart(fromDay) });
  if (f.to !== null && toDay !== null && dayStart(toDay) !== f.to) instants.push({ from: dayStart(toDay), to: f.to });
  if (fromDay !== null && fromDay === toDay) return { months: null, days: [], instants };
  // The first whole month starts on or after the first day; the months before the last day's month end before it.
  const mFrom = fromDay === null ? null : fromDay.endsWith('-01') ? fromDay.slice(0, 7) : nextMonth(fromDay.slice(0, 7));
  const mTo = toDay === null ? null : toDay.slice(0, 7);
  if (mFrom !== null && mTo !== null && mFrom >= mTo) return { months: null, days: [{ from: fromDay!, to: toDay! }], instants };
  const days: RollupPeriod['days'] = [];
  if (fromDay !== null && mFrom !== null && fromDay < `${mFrom}-01`) days.push({ from: fromDay, to: `${mFrom}-01` });
  if (toDay !== null && mTo !== null && `${mTo}-01` < toDay) days.push({ from: `${mTo}-01`, to: toDay });
  return { months: { from: mFrom, to: mTo }, days, instants };
}

/**
 * Reads the filters of a query string or the command line. `knownDepartment` decides whether a department exists.
 * Every refusal is INVALID_STATS_FILTER naming the field, or UNKNOWN_DEPARTMENT.
 */
export function parseFilter(q: Record<string, unknown>, knownDepartment: (id: string) => boolean): StatsFilter {
  const str = (field: string): string | null => {
    const v = q[field];
    if (v === undefined || v === '') return null;
    if (typeof v !== 'string') fail('INVALID_STATS_FILTER', { field, reason: 'give it once, as text' });
    return v;
  };
  const fromS = str('from');
  const toS = str('to');
  const from = fromS === null ? null : instant('from', fromS);
  const to = toS === null ? null : instant('to', toS);
  if (from !== null && to !== null && from >= to) fail('INVALID_STATS_FILTER', { field: 'to', reason: `the period ends (${toS}) before it starts (${fromS})` });
  const departmentId = str('department');
  if (departmentId !== null && !knownDepartment(departmentId)) fail('UNKNOWN_DEPARTMENT', { departmentId });
  const district = str('district');
  if (district !== null && !/^\d{2,6}$/.test(district)) fail('INVALID_STATS_FILTER', { field: 'district', reason: 'a division code or its prefix: 2 to 6 digits' });
  return { from, to, departmentId, district };
}

/** Quotes a CSV field when it needs it (RFC 4180). */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const CSV_COLUMNS = ['section', 'group', 'key', 'metric', 'value'] as const;

/** One figure as a row of the long CSV layout: section, grouping, group key, metric, value. */
export type CsvRow = [section: string, group: string, key: string, metric: string, value: number | null];

export function toCsv(rows: CsvRow[]): string {
  return [CSV_COLUMNS.join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\r\n') + '\r\n';
}
