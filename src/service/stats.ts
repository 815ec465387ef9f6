// Statistics read model: counts, durations and rates from the rollup, from kept case profiles or grouped in SQL over the stored cases, summarised by the pure domain/stats.
import { ALL, CASE_LEVEL, figuresOf, type Profile } from '../domain/stats-facts.js';
import { HOUR_MS, rates, summarise, sumCounts, toCsv, rollupPeriod, type CsvRow, type RollupPeriod, type DurationSummary, type Histogram, type RateCounts, type Rates, type StatsFilter } from '../domain/stats.js';
import type { Db, Sql } from '../store/sql.js';

export type { StatsFilter } from '../domain/stats.js';

/** Follow-up visits of one department (or all) by the state they reached. */
export interface FollowUpFigures {
  planned: number;
  passed: number;
  rectifying: number;
  rectified: number;
  revoked: number;
  /** Inspections that took place (all but the planned ones). */
  inspected: number;
  /** Passed at the first inspection, of those inspected. */
  passRate: number | null;
  /** Passed at re-inspection, of those re-inspected (rectified or revoked). */
  rectifiedRate: number | null;
}

export interface Stats {
  filter: { from: string | null; to: string | null; department: string | null; district: string | null };
  cases: {
    total: number;
    byState: Record<string, number>;
    byIndustry: Record<string, number>;
    byDistrict: Record<string, number>;
    /** Cases with at least one review at the level (a case may count under several levels). */
    byLevel: Record<string, number>;
    /** Month of submission in Shanghai time, YYYY-MM. */
    byMonth: Record<string, number>;
  };
  timeTaken: {
    unit: 'hours';
    basis: string;
    perDepartment: Record<string, DurationSummary>;
    perProcedure: { acceptance: DurationSummary; review: DurationSummary; licence: DurationSummary; permits: DurationSummary };
  };
  rates: { overall: Rates; perDepartment: Record<string, Rates> };
  followUps: { overall: FollowUpFigures; perDepartment: Record<string, FollowUpFigures> };
}

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const num = (v: unknown) => Number(v);

/** The scope of cases (alias `c`) as SQL conditions; parameters appended to `params`. */
function caseScope(f: StatsFilter, params: unknown[]): string {
  const conds: string[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.from !== null) conds.push(`c.created_at >= ${p(f.from)}`);
  if (f.to !== null) conds.push(`c.created_at < ${p(f.to)}`);
  if (f.district !== null) conds.push(`c.division_code LIKE ${p(`${f.district}%`)}`);
  if (f.departmentId !== null) conds.push(`EXISTS (SELECT 1 FROM reviews rd WHERE rd.case_id = c.id AND rd.department_id = ${p(f.departmentId)})`);
  return conds.length ? conds.join(' AND ') : '1 = 1';
}

/** The case scope without the department condition (per-department rows are restricted to their department instead). */
function caseLevelScope(f: StatsFilter, params: unknown[]): string {
  return caseScope({ ...f, departmentId: null }, params);
}

/**
 * FROM-clause tail and WHERE for a per-department table (reviews, outbox, inspections): its rows of the filtered
 * department, joined to cases only when the period or district asks for it, since that join costs more than the rest.
 */
function perDepartmentScope(f: StatsFilter, alias: string, params: unknown[]): string {
  const caseLevel = f.from !== null || f.to !== null || f.district !== null;
  const join = caseLevel ? ` JOIN cases c ON c.id = ${alias}.case_id WHERE ${caseLevelScope(f, params)}` : ' WHERE 1 = 1';
  return `${join}${depScope(f, alias, params)}`;
}

/** A condition restricting a per-department table (alias given) to the filtered department. */
function depScope(f: StatsFilter, alias: string, params: unknown[]): string {
  if (f.departmentId === null) return '';
  params.push(f.departmentId);
  return ` AND ${alias}.department_id = $${params.length}`;
}

function monthExpr(db: Sql): string {
  return db.dialect === 'postgres'
    ? `to_char(to_timestamp((c.created_at + ${SHANGHAI_OFFSET_MS}) / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM')`
    : `strftime('%Y-%m', (c.created_at + ${SHANGHAI_OFFSET_MS}) / 1000, 'unixepoch')`;
}

const followUp = (byState: Record<string, number>): FollowUpFigures => {
  const g = (s: string) => byState[s] ?? 0;
  const inspected = g('passed') + g('rectifying') + g('rectified') + g('revoked');
  const reinspected = g('rectified') + g('revoked');
  return {
    planned: g('planned'), passed: g('passed'), rectifying: g('rectifying'), rectified: g('rectified'), revoked: g('revoked'), inspected,
    passRate: inspected === 0 ? null : g('passed') / inspected,
    rectifiedRate: reinspected === 0 ? null : g('rectified') / reinspected,
  };
};

/** Rows of counts and duration buckets: what both the live queries and the rollup give, and the figures are made of. */
interface FigureRows {
  cases: { status: string; industry: string; division_code: string; month: string; n: unknown }[];
  levels: { level: string; n: unknown }[];
  /** Decided reviews (approved, refused, deemed approved) by department, state and extension. */
  reviews: { department_id: string; state: string; extended: unknown; n: unknown }[];
  /** Decision times of approved and refused reviews, by department and whole hours. */
  reviewTimes: { department_id: string; h: unknown; n: unknown; s: unknown }[];
  notifications: { department_id: string; failed: unknown; n: unknown }[];
  acceptance: Bucket[];
  review: Bucket[];
  licence: Bucket[];
  permits: Bucket[];
  inspections: { department_id: string; state: string; n: unknown }[];
}
type Bucket = { h: unknown; n: unknown; s: unknown };

const histogram = (rows: Bucket[]): Histogram => rows.map((r) => [num(r.h), num(r.n), num(r.s)] as const);

/** Whole hours of a duration column, rounded down for negative values too (integer division truncates in both stores). */
const hours = (d: string) => `((${d}) - (((${d}) % ${HOUR_MS}) + ${HOUR_MS}) % ${HOUR_MS}) / ${HOUR_MS}`;

/** The figures' rows computed from the cases themselves: any period, to the millisecond. */
async function liveRows(db: Db, f: StatsFilter): Promise<FigureRows> {
  if (db.dialect !== 'postgres') return liveRowsOn(db, f);
  // The gateway's connections plan each statement once for any parameters (plan_cache_mode=force_generic_plan), which
  // suits its own small lookups; here how many cases a period holds decides between an index and a scan, so these
  // statements are planned for their values (sent together on one connection, which the pool pipelines).
  return db.tx(async (sql) => {
    await sql.run('SET LOCAL plan_cache_mode = force_custom_plan');
    return liveRowsOn(sql, f);
  });
}

async function liveRowsOn(db: Sql, f: StatsFilter): Promise<FigureRows> {
  const q = async <T>(build: (params: unknown[]) => string): Promise<T[]> => {
    const params: unknown[] = [];
    const text = build(params);
    return db.all<T>(text, params);
  };
  const bucketed = (d: string, from: string) => `SELECT ${hours(d)} AS h, COUNT(*) AS n, SUM(${d}) AS s ${from} GROUP BY 1`;
  const [cases, levels, reviews, reviewTimes, notifications, acceptance, review, licence, permits, inspections] = await Promise.all([
    q<FigureRows['cases'][number]>((p) => `SELECT c.status, c.industry, c.division_code, ${monthExpr(db)} AS month, COUNT(*) AS n FROM cases c WHERE ${caseScope(f, p)} GROUP BY 1, 2, 3, 4`),
    q<FigureRows['levels'][number]>((p) => `SELECT r.level, COUNT(DISTINCT r.case_id) AS n FROM reviews r JOIN cases c ON c.id = r.case_id WHERE ${caseScope(f, p)} GROUP BY r.level`),
    q<FigureRows['reviews'][number]>((p) => `SELECT r.department_id, r.state, r.extended, COUNT(*) AS n
       FROM reviews r${perDepartmentScope(f, 'r', p)} AND r.state IN ('approved', 'refused', 'deemed_approved') GROUP BY 1, 2, 3`),
    q<FigureRows['reviewTimes'][number]>((p) => `SELECT r.department_id, ${hours('r.decided_at - r.delivered_at')} AS h, COUNT(*) AS n, SUM(r.decided_at - r.delivered_at) AS s
       FROM reviews r${perDepartmentScope(f, 'r', p)} AND r.state IN ('approved', 'refused') AND r.decided_at IS NOT NULL AND r.delivered_at IS NOT NULL GROUP BY 1, 2`),
    q<FigureRows['notifications'][number]>((p) => `SELECT o.department_id, CASE WHEN o.state = 'failed' THEN 1 ELSE 0 END AS failed, COUNT(*) AS n
       FROM outbox o${perDepartmentScope(f, 'o', p)} AND o.kind = 'notification' GROUP BY 1, 2`),
    // Procedures: submission to acceptance, acceptance to the end of review (every review approved or deemed approved),
    // that end to the licence, the licence to each permit reported.
    q<Bucket>((p) => bucketed('a.at - c.created_at', `FROM cases c JOIN events a ON a.case_id = c.id AND a.action = 'case.accepted' WHERE ${caseScope(f, p)}`)),
    q<Bucket>((p) => bucketed('w.at - a.at', `FROM cases c JOIN events a ON a.case_id = c.id AND a.action = 'case.accepted'
       JOIN events w ON w.case_id = c.id AND w.action = 'case.awaiting_licence' WHERE ${caseScope(f, p)}`)),
    q<Bucket>((p) => bucketed('c.licence_issued_at - w.at', `FROM cases c JOIN events w ON w.case_id = c.id AND w.action = 'case.awaiting_licence'
       WHERE c.licence_issued_at IS NOT NULL AND ${caseScope(f, p)}`)),
    q<Bucket>((p) => bucketed('pm.reported_at - c.licence_issued_at', `FROM permits pm JOIN cases c ON c.id = pm.case_id
       WHERE pm.reported_at IS NOT NULL AND c.licence_issued_at IS NOT NULL AND ${caseLevelScope(f, p)}${depScope(f, 'pm', p)}`)),
    q<FigureRows['inspections'][number]>((p) => `SELECT i.department_id, i.state, COUNT(*) AS n FROM inspections i${perDepartmentScope(f, 'i', p)} GROUP BY 1, 2`),
  ]);
  return { cases, levels, reviews, reviewTimes, notifications, acceptance, review, licence, permits, inspections };
}

/** The figures' rows from the rollup (service/stats-projection): its whole months by month, the days at its ends by day. */
async function rollupRows(db: Db, f: StatsFilter, period: RollupPeriod): Promise<FigureRows> {
  // Each part is one range of the rollup's primary key (metric, grain, period); case-level metrics are counted under
  // ALL and under each reviewing department, the others under their own department only.
  const q = async <T>(metric: string, columns: string, groupBy: string): Promise<T[]> => {
    // The metric and grain are written into the text (the code's own words), so that PostgreSQL's one plan per
    // statement is made for that metric's rows, not for an unknown one (a plan for any metric scanned the whole table).
    if (!/^[a-z_]+$/.test(metric)) throw new Error(`not a metric: ${metric}`);
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const scope: string[] = [];
    if (f.district !== null) scope.push(`division_code LIKE ${p(`${f.district}%`)}`);
    if (f.departmentId !== null) scope.push(`department = ${p(f.departmentId)}`);
    else if (CASE_LEVEL.has(metric)) scope.push(`department = ${p(ALL)}`);
    const part = (grain: 'm' | 'd', from: string | null, to: string | null) => {
      const conds = [`metric = '${metric}'`, `grain = '${grain}'`, ...scope];
      if (from !== null) conds.push(`period >= ${p(from)}`);
      if (to !== null) conds.push(`period < ${p(to)}`);
      return `SELECT * FROM stats_rollup WHERE ${conds.join(' AND ')}`;
    };
    const parts = [...(period.months ? [part('m', period.months.from, period.months.to)] : []), ...period.days.map((d) => part('d', d.from, d.to))];
    return db.all<T>(`SELECT ${columns}, SUM(n) AS n FROM (${parts.join(' UNION ALL ')}) r GROUP BY ${groupBy} HAVING SUM(n) <> 0`, params);
  };
  const [cases, levels, reviews, reviewTimes, notifications, procs, permits, inspections] = await Promise.all([
    q<FigureRows['cases'][number]>('case', 'k1 AS status, k2 AS industry, division_code, substr(period, 1, 7) AS month', 'k1, k2, division_code, substr(period, 1, 7)'),
    q<FigureRows['levels'][number]>('level', 'k1 AS level', 'k1'),
    q<FigureRows['reviews'][number]>('review', 'department AS department_id, k1 AS state, k2 AS extended', 'department, k1, k2'),
    q<FigureRows['reviewTimes'][number]>('review_time', 'department AS department_id, hour AS h, SUM(sum_ms) AS s', 'department, hour'),
    q<FigureRows['notifications'][number]>('notification', 'department AS department_id, k1 AS failed', 'department, k1'),
    q<Bucket & { k1: string }>('proc_time', 'k1, hour AS h, SUM(sum_ms) AS s', 'k1, hour'),
    q<Bucket>('permit_time', 'hour AS h, SUM(sum_ms) AS s', 'hour'),
    q<FigureRows['inspections'][number]>('inspection', 'department AS department_id, k1 AS state', 'department, k1'),
  ]);
  const proc = (k: string) => procs.filter((r) => r.k1 === k);
  return { cases, levels, reviews, reviewTimes, notifications, acceptance: proc('acceptance'), review: proc('review'), licence: proc('licence'), permits, inspections };
}

/**
 * The figures' rows of the cases submitted in [from, to) (epoch ms), from the profiles the projection keeps for them:
 * the same figures, as of the same moment, that the rollup holds for those cases, for a part of a day the rollup cannot
 * cut. One indexed read of the part's cases; the counting is done here.
 */
async function profileRows(db: Db, f: StatsFilter, part: { from: number; to: number }): Promise<FigureRows> {
  // The district is the profile's, as in the rollup (a resubmission can move a case before the projection sees it).
  const profiles = await db.all<{ profile: string }>(
    'SELECT p.profile FROM cases c JOIN stats_case_profiles p ON p.case_id = c.id WHERE c.created_at >= $1 AND c.created_at < $2',
    [part.from, part.to],
  );
  type Row = Record<string, unknown> & { n: number; s: number };
  const groups = new Map<string, Row>();
  const out: Record<string, Row[]> = { cases: [], levels: [], reviews: [], reviewTimes: [], notifications: [], acceptance: [], review: [], licence: [], permits: [], inspections: [] };
  const count = (into: string, fields: Record<string, unknown>, sum: number) => {
    const key = `${into}\u0000${Object.values(fields).join('\u0000')}`;
    let row = groups.get(key);
    if (!row) {
      row = { ...fields, n: 0, s: 0 };
      groups.set(key, row);
      out[into]!.push(row);
    }
    row.n++;
    row.s += sum;
  };
  for (const { profile } of profiles) {
    const p = JSON.parse(profile) as Profile;
    if (f.district !== null && !p.v.startsWith(f.district)) continue;
    const month = p.m.slice(0, 7);
    figuresOf(p, (metric, dep, k1, k2, hour, sum) => {
      // As in the rollup: a department filter selects its own rows; without one, case-level figures are read under ALL.
      if (f.departmentId !== null ? dep !== f.departmentId : CASE_LEVEL.has(metric) && dep !== ALL) return;
      if (metric === 'case') count('cases', { status: k1, industry: k2, division_code: p.v, month }, 0);
      else if (metric === 'level') count('levels', { level: k1 }, 0);
      else if (metric === 'review') count('reviews', { department_id: dep, state: k1, extended: k2 }, 0);
      else if (metric === 'review_time') count('reviewTimes', { department_id: dep, h: hour }, sum);
      else if (metric === 'notification') count('notifications', { department_id: dep, failed: k1 }, 0);
      else if (metric === 'proc_time') count(k1, { h: hour }, sum);
      else if (metric === 'permit_time') count('permits', { h: hour }, sum);
      else if (metric === 'inspection') count('inspections', { department_id: dep, state: k1 }, 0);
    });
  }
  return out as unknown as FigureRows;
}

/** The rows of disjoint parts of a period, as one: every figure is a sum over cases, and histograms merge. */
function joined(parts: FigureRows[]): FigureRows {
  const [first, ...rest] = parts;
  const out = { ...first! };
  for (const p of rest) for (const k of Object.keys(out) as (keyof FigureRows)[]) (out[k] as unknown[]) = [...out[k], ...p[k]];
  return out;
}

const sortedKeys = (m: Record<string, number>) => Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]!]));

/**
 * All figures for the filter. Whole months and days of the period (or all of them) are read from the rollup, which the
 * projector keeps up to date a moment after each change is sealed into the audit chain; the parts of days at the ends
 * of a period that starts or ends inside a day are counted from the profiles the projector keeps for their cases (so
 * every part is as of the same moment). `live` counts the whole period from the cases themselves instead.
 */
export async function computeStats(db: Db, f: StatsFilter, o: { live?: boolean } = {}): Promise<Stats> {
  let rows: FigureRows;
  if (o.live) rows = await liveRows(db, f);
  else {
    const period = rollupPeriod(f);
    // The parts cover the period exactly once, and there is always at least one.
    rows = joined(
      await Promise.all([...(period.months || period.days.length ? [rollupRows(db, f, period)] : []), ...period.instants.map((i) => profileRows(db, f, i))]),
    );
  }

  const add = (m: Record<string, number>, k: string, n: number) => (m[k] = (m[k] ?? 0) + n);
  const cases: Stats['cases'] = { total: 0, byState: {}, byIndustry: {}, byDistrict: {}, byLevel: {}, byMonth: {} };
  for (const r of rows.cases) {
    const n = num(r.n);
    cases.total += n;
    add(cases.byState, r.status, n);
    add(cases.byIndustry, r.industry, n);
    add(cases.byDistrict, r.division_code, n);
    add(cases.byMonth, r.month, n);
  }
  for (const r of rows.levels) add(cases.byLevel, r.level, num(r.n));
  // Keys in order, whichever way (and in how many parts) the rows came.
  for (const k of ['byState', 'byIndustry', 'byDistrict', 'byLevel', 'byMonth'] as const) cases[k] = sortedKeys(cases[k]);

  const counts: Record<string, RateCounts> = {};
  const cnt = (d: string) => (counts[d] ??= { decided: 0, deemedApproved: 0, refused: 0, extended: 0, notifications: 0, failedDeliveries: 0 });
  for (const r of rows.reviews) {
    const n = num(r.n);
    const c = cnt(r.department_id);
    c.decided += n;
    if (r.state === 'deemed_approved') c.deemedApproved += n;
    if (r.state === 'refused') c.refused += n;
    if (num(r.extended) === 1) c.extended += n;
  }
  const durations: Record<string, [number, number, number][]> = {};
  for (const r of rows.reviewTimes) (durations[r.department_id] ??= []).push([num(r.h), num(r.n), num(r.s)]);
  for (const r of rows.notifications) {
    const c = cnt(r.department_id);
    c.notifications += num(r.n);
    if (num(r.failed) === 1) c.failedDeliveries += num(r.n);
  }
  const perDepartmentRates = Object.fromEntries(Object.keys(counts).sort().map((d) => [d, rates(counts[d]!)]));
  const perDepartmentTime = Object.fromEntries(Object.keys(durations).sort().map((d) => [d, summarise(durations[d]!)]));

  const fu: Record<string, Record<string, number>> = {};
  const fuAll: Record<string, number> = {};
  for (const r of rows.inspections) {
    add((fu[r.department_id] ??= {}), r.state, num(r.n));
    add(fuAll, r.state, num(r.n));
  }

  return {
    filter: { from: iso(f.from), to: iso(f.to), department: f.departmentId, district: f.district },
    cases,
    timeTaken: {
      unit: 'hours',
      basis:
        'elapsed clock time; mean exact, median and p90 in whole hours (rounded down); per department from delivery of the request to the department’s own approval or refusal (deemed approvals excluded)',
      perDepartment: perDepartmentTime,
      perProcedure: { acceptance: summarise(histogram(rows.acceptance)), review: summarise(histogram(rows.review)), licence: summarise(histogram(rows.licence)), permits: summarise(histogram(rows.permits)) },
    },
    rates: { overall: rates(sumCounts(Object.values(counts))), perDepartment: perDepartmentRates },
    followUps: { overall: followUp(fuAll), perDepartment: Object.fromEntries(Object.keys(fu).sort().map((d) => [d, followUp(fu[d]!)])) },
  };
}

/** The figures in the long CSV layout (section, group, key, metric, value). */
export function statsCsv(s: Stats): string {
  const rows: CsvRow[] = [['cases', 'all', 'all', 'count', s.cases.total]];
  const groups: [string, Record<string, number>][] = [['state', s.cases.byState], ['industry', s.cases.byIndustry], ['district', s.cases.byDistrict], ['level', s.cases.byLevel], ['month', s.cases.byMonth]];
  for (const [g, m] of groups) for (const k of Object.keys(m).sort()) rows.push(['cases', g, k, 'count', m[k]!]);
  const dur = (group: string, key: string, d: DurationSummary) => {
    rows.push(['time_hours', group, key, 'count', d.count], ['time_hours', group, key, 'mean', d.meanHours], ['time_hours', group, key, 'median', d.medianHours], ['time_hours', group, key, 'p90', d.p90Hours]);
  };
  for (const [k, d] of Object.entries(s.timeTaken.perDepartment)) dur('department', k, d);
  for (const [k, d] of Object.entries(s.timeTaken.perProcedure)) dur('procedure', k, d);
  const rt = (key: string, r: Rates) => {
    for (const m of ['decided', 'deemedApproved', 'refused', 'extended', 'notifications', 'failedDeliveries', 'deemedApprovalRate', 'refusalRate', 'extensionRate', 'deliveryFailureRate'] as const) rows.push(['rates', key === 'all' ? 'all' : 'department', key, m, r[m]]);
  };
  rt('all', s.rates.overall);
  for (const [k, r] of Object.entries(s.rates.perDepartment)) rt(k, r);
  const fu = (key: string, x: FollowUpFigures) => {
    for (const m of ['planned', 'passed', 'rectifying', 'rectified', 'revoked', 'inspected', 'passRate', 'rectifiedRate'] as const) rows.push(['follow_ups', key === 'all' ? 'all' : 'department', key, m, x[m]]);
  };
  fu('all', s.followUps.overall);
  for (const [k, x] of Object.entries(s.followUps.perDepartment)) fu(k, x);
  return toCsv(rows);
}
