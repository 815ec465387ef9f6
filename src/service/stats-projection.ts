// Statistics projection: keeps the rollup (by month and by day) in step with the cases, recomputing each case an audited change touched.
import type { Logger } from 'pino';
import { delta, profileOf, prune, rollupKeyOf, type CaseSource, type Entries, type Profile, type RollupKey } from '../domain/stats-facts.js';
import { forUpdate, placeholders, type Db, type Sql } from '../store/sql.js';

/** Cases recomputed per transaction. */
const CASE_BATCH = 500;
/** Rollup entries a rebuild sums in memory before writing them. */
const REBUILD_FLUSH = 200_000;
/** Events read per pass from the audit chain. */
const EVENT_BATCH = 5000;

/** `column IN (...)` for a list of ids: an array parameter on PostgreSQL (one statement text), placeholders on SQLite. */
function inList(sql: Sql, column: string, ids: string[], params: unknown[]): string {
  if (sql.dialect === 'postgres') {
    params.push(ids);
    return `${column} = ANY($${params.length}::text[])`;
  }
  const first = params.length + 1;
  params.push(...ids);
  return `${column} IN (${placeholders(ids.length, first)})`;
}

/** Which cases: a list of ids, or (a rebuild's batch) every id in (after, last], read as an index range. */
type Selection = { ids: string[] } | { after: string; last: string };

async function rowsOf<T>(sql: Sql, text: (cond: string) => string, column: string, sel: Selection): Promise<T[]> {
  const params: unknown[] = [];
  const cond = 'ids' in sel ? inList(sql, column, sel.ids, params) : (params.push(sel.after, sel.last), `${column} > $1 AND ${column} <= $2`);
  return sql.all<T>(text(cond), params);
}

const num = (v: unknown) => Number(v);
const opt = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** The cases as the statistics see them, read in one statement per table. */
async function loadSources(sql: Sql, ids: Selection): Promise<Map<string, CaseSource>> {
  type C = { id: string; created_at: unknown; division_code: string; industry: string; status: string; licence_issued_at: unknown };
  type R = { case_id: string; department_id: string; level: string; state: string; extended: unknown; delivered_at: unknown; decided_at: unknown };
  const [cases, reviews, permits, outbox, events, inspections] = await Promise.all([
    rowsOf<C>(sql, (c) => `SELECT id, created_at, division_code, industry, status, licence_issued_at FROM cases WHERE ${c}`, 'id', ids),
    rowsOf<R>(sql, (c) => `SELECT case_id, department_id, level, state, extended, delivered_at, decided_at FROM reviews WHERE ${c}`, 'case_id', ids),
    rowsOf<{ case_id: string; department_id: string; reported_at: unknown }>(sql, (c) => `SELECT case_id, department_id, reported_at FROM permits WHERE ${c}`, 'case_id', ids),
    rowsOf<{ case_id: string; department_id: string; state: string }>(sql, (c) => `SELECT case_id, department_id, state FROM outbox WHERE kind = 'notification' AND ${c}`, 'case_id', ids),
    rowsOf<{ case_id: string; action: string; at: unknown }>(
      sql,
      (c) => `SELECT case_id, action, at FROM events WHERE action IN ('case.accepted', 'case.awaiting_licence') AND ${c}`,
      'case_id',
      ids,
    ),
    rowsOf<{ case_id: string; department_id: string; state: string }>(sql, (c) => `SELECT case_id, department_id, state FROM inspections WHERE ${c}`, 'case_id', ids),
  ]);
  const out = new Map<string, CaseSource>();
  for (const c of cases) {
    out.set(c.id, {
      id: c.id, createdAt: num(c.created_at), divisionCode: c.division_code, industry: c.industry, status: c.status, licenceIssuedAt: opt(c.licence_issued_at),
      reviews: [], permits: [], notifications: [], accepted: [], awaitingLicence: [], inspections: [],
    });
  }
  for (const r of reviews) out.get(r.case_id)?.reviews.push({ departmentId: r.department_id, level: r.level, state: r.state, extended: num(r.extended) === 1, deliveredAt: opt(r.delivered_at), decidedAt: opt(r.decided_at) });
  for (const p of permits) out.get(p.case_id)?.permits.push({ departmentId: p.department_id, reportedAt: opt(p.reported_at) });
  for (const o of outbox) out.get(o.case_id)?.notifications.push({ departmentId: o.department_id, failed: o.state === 'failed' });
  for (const e of events) (e.action === 'case.accepted' ? out.get(e.case_id)?.accepted : out.get(e.case_id)?.awaitingLicence)?.push(num(e.at));
  for (const i of inspections) out.get(i.case_id)?.inspections.push({ departmentId: i.department_id, state: i.state });
  return out;
}

type RollupRow = readonly [...RollupKey, number, number];

const UPSERT = 'INSERT INTO stats_rollup (metric, grain, period, division_code, department, k1, k2, hour, n, sum_ms)';
const ON_CONFLICT = 'ON CONFLICT (metric, grain, period, division_code, department, k1, k2, hour) DO UPDATE SET n = stats_rollup.n + excluded.n, sum_ms = stats_rollup.sum_ms + excluded.sum_ms';
/** Rows per PostgreSQL statement (array parameters). */
const PG_ROWS = 10_000;

/** The rollup rows of entries, in the table's column order. */
const rollupRowsOf = (entries: Entries): RollupRow[] => [...entries].map(([k, [n, s]]) => [...rollupKeyOf(k), n, s] as const);

/** PostgreSQL: `unnest` of one array parameter per rollup column, for a multi-row INSERT. */
const ROW_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint'];
const unnestRows = (rows: readonly RollupRow[]) => ({
  from: `unnest(${ROW_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`,
  params: ROW_TYPES.map((_, c) => rows.map((r) => r[c])),
});

/** PostgreSQL: one statement of array parameters per chunk; returns the keys left at nothing. */
async function upsertPg(sql: Sql, rows: RollupRow[]): Promise<RollupKey[]> {
  const u = unnestRows(rows);
  type Back = { metric: string; grain: 'm' | 'd'; period: string; division_code: string; department: string; k1: string; k2: string; hour: unknown; n: unknown; sum_ms: unknown };
  const got = await sql.all<Back>(
    `${UPSERT} SELECT * FROM ${u.from} ${ON_CONFLICT} RETURNING metric, grain, period, division_code, department, k1, k2, hour, n, sum_ms`,
    u.params,
  );
  return got.filter((r) => num(r.n) === 0 && num(r.sum_ms) === 0).map((r) => [r.metric, r.grain, r.period, r.division_code, r.department, r.k1, r.k2, num(r.hour)]);
}

/** Adds entries to the rollup, removing the rows that fall to nothing. */
async function applyEntries(sql: Sql, entries: Entries): Promise<void> {
  const rows = rollupRowsOf(entries);
  const emptied: RollupKey[] = [];
  if (sql.dialect === 'postgres') {
    for (let i = 0; i < rows.length; i += PG_ROWS) emptied.push(...(await upsertPg(sql, rows.slice(i, i + PG_ROWS))));
  } else {
    // In process, one prepared statement per row is cheaper than any multi-row form.
    for (const r of rows) {
      const left = await sql.get<{ n: unknown; sum_ms: unknown }>(`${UPSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ${ON_CONFLICT} RETURNING n, sum_ms`, [...r]);
      if (left && num(left.n) === 0 && num(left.sum_ms) === 0) emptied.push(r.slice(0, 8) as unknown as RollupKey);
    }
  }
  for (const k of emptied) {
    await sql.run('DELETE FROM stats_rollup WHERE metric = $1 AND grain = $2 AND period = $3 AND division_code = $4 AND department = $5 AND k1 = $6 AND k2 = $7 AND hour = $8 AND n = 0', k);
  }
}

/** Keeps the profiles of these cases (new or replaced), and forgets those of cases gone. */
async function keepProfiles(sql: Sql, changed: [string, string][], gone: string[]): Promise<void> {
  const upsert = 'INSERT INTO stats_case_profiles (case_id, profile)';
  const conflict = 'ON CONFLICT (case_id) DO UPDATE SET profile = excluded.profile';
  if (sql.dialect === 'postgres') {
    if (changed.length) await sql.run(`${upsert} SELECT * FROM unnest($1::text[], $2::text[]) ${conflict}`, [changed.map((c) => c[0]), changed.map((c) => c[1])]);
    if (gone.length) await sql.run('DELETE FROM stats_case_profiles WHERE case_id = ANY($1::text[])', [gone]);
    return;
  }
  for (const [id, text] of changed) await sql.run(`${upsert} VALUES ($1, $2) ${conflict}`, [id, text]);
  for (const id of gone) await sql.run('DELETE FROM stats_case_profiles WHERE case_id = $1', [id]);
}

/**
 * Recomputes the statistics of these cases inside the caller's transaction: each case's profile now, against the one
 * kept from its last recomputation; the difference goes into the rollup. Recomputing a case twice changes nothing.
 */
export async function projectCases(sql: Sql, ids: string[]): Promise<void> {
  const unique = [...new Set(ids)].sort();
  for (let i = 0; i < unique.length; i += CASE_BATCH) {
    const chunk = unique.slice(i, i + CASE_BATCH);
    const [sources, kept] = await Promise.all([
      loadSources(sql, { ids: chunk }),
      rowsOf<{ case_id: string; profile: string }>(sql, (c) => `SELECT case_id, profile FROM stats_case_profiles WHERE ${c}`, 'case_id', { ids: chunk }),
    ]);
    const r = recount(chunk, sources, new Map(kept.map((k) => [k.case_id, k.profile])), new Map());
    await applyEntries(sql, prune(r.sum));
    await keepProfiles(sql, r.changed, r.gone);
  }
}

/** The rollup's change for these cases, from their sources now and the profiles kept before (JSON text). */
function recount(ids: string[], sources: Map<string, CaseSource>, before: Map<string, string>, sum: Entries) {
  const changed: [string, string][] = [];
  const gone: string[] = [];
  for (const id of ids) {
    const src = sources.get(id);
    const after = src ? profileOf(src) : null;
    const oldText = before.get(id) ?? null;
    const text = after ? JSON.stringify(after) : null;
    if (text === oldText) continue;
    delta(oldText === null ? null : (JSON.parse(oldText) as Profile), after, sum);
    if (text !== null) changed.push([id, text]);
    else if (oldText !== null) gone.push(id);
  }
  return { sum, changed, gone };
}

/**
 * One pass of the projection: the cases named by audit events sealed since the last pass, recomputed in one transaction
 * with the position reached. The position's row lock makes gateways sharing a PostgreSQL take turns. Returns the number
 * of events read (fewer than the batch: caught up).
 */
export async function projectPending(db: Db, limit = EVENT_BATCH): Promise<number> {
  return db.tx(async (sql) => {
    const cur = (await sql.get<{ pos: unknown }>(`SELECT pos FROM stats_projection WHERE id = 1${forUpdate(sql)}`))!;
    const events = await sql.all<{ chain_pos: unknown; case_id: string | null }>(
      'SELECT chain_pos, case_id FROM events WHERE chain_pos > $1 ORDER BY chain_pos LIMIT $2',
      [num(cur.pos), limit],
    );
    if (events.length === 0) return 0;
    await projectCases(sql, events.filter((e) => e.case_id !== null).map((e) => e.case_id!));
    await sql.run('UPDATE stats_projection SET pos = $1, updated_at = $2 WHERE id = 1', [num(events[events.length - 1]!.chain_pos), Date.now()]);
    return events.length;
  });
}

/** Rebuild staging: entries summed in batches are appended here without a key, then summed into the rollup once. */
const STAGE = 'stats_rollup_rebuild';
const KEY_COLUMNS = 'metric, grain, period, division_code, department, k1, k2, hour';

async function stage(sql: Sql, entries: Entries): Promise<void> {
  const rows = rollupRowsOf(entries);
  if (sql.dialect === 'postgres') {
    for (let i = 0; i < rows.length; i += PG_ROWS) {
      const u = unnestRows(rows.slice(i, i + PG_ROWS));
      await sql.run(`INSERT INTO ${STAGE} SELECT * FROM ${u.from}`, u.params);
    }
  } else {
    for (const r of rows) await sql.run(`INSERT INTO ${STAGE} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [...r]);
  }
}

/**
 * Rebuilds the rollup from every stored case (after a bulk load, or to check it), in one transaction: cleared, filled
 * from the cases batch by batch, the position set to the chain's head so that the projection goes on from there. On
 * SQLite that transaction holds the store's one writer for its duration (about two minutes a million cases): run it when quiet.
 */
export async function rebuildStats(db: Db, batch = 5000): Promise<{ cases: number; rows: number; vacuumError?: string }> {
  const result = await db.tx(async (sql) => {
    // The projection's lock: a running gateway's passes wait for the rebuild rather than interleave with it.
    await sql.get(`SELECT pos FROM stats_projection WHERE id = 1${forUpdate(sql)}`);
    await sql.run('DELETE FROM stats_rollup');
    await sql.run('DELETE FROM stats_case_profiles');
    // Partial sums go to a staging table and are summed into the rollup once at the end: adding each flush to the
    // rollup's rows instead rewrote every row once per flush (on PostgreSQL, 8 million dead rows for 450,000 live ones
    // at a million cases, and every later read paid for them).
    await sql.run(`DROP TABLE IF EXISTS ${STAGE}`);
    await sql.run(`CREATE TEMP TABLE ${STAGE} AS SELECT * FROM stats_rollup WHERE 1 = 0`);
    const sum: Entries = new Map();
    let after = '';
    let cases = 0;
    for (;;) {
      const ids = (await sql.all<{ id: string }>('SELECT id FROM cases WHERE id > $1 ORDER BY id LIMIT $2', [after, batch])).map((r) => r.id);
      if (ids.length === 0) break;
      // A batch is a range of ids: every table is read by its index on the case id, and no profile is kept yet.
      const last = ids[ids.length - 1]!;
      const { changed } = recount(ids, await loadSources(sql, { after, last }), new Map(), sum);
      await keepProfiles(sql, changed, []);
      // Staged now and then, so that the sum held in memory stays bounded.
      if (sum.size > REBUILD_FLUSH) {
        await stage(sql, prune(sum));
        sum.clear();
      }
      cases += ids.length;
      after = last;
    }
    await stage(sql, prune(sum));
    await sql.run(
      `INSERT INTO stats_rollup (${KEY_COLUMNS}, n, sum_ms) SELECT ${KEY_COLUMNS}, SUM(n), SUM(sum_ms) FROM ${STAGE} GROUP BY ${KEY_COLUMNS} HAVING SUM(n) <> 0 OR SUM(sum_ms) <> 0`,
    );
    await sql.run(`DROP TABLE ${STAGE}`);
    await sql.run('UPDATE stats_projection SET pos = (SELECT pos FROM audit_head WHERE id = 1), updated_at = $1 WHERE id = 1', [Date.now()]);
    return { cases, rows: Number((await sql.get<{ n: unknown }>('SELECT COUNT(*) AS n FROM stats_rollup'))!.n) };
  });
  // The rollup was rewritten wholesale: the old rows are dead and the planner's picture is stale. VACUUM cannot run in
  // a transaction, so it follows the commit; if it fails the rebuild stands (autovacuum comes later) and the caller is told.
  if (db.dialect === 'postgres') {
    try {
      await db.run('VACUUM (ANALYZE) stats_rollup, stats_case_profiles');
    } catch (e) {
      return { ...result, vacuumError: (e as Error).message };
    }
  }
  return result;
}

/**
 * Runs the projection in the background: after each sealing pass (kicked by the sealer) and on a timer, at most one
 * pass at a time, and never more often than every `minIntervalMs`, so that a case changing several times in that
 * window is recomputed once.
 */
export class StatsProjector {
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private again = false;
  private stopped = true;
  private lastAt = 0;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly opts: { pollMs: number; minIntervalMs: number } = { pollMs: 1000, minIntervalMs: 200 },
  ) {}

  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.settled();
  }

  readonly kick = (): void => {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    const wait = this.lastAt + this.opts.minIntervalMs - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(this.kick, wait);
      return;
    }
    this.running = this.pass().finally(() => {
      this.running = null;
      this.lastAt = Date.now();
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.kick();
      } else {
        this.timer = setTimeout(this.kick, this.opts.pollMs);
      }
    });
  };

  private async pass(): Promise<void> {
    try {
      while (!this.stopped && (await projectPending(this.db)) === EVENT_BATCH);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'statistics projection failed');
    }
  }

  /** Resolves when no pass is running. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Runs passes until every sealed event is projected (tests, the CLI). */
  async catchUp(): Promise<void> {
    await this.settled();
    while ((await projectPending(this.db)) > 0);
  }
}
