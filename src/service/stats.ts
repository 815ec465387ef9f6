// Statistics read model: counts, durations and rates grouped in SQL over the stored cases, summarised by the pure domain/stats.
import { rates, summarise, sumCounts, toCsv, type CsvRow, type DurationSummary, type Histogram, type RateCounts, type Rates, type StatsFilter } from '../domain/stats.js';
import type { Db } from '../store/sql.js';

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

function monthExpr(db: Db): string {
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

/** Duration histogram of a query returning (d, n) rows. */
async function histogram(db: Db, text: string, params: unknown[]): Promise<Histogram> {
  const rows = await db.all<{ d: unknown; n: unknown }>(text, params);
  return rows.filter((r) => r.d !== null).map((r) => [num(r.d), num(r.n)] as const);
}

/** All figures for the filter. Each query groups in the database, so rows returned are few whatever the number of cases. */
export async function computeStats(db: Db, f: StatsFilter): Promise<Stats> {
  const q = async <T>(build: (params: unknown[]) => string): Promise<T[]> => {
    const params: unknown[] = [];
    const text = build(params);
    return db.all<T>(text, params);
  };
  const h = (build: (params: unknown[]) => string): Promise<Histogram> => {
    const params: unknown[] = [];
    const text = build(params);
    return histogram(db, text, params);
  };

  type C = { status: string; industry: string; division_code: string; month: string; n: unknown };
  type L = { level: string; n: unknown };
  type R = { department_id: string; state: string; extended: unknown; d: unknown; n: unknown };
  type O = { department_id: string; failed: unknown; n: unknown };
  type I = { department_id: string; state: string; n: unknown };
  // Independent queries: on PostgreSQL they run on pool connections side by side.
  const [caseRows, levelRows, reviewRows, outboxRows, acceptance, review, licence, permits, inspectionRows] = await Promise.all([
    q<C>((p) => `SELECT c.status, c.industry, c.division_code, ${monthExpr(db)} AS month, COUNT(*) AS n FROM cases c WHERE ${caseScope(f, p)} GROUP BY 1, 2, 3, 4`),
    q<L>((p) => `SELECT r.level, COUNT(DISTINCT r.case_id) AS n FROM reviews r JOIN cases c ON c.id = r.case_id WHERE ${caseScope(f, p)} GROUP BY r.level`),
    q<R>((p) => `SELECT r.department_id, r.state, r.extended, CASE WHEN r.state IN ('approved', 'refused') THEN r.decided_at - r.delivered_at END AS d, COUNT(*) AS n
       FROM reviews r${perDepartmentScope(f, 'r', p)} AND r.state IN ('approved', 'refused', 'deemed_approved') GROUP BY 1, 2, 3, 4`),
    q<O>((p) => `SELECT o.department_id, CASE WHEN o.state = 'failed' THEN 1 ELSE 0 END AS failed, COUNT(*) AS n
       FROM outbox o${perDepartmentScope(f, 'o', p)} AND o.kind = 'notification' GROUP BY 1, 2`),
    // Procedures: submission to acceptance, acceptance to the end of review (every review approved or deemed approved),
    // that end to the licence, the licence to each permit reported.
    h((p) => `SELECT a.at - c.created_at AS d, COUNT(*) AS n FROM cases c JOIN events a ON a.case_id = c.id AND a.action = 'case.accepted' WHERE ${caseScope(f, p)} GROUP BY 1`),
    h((p) => `SELECT w.at - a.at AS d, COUNT(*) AS n FROM cases c JOIN events a ON a.case_id = c.id AND a.action = 'case.accepted'
       JOIN events w ON w.case_id = c.id AND w.action = 'case.awaiting_licence' WHERE ${caseScope(f, p)} GROUP BY 1`),
    h((p) => `SELECT c.licence_issued_at - w.at AS d, COUNT(*) AS n FROM cases c JOIN events w ON w.case_id = c.id AND w.action = 'case.awaiting_licence'
       WHERE c.licence_issued_at IS NOT NULL AND ${caseScope(f, p)} GROUP BY 1`),
    h((p) => `SELECT pm.reported_at - c.licence_issued_at AS d, COUNT(*) AS n FROM permits pm JOIN cases c ON c.id = pm.case_id
       WHERE pm.reported_at IS NOT NULL AND ${caseLevelScope(f, p)}${depScope(f, 'pm', p)} GROUP BY 1`),
    q<I>((p) => `SELECT i.department_id, i.state, COUNT(*) AS n FROM inspections i${perDepartmentScope(f, 'i', p)} GROUP BY 1, 2`),
  ]);

  const add = (m: Record<string, number>, k: string, n: number) => (m[k] = (m[k] ?? 0) + n);
  const cases: Stats['cases'] = { total: 0, byState: {}, byIndustry: {}, byDistrict: {}, byLevel: {}, byMonth: {} };
  for (const r of caseRows) {
    const n = num(r.n);
    cases.total += n;
    add(cases.byState, r.status, n);
    add(cases.byIndustry, r.industry, n);
    add(cases.byDistrict, r.division_code, n);
    add(cases.byMonth, r.month, n);
  }
  for (const r of levelRows) add(cases.byLevel, r.level, num(r.n));

  const counts: Record<string, RateCounts> = {};
  const cnt = (d: string) => (counts[d] ??= { decided: 0, deemedApproved: 0, refused: 0, extended: 0, notifications: 0, failedDeliveries: 0 });
  const durations: Record<string, [number, number][]> = {};
  for (const r of reviewRows) {
    const n = num(r.n);
    const c = cnt(r.department_id);
    c.decided += n;
    if (r.state === 'deemed_approved') c.deemedApproved += n;
    if (r.state === 'refused') c.refused += n;
    if (num(r.extended) === 1) c.extended += n;
    if (r.d !== null) (durations[r.department_id] ??= []).push([num(r.d), n]);
  }
  for (const r of outboxRows) {
    const c = cnt(r.department_id);
    c.notifications += num(r.n);
    if (num(r.failed) === 1) c.failedDeliveries += num(r.n);
  }
  const perDepartmentRates = Object.fromEntries(Object.keys(counts).sort().map((d) => [d, rates(counts[d]!)]));
  const perDepartmentTime = Object.fromEntries(Object.keys(durations).sort().map((d) => [d, summarise(durations[d]!)]));

  const fu: Record<string, Record<string, number>> = {};
  const fuAll: Record<string, number> = {};
  for (const r of inspectionRows) {
    add((fu[r.department_id] ??= {}), r.state, num(r.n));
    add(fuAll, r.state, num(r.n));
  }

  return {
    filter: { from: iso(f.from), to: iso(f.to), department: f.departmentId, district: f.district },
    cases,
    timeTaken: {
      unit: 'hours',
      basis: 'elapsed clock hours; per department from delivery of the request to the department’s own approval or refusal (deemed approvals excluded)',
      perDepartment: perDepartmentTime,
      perProcedure: { acceptance: summarise(acceptance), review: summarise(review), licence: summarise(licence), permits: summarise(permits) },
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
