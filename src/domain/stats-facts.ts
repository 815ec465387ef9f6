// What one case adds to the statistics: its profile (the few facts the figures use) and the rollup entries it counts in. Pure.
import { dayOf, hourOf } from './stats.js';

/** A case as the statistics see it, read from the store. */
export interface CaseSource {
  id: string;
  createdAt: number;
  divisionCode: string;
  industry: string;
  status: string;
  licenceIssuedAt: number | null;
  reviews: { departmentId: string; level: string; state: string; extended: boolean; deliveredAt: number | null; decidedAt: number | null }[];
  permits: { departmentId: string; reportedAt: number | null }[];
  /** Review requests sent (outbox messages of kind notification) and whether each ended failed. */
  notifications: { departmentId: string; failed: boolean }[];
  /** Times of the case's case.accepted and case.awaiting_licence events. */
  accepted: number[];
  awaitingLicence: number[];
  inspections: { departmentId: string; state: string }[];
}

/**
 * The facts of a case that the figures use, durations already taken: small enough to keep per case, so that when the
 * case changes its old contribution can be taken out of the rollup exactly.
 */
export interface Profile {
  m: string; // day of submission (Shanghai), YYYY-MM-DD
  v: string; // division code
  i: string; // industry
  s: string; // status
  /** Reviews: department, level, state, extended (1/0), decision time in ms or null. */
  r: [string, string, string, number, number | null][];
  /** Procedures in ms: acceptance, review (acceptance to awaiting licence), licence. */
  a: number[];
  w: number[];
  l: number[];
  /** Permits reported: department, ms from the licence. */
  p: [string, number][];
  /** Notifications: department, failed (1/0). */
  o: [string, number][];
  /** Inspections: department, state. */
  n: [string, string][];
}

const DECIDED = new Set(['approved', 'refused', 'deemed_approved']);
const TIMED = new Set(['approved', 'refused']);

/** The profile of a case. Mirrors, case by case, what the live statistics queries (service/stats) count. */
export function profileOf(c: CaseSource): Profile {
  return {
    m: dayOf(c.createdAt),
    v: c.divisionCode,
    i: c.industry,
    s: c.status,
    r: c.reviews.map((r) => [r.departmentId, r.level, r.state, r.extended ? 1 : 0, r.decidedAt !== null && r.deliveredAt !== null ? r.decidedAt - r.deliveredAt : null]),
    a: c.accepted.map((t) => t - c.createdAt),
    w: c.accepted.flatMap((a) => c.awaitingLicence.map((w) => w - a)),
    l: c.licenceIssuedAt === null ? [] : c.awaitingLicence.map((w) => c.licenceIssuedAt! - w),
    p: c.licenceIssuedAt === null ? [] : c.permits.filter((p) => p.reportedAt !== null).map((p) => [p.departmentId, p.reportedAt! - c.licenceIssuedAt!]),
    o: c.notifications.map((o) => [o.departmentId, o.failed ? 1 : 0]),
    n: c.inspections.map((x) => [x.departmentId, x.state]),
  };
}

/** All departments, in a rollup entry of a case-level figure (the figure without a department filter). */
export const ALL = '*';

/**
 * A rollup entry's key: the figure (metric), the grain of the period ('m' a month YYYY-MM, 'd' a day YYYY-MM-DD) and the
 * case's period of submission in it, its division, the department (ALL or one), two figure-specific keys and, for
 * durations, the whole hours. Every entry is counted twice, under its month and under its day: whole months of a period
 * are read by month, the days at its ends by day.
 * - case (k1 status, k2 industry), level (k1 level), proc_time (k1 acceptance|review|licence): case-level, counted under
 *   ALL and under each department that reviews the case (the department filter selects cases);
 * - review (k1 state, k2 extended), review_time, notification (k1 failed), permit_time, inspection (k1 state): counted
 *   under their own department only (the department filter selects rows); without a filter, departments are summed.
 */
export type RollupKey = [metric: string, grain: 'm' | 'd', period: string, division: string, department: string, k1: string, k2: string, hour: number];

/** Rollup entries: key (entryKey of the RollupKey) to [count, sum of durations in ms]. */
export type Entries = Map<string, [number, number]>;

/**
 * An entry's key as text: the grain and period, then the JSON of the rest. The figure's part is made once for both
 * grains (the JSON of a whole key per entry was most of a recomputation's cost); grain and period hold no NUL.
 */
const keyText = (grain: 'm' | 'd', period: string, figure: string): string => `${grain}${period}\u0000${figure}`;
const figureText = (metric: string, division: string, department: string, k1: string, k2: string, hour: number): string => JSON.stringify([metric, division, department, k1, k2, hour]);

export function entryKey(k: RollupKey): string {
  const [metric, grain, period, division, department, k1, k2, hour] = k;
  return keyText(grain, period, figureText(metric, division, department, k1, k2, hour));
}

export function rollupKeyOf(key: string): RollupKey {
  const cut = key.indexOf('\u0000');
  const [metric, division, department, k1, k2, hour] = JSON.parse(key.slice(cut + 1)) as [string, string, string, string, string, number];
  return [metric, key[0] as 'm' | 'd', key.slice(1, cut), division, department, k1, k2, hour];
}

function add(e: Entries, k: string, n: number, sum: number): void {
  const cur = e.get(k);
  if (cur) {
    cur[0] += n;
    cur[1] += sum;
  } else e.set(k, [n, sum]);
}

/** Receives each figure a case counts in, once: the metric, the department (ALL or one), two keys, whole hours and a duration sum. */
export type Emit = (metric: string, department: string, k1: string, k2: string, hour: number, sum: number) => void;

/** The figures a case counts in, without period or grain: what the rollup entries and the counting of profiles are made of. */
export function figuresOf(p: Profile, emit: Emit): void {
  const deps = [ALL, ...new Set(p.r.map((r) => r[0]))];
  const levels = [...new Set(p.r.map((r) => r[1]))];
  for (const d of deps) {
    emit('case', d, p.s, p.i, 0, 0);
    for (const l of levels) emit('level', d, l, '', 0, 0);
    for (const [k1, xs] of [['acceptance', p.a], ['review', p.w], ['licence', p.l]] as const) for (const x of xs) emit('proc_time', d, k1, '', hourOf(x), x);
  }
  for (const [dep, , state, extended, d] of p.r) {
    if (DECIDED.has(state)) emit('review', dep, state, String(extended), 0, 0);
    if (TIMED.has(state) && d !== null) emit('review_time', dep, '', '', hourOf(d), d);
  }
  for (const [dep, x] of p.p) emit('permit_time', dep, '', '', hourOf(x), x);
  for (const [dep, failed] of p.o) emit('notification', dep, String(failed), '', 0, 0);
  for (const [dep, state] of p.n) emit('inspection', dep, state, '', 0, 0);
}

/** Case-level figures: counted under ALL and under each reviewing department (the department filter selects cases). */
export const CASE_LEVEL = new Set(['case', 'level', 'proc_time']);

/** The rollup entries a case counts in: each figure under its month and under its day. */
export function entriesOf(p: Profile, into: Entries = new Map(), sign = 1): Entries {
  const { m: day, v } = p;
  const month = day.slice(0, 7);
  figuresOf(p, (metric, dep, k1, k2, hour, sum) => {
    const figure = figureText(metric, v, dep, k1, k2, hour);
    add(into, keyText('m', month, figure), sign, sign * sum);
    add(into, keyText('d', day, figure), sign, sign * sum);
  });
  return into;
}

/**
 * Adds to `into` what the rollup gains when a case's profile changes from `before` (none: a case new to the rollup) to
 * `after` (none: a case gone). Entries may cancel out to zero: `prune` drops those once a batch is summed.
 */
export function delta(before: Profile | null, after: Profile | null, into: Entries = new Map()): Entries {
  if (before) entriesOf(before, into, -1);
  if (after) entriesOf(after, into, 1);
  return into;
}

/** Drops the entries that add nothing. */
export function prune(e: Entries): Entries {
  for (const [k, [n, sum]] of e) if (n === 0 && sum === 0) e.delete(k);
  return e;
}
