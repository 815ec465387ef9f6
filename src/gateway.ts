// Composition root: wires configuration, store, clock, adapters, services, background workers and the HTTP server.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AdapterError, type Adapter, type AdapterHealth } from '../adapters/adapter.js';
import { createAdapter } from '../adapters/index.js';
import { Dispatcher } from './bus/dispatcher.js';
import { Hub } from './bus/hub.js';
import { Checkpointer, checkpointPolicy } from './bus/checkpoints.js';
import { Sealer } from './bus/sealer.js';
import { StatsProjector } from './service/stats-projection.js';
import { Timekeeper } from './bus/timekeeper.js';
import { calendarVersion, loadCalendarFromDb, seedCalendar, setDay, setYear, type DayKind } from './calendar/calendar-store.js';
import { loadCalendar, readCalendarFile } from './calendar/load.js';
import type { WorkingCalendar } from './calendar/working-days.js';
import { ManualClock, SystemClock, type Clock } from './clock.js';
import { compileAll } from './config/schemas.js';
import type { LoginGuardOptions } from './trust/login-guard.js';
import { loadBinding, readCertsFile } from './trust/tls.js';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { configFromDocument, loadConfig, loadDemoUsers, type GatewayConfig, type Settings } from './config/load.js';
import { changeConfig, currentVersionNumber, importFile, importFileIfChanged, latestVersion, type ConfigVersion } from './config/runtime.js';
import { fail, GatewayError } from './domain/errors.js';
import type { Department } from './domain/routing.js';
import type { PeriodReport } from './domain/supervision-report.js';
import type { Actor } from './domain/types.js';
import type { AddWorkingDays } from './domain/workflow.js';
import { createApp } from './http/app.js';
import { createLogger } from './log.js';
import { GatewayMetrics } from './metrics.js';
import { ComplaintService } from './service/complaints.js';
import { FollowUpService } from './service/followups.js';
import { CaseService } from './service/cases.js';
import { InboundService } from './service/inbound.js';
import { PeerService } from './peer/service.js';
import { supervisionPeriodReport, supervisionReport, type SupervisionReport } from './service/supervision.js';
import { UserService } from './service/users.js';
import { appendEvents } from './store/case-repo.js';
import { migrate } from './store/migrations.js';
import { PostgresDb } from './store/postgres.js';
import type { Db } from './store/sql.js';
import { SqliteDb } from './store/sqlite.js';
import { KeyRegistry } from './trust/keys.js';
import { GatewaySigner, signatureSettings } from './trust/messages.js';
import { ProvincePuller } from './province/pull.js';
import { TokenService } from './trust/tokens.js';

/** What `Gateway.open` needs; tests pass their own store and logger. */
export interface GatewayOptions {
  settings: Settings;
  db?: Db;
  logger?: Logger;
  /** Background poll intervals; tests may shorten them. */
  pollMs?: number;
  /** false: this gateway serves the API but sends nothing (another gateway, or a test stepping `dispatcher.runOnce()`, does). */
  dispatch?: boolean;
  /** false: the pull from the province is not run in the background (a test steps `province.runOnce()`). */
  pull?: boolean;
}

export function openDb(settings: Settings): Db {
  return settings.databaseUrl ? new PostgresDb(settings.databaseUrl) : new SqliteDb(join(settings.dataDir, 'gateway.sqlite'));
}

export class Gateway {
  readonly hub = new Hub();
  /** Names this process in audit events of the timekeeper and dispatcher. */
  readonly instance = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  readonly adapters = new Map<string, Adapter>();
  readonly cases: CaseService;
  readonly followUps: FollowUpService;
  readonly complaints: ComplaintService;
  readonly users: UserService;
  readonly dispatcher: Dispatcher;
  readonly timekeeper: Timekeeper;
  readonly sealer: Sealer;
  /** Keeps the statistics rollup in step with the sealed audit chain. */
  readonly stats: StatsProjector;
  /** Signs the audit chain's head at intervals (gateway.auditCheckpoint, or PAG_CHECKPOINT_EVENTS and PAG_CHECKPOINT_SECONDS) and when the gateway stops. */
  readonly checkpoints: Checkpointer;
  readonly metrics: GatewayMetrics;
  /** Every incoming department message, whatever its channel, goes through here. */
  readonly inbound: InboundService;
  /** Messages from peer gateways (POST /api/peer/messages). */
  readonly peers: PeerService;
  /** The key registry (certs/, PAG_CERTS_DIR): this gateway's signing keys and the departments' verification keys. */
  readonly keys: KeyRegistry;
  /** Signs every message the adapters send. */
  readonly signer: GatewaySigner;
  /** Pulls status changes from the province when `province.pull` is configured (read at start-up). */
  readonly province: ProvincePuller | null;
  private server: Server | null = null;
  private calendarTimer: NodeJS.Timeout | null = null;
  private started = false;
  /** Configuration changes apply one at a time, in version order. */
  private reconfiguring: Promise<void> = Promise.resolve();

  private constructor(
    readonly settings: Settings,
    private cfg: GatewayConfig,
    /** The stored configuration version this gateway runs. */
    private cfgVersion: number,
    readonly db: Db,
    readonly clock: Clock,
    private cal: WorkingCalendar,
    readonly tokens: TokenService,
    readonly log: Logger,
    pollMs: number,
    private readonly dispatch: boolean,
    private readonly pull: boolean,
  ) {
    const addWorkingDays: AddWorkingDays = (from, n) => {
      const r = this.cal.addWorkingDays(new Date(from), n);
      return { dueAt: r.dueAt.getTime(), provisional: r.provisional };
    };
    const config = cfg;
    this.metrics = new GatewayMetrics(db);
    this.cases = new CaseService(db, config, clock, addWorkingDays, this.hub, this.instance);
    this.followUps = new FollowUpService(db, () => this.cfg, clock, addWorkingDays, this.hub);
    this.complaints = new ComplaintService(db, () => this.cfg, clock, addWorkingDays, this.hub);
    this.users = new UserService(db, tokens, config.gateway.name, (id) => this.cfg.departments.some((d) => d.id === id), () => this.hub.committed({ events: true }), loginLimits(config.gateway.login));
    for (const [name, a] of Object.entries(config.adapters)) if (a.enabled) this.adapters.set(name, createAdapter(name, a.kind, a.options));
    this.dispatcher = new Dispatcher(db, this.adapters, config.adapters, this.cases, this.hub, config.gateway.id, log.child({ module: 'dispatcher' }), {
      batch: 200,
      pollMs,
      concurrency: 16,
      // PAG_DISPATCH_LEASE_MS (tuning): longer than any send may take; fault tests shorten it so a killed gateway's messages go again soon.
      leaseMs: Number(process.env.PAG_DISPATCH_LEASE_MS) > 0 ? Number(process.env.PAG_DISPATCH_LEASE_MS) : 60_000,
      metrics: this.metrics,
    });
    // PAG_TIMEKEEPER_BATCH: deadlines fired per transaction (tuning; fault tests make it small to stop a gateway mid-way).
    const batch = Number(process.env.PAG_TIMEKEEPER_BATCH) > 0 ? Number(process.env.PAG_TIMEKEEPER_BATCH) : 500;
    this.timekeeper = new Timekeeper(this.cases, clock, log.child({ module: 'timekeeper' }), { batch, pollMs, onFired: (n) => this.metrics.deadlines.inc(n) });
    // Demo keys are published; a production configuration neither signs with nor accepts them.
    this.keys = new KeyRegistry(settings.certsDir, config.gateway.environment === 'production');
    this.checkpoints = new Checkpointer(db, this.keys, config.gateway.id, log.child({ module: 'audit' }), () => checkpointPolicy(this.cfg.gateway.auditCheckpoint));
    this.stats = new StatsProjector(db, log.child({ module: 'stats' }), { pollMs: Math.max(pollMs, 1000), minIntervalMs: 200 });
    this.sealer = new Sealer(db, this.hub, log.child({ module: 'audit' }), { pollMs, onSealed: this.stats.kick }, this.checkpoints);
    this.signer = new GatewaySigner(this.keys, config.gateway.id, db);
    this.inbound = new InboundService(db, config, { cases: this.cases, followUps: this.followUps }, this.dispatcher, tokens, log.child({ module: 'inbound' }), {
      keys: this.keys,
      gatewayId: config.gateway.id,
      // The gateway section is read at start-up only: a change needs a restart.
      signatures: signatureSettings(config),
      committed: () => this.hub.committed({ events: true }),
      certsDir: settings.certsDir,
    }, this.metrics);
    this.province = config.province?.pull
      ? new ProvincePuller(db, () => this.cfg, this.keys, config.gateway.id, log.child({ module: 'province-pull' }), (what) => this.hub.committed({ events: true, ...what }))
      : null;
    this.peers = new PeerService(db, this.cases, {
      gatewayId: config.gateway.id,
      keys: this.keys,
      windowSeconds: signatureSettings(config).windowSeconds,
      config: () => this.cfg,
      committed: () => this.hub.committed({ events: true }),
      count: (channel, kind, result) => this.metrics.inbound.inc({ channel, kind, result }),
    }, log.child({ module: 'peer' }));
  }

  /** Loads and validates everything, migrates the store and seeds demo users; serves nothing yet. */
  static async open(opts: GatewayOptions): Promise<Gateway> {
    const { settings } = opts;
    const log = opts.logger ?? createLogger(settings.logLevel);
    compileAll();
    loadConfig(settings.configFile); // a bad file stops start-up before the store is touched
    const db = opts.db ?? openDb(settings);
    await migrate(db);
    // The file is the baseline; administrators' later changes live as newer versions in the store (see config/runtime.ts).
    const { version } = await importFileIfChanged(db, settings.configFile, { kind: 'system', id: 'gateway', role: 'dispatcher', instance: 'start-up' }, Date.now());
    const config = configFromDocument(version.document, settings.configFile);
    const tlsProblem = tlsFilesProblem(settings.certsDir, config);
    if (tlsProblem) throw new GatewayError('CONFIG_INVALID', { file: settings.configFile, ...tlsProblem });
    const fileCalendar = loadCalendar(config.calendarFile);
    await seedCalendar(db, { version: fileCalendar.version, ...readCalendarFile(config.calendarFile) });
    const calendar = await loadCalendarFromDb(db);
    let clock: Clock = new SystemClock();
    if (settings.clock === 'manual') {
      const saved = await db.get<{ value: string }>("SELECT value FROM settings WHERE key = 'manual_clock'");
      clock = new ManualClock(saved ? Number(saved.value) : Date.now());
    }
    const tokens = await TokenService.create({ issuer: config.gateway.id, audience: `${config.gateway.id}/api`, ttlSeconds: config.gateway.tokenTtlSeconds, secret: await tokenSecret(db) });
    const gw = new Gateway(settings, config, version.version, db, clock, calendar, tokens, log, opts.pollMs ?? 500, opts.dispatch ?? true, opts.pull ?? true);
    // scrypt runs on libuv's thread pool, so hashing the demo users side by side takes a fraction of the time.
    await Promise.all(
      loadDemoUsers(config).map(async (u) => {
        if (!(await gw.users.exists(u.username))) await gw.users.add({ ...u, demo: true }).catch((e: unknown) => {
          if ((e as { code?: string }).code !== 'USER_EXISTS') throw e; // another gateway seeded it first
        });
      }),
    );
    return gw;
  }

  /** Starts adapters and background workers, then listens. */
  async start(): Promise<{ port: number; host: string }> {
    this.started = true;
    for (const a of this.adapters.values()) await this.startAdapter(a, this.cfg);
    const app = createApp(this, this.log.child({ module: 'http' }));
    await this.sealer.start();
    this.stats.start();
    if (this.dispatch) this.dispatcher.start();
    this.timekeeper.start();
    if (this.pull) this.province?.start();
    // Another gateway on the same database (or `pag adapters|departments`) may have changed the calendar or the
    // configuration; pick that up within seconds.
    this.calendarTimer = setInterval(() => {
      void this.refreshCalendar().catch((e: Error) => this.log.error({ err: e.message }, 'calendar refresh failed'));
      void this.refreshConfig().catch((e: Error) => this.log.error({ err: e.message }, 'configuration refresh failed'));
    }, 2000);
    this.calendarTimer.unref();
    const tls = this.config.gateway.tls;
    // HTTPS asks every client for a certificate but lets the handshake finish without one: each department's binding
    // is checked per message (its own CA, its name), so a department without one can still use its token alone.
    this.server = tls
      ? createHttpsServer({ cert: readCertsFile(this.settings.certsDir, tls.cert), key: readCertsFile(this.settings.certsDir, tls.key), requestCert: true, rejectUnauthorized: false }, app)
      : createHttpServer(app);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.settings.port, this.settings.host, () => resolve());
    });
    const addr = this.server!.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.settings.port;
    this.log.info({ port, host: this.settings.host, store: this.db.description, clock: this.clock.manual ? 'manual' : 'system', environment: this.config.gateway.environment }, 'gateway listening');
    return { port, host: this.settings.host };
  }

  async stop(): Promise<void> {
    if (this.calendarTimer) clearInterval(this.calendarTimer);
    await this.reconfiguring;
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
      this.server = null;
    }
    await this.province?.stop();
    await this.timekeeper.stop();
    await this.dispatcher.stop();
    await this.sealer.stop();
    await this.stats.stop();
    for (const a of this.adapters.values()) await a.stop();
    await this.db.close();
  }

  async adapterHealth(): Promise<Record<string, AdapterHealth>> {
    const out: Record<string, AdapterHealth> = {};
    for (const [name, a] of this.adapters) out[name] = await a.health().catch((e: Error) => ({ ok: false, detail: e.message }));
    return out;
  }

  get config(): GatewayConfig {
    return this.cfg;
  }

  get configVersion(): number {
    return this.cfgVersion;
  }

  private async startAdapter(a: Adapter, config: GatewayConfig): Promise<void> {
    await a.start({
      gatewayId: config.gateway.id,
      logger: this.log.child({ module: 'adapter', adapter: a.name }),
      inbound: this.inbound,
      departments: config.departments.filter((d) => d.adapter === a.name).map((d) => d.id),
      signer: this.signer,
      certsDir: this.settings.certsDir,
    });
  }

  /** Applies a newer stored configuration version (from this or another gateway, or the command line). */
  async refreshConfig(): Promise<void> {
    if ((await currentVersionNumber(this.db)) <= this.cfgVersion) return;
    const v = await latestVersion(this.db);
    if (v) await this.apply(v);
  }

  /**
   * Swaps in a configuration version: adapters whose kind, options or departments changed are restarted, disabled or
   * removed ones stopped, new ones started; services see the new departments, routes and rules from the next request.
   */
  private apply(v: ConfigVersion): Promise<void> {
    const run = async () => {
      if (v.version <= this.cfgVersion) return;
      const next = configFromDocument(v.document, this.settings.configFile);
      const prev = this.cfg;
      const served = (c: GatewayConfig, name: string) => JSON.stringify(c.departments.filter((d) => d.adapter === name).map((d) => d.id));
      const stopping: Adapter[] = [];
      for (const [name, running] of [...this.adapters]) {
        const a = next.adapters[name];
        const same = a && a.enabled && a.kind === prev.adapters[name]?.kind && JSON.stringify(a.options) === JSON.stringify(prev.adapters[name]?.options) && served(prev, name) === served(next, name);
        if (!same) {
          this.adapters.delete(name);
          stopping.push(running);
        }
      }
      // Old instances stop before new ones start, so two connections never consume one department's queue.
      for (const a of stopping) await a.stop().catch((e: Error) => this.log.warn({ adapter: a.name, err: e.message }, 'adapter did not stop cleanly'));
      for (const [name, a] of Object.entries(next.adapters)) {
        if (!a.enabled || this.adapters.has(name)) continue;
        const adapter = createAdapter(name, a.kind, a.options);
        if (this.started) await this.startAdapter(adapter, next);
        this.adapters.set(name, adapter);
      }
      this.cases.reconfigure(next);
      this.inbound.reconfigure(next);
      this.dispatcher.reconfigure(next.adapters);
      this.cfg = next;
      this.cfgVersion = v.version;
      this.log.info({ version: v.version, summary: v.summary }, 'configuration applied');
      this.dispatcher.kick();
    };
    this.reconfiguring = this.reconfiguring.then(run, run);
    return this.reconfiguring;
  }

  /** An administrator's change to the running configuration (validated as a whole, stored, audited, applied here at once). */
  async changeConfig(actor: Actor, summary: string, change: (doc: Record<string, unknown>) => void, expected?: number): Promise<ConfigVersion> {
    const check = (c: GatewayConfig) => {
      const problem = tlsFilesProblem(this.settings.certsDir, c);
      if (problem) throw new GatewayError('CONFIG_CHANGE_INVALID', problem);
    };
    const { version } = await changeConfig(this.db, this.settings.configFile, actor, Date.now(), summary, change, expected, check);
    this.hub.committed({ events: true });
    await this.apply(version);
    return version;
  }

  /** Adds or replaces an adapter entry (as in the configuration file). */
  putAdapter(name: string, entry: unknown, actor: Actor, expected?: number): Promise<ConfigVersion> {
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) fail('CONFIG_CHANGE_INVALID', { path: `/adapters/${name}`, reason: 'an adapter name is lower-case letters, digits, - and _' });
    const verb = this.cfg.adapters[name] ? 'changed' : 'added';
    return this.changeConfig(actor, `${verb} adapter ${name}`, (doc) => {
      (doc.adapters as Record<string, unknown>)[name] = entry;
    }, expected);
  }

  setAdapterEnabled(name: string, enabled: boolean, actor: Actor, expected?: number): Promise<ConfigVersion> {
    if (!this.cfg.adapters[name]) fail('NOT_FOUND', { what: 'adapter' });
    return this.changeConfig(actor, `${enabled ? 'enabled' : 'disabled'} adapter ${name}`, (doc) => {
      (doc.adapters as Record<string, Record<string, unknown>>)[name]!.enabled = enabled;
    }, expected);
  }

  /** A department still using the adapter makes the whole document invalid: refused with that department's path. */
  removeAdapter(name: string, actor: Actor, expected?: number): Promise<ConfigVersion> {
    if (!this.cfg.adapters[name]) fail('NOT_FOUND', { what: 'adapter' });
    return this.changeConfig(actor, `removed adapter ${name}`, (doc) => {
      delete (doc.adapters as Record<string, unknown>)[name];
    }, expected);
  }

  putDepartment(dep: Department, actor: Actor, expected?: number): Promise<ConfigVersion> {
    const verb = this.cfg.departments.some((d) => d.id === dep.id) ? 'changed' : 'added';
    return this.changeConfig(actor, `${verb} department ${dep.id}`, (doc) => {
      const list = doc.departments as Department[];
      const i = list.findIndex((d) => d.id === dep.id);
      if (i >= 0) list[i] = dep;
      else list.push(dep);
    }, expected);
  }

  /** Refused while the department has open reviews or permits: nobody would be left to answer them. */
  async removeDepartment(id: string, actor: Actor, expected?: number): Promise<ConfigVersion> {
    if (!this.cfg.departments.some((d) => d.id === id)) fail('NOT_FOUND', { what: 'department' });
    const open = await this.db.get<{ n: number | string }>(
      `SELECT (SELECT COUNT(*) FROM reviews WHERE department_id = $1 AND state IN ('pending_delivery', 'delivered', 'extended'))
            + (SELECT COUNT(*) FROM permits WHERE department_id = $1 AND reported_at IS NULL) AS n`,
      [id],
    );
    if (Number(open?.n ?? 0) > 0) fail('DEPARTMENT_IN_USE', { departmentId: id, count: Number(open!.n) });
    return this.changeConfig(actor, `removed department ${id}`, (doc) => {
      doc.departments = (doc.departments as Department[]).filter((d) => d.id !== id);
    }, expected);
  }

  /** Re-reads the configuration file as a new version (`pag adapters reload`). */
  async reloadConfigFile(actor: Actor): Promise<ConfigVersion> {
    const version = await importFile(this.db, this.settings.configFile, actor, Date.now());
    this.hub.committed({ events: true });
    await this.apply(version);
    return version;
  }

  /**
   * Sends a test message through an adapter and reports the round trip or the exact failure. Uses the running instance, or
   * (adapter disabled, or a command-line gateway that serves nothing) a temporary one started for the test.
   */
  async testAdapter(name: string, departmentId?: string): Promise<AdapterTestReport> {
    const a = this.cfg.adapters[name];
    if (!a) fail('NOT_FOUND', { what: 'adapter' });
    const served = this.cfg.departments.filter((d) => d.adapter === name).map((d) => d.id);
    const to = departmentId ?? served[0];
    if (!to) fail('CONFIG_CHANGE_INVALID', { path: `/adapters/${name}`, reason: 'no department uses this adapter; name one to test with' });
    let adapter = this.started ? this.adapters.get(name) : undefined;
    const temporary = !adapter;
    if (!adapter) {
      adapter = createAdapter(name, a.kind, a.options);
      await this.startAdapter(adapter, this.cfg);
    }
    const id = `test-${randomUUID()}`;
    const t0 = performance.now();
    try {
      const out = await adapter.send({ id, kind: 'test', caseId: null, departmentId: to, sender: this.cfg.gateway.id, attempt: 1, payload: { test: true, at: new Date().toISOString() } });
      return { ok: true, adapter: name, departmentId: to, messageId: id, ms: Math.round(performance.now() - t0), outcome: out.status, detail: out.status === 'sent' ? 'accepted by the broker; the department confirms with a receipt' : 'acknowledged by the department' };
    } catch (e) {
      return { ok: false, adapter: name, departmentId: to, messageId: id, ms: Math.round(performance.now() - t0), failure: classifyFailure(e), detail: (e as Error).message };
    } finally {
      if (temporary) await adapter.stop().catch(() => undefined);
    }
  }

  /**
   * Working days left until a deadline, for countdowns: 0 on the due date, negative once past it (see
   * WorkingCalendar.workingDaysBetween); null without a deadline, or where the calendar does not cover the span.
   */
  workingDaysLeft(dueAt: number | null): number | null {
    if (dueAt === null) return null;
    const now = this.clock.now();
    try {
      const n = this.cal.workingDaysBetween(new Date(now), new Date(dueAt));
      // Past its due instant on the due date itself is overdue, not "due today".
      return dueAt < now && n === 0 ? -1 : n;
    } catch {
      return null;
    }
  }

  get calendar(): WorkingCalendar {
    return this.cal;
  }

  /** Reloads the calendar table when its version changed (an administrator's edit here or on another gateway). */
  async refreshCalendar(): Promise<void> {
    if ((await calendarVersion(this.db)) !== this.cal.version) this.cal = await loadCalendarFromDb(this.db);
  }

  async setCalendarDay(day: string, kind: DayKind, actor: Actor): Promise<WorkingCalendar> {
    this.cal = await setDay(this.db, day, kind, actor, this.clock.now());
    this.hub.committed({ events: true });
    return this.cal;
  }

  async setCalendarYear(year: number, holidays: string[], workdays: string[], actor: Actor): Promise<WorkingCalendar> {
    this.cal = await setYear(this.db, year, holidays, workdays, actor, this.clock.now());
    this.hub.committed({ events: true });
    return this.cal;
  }

  supervision(): Promise<SupervisionReport> {
    return supervisionReport(this.db, this.clock.now(), (from, n) => this.cal.addWorkingDays(new Date(from), n).dueAt.getTime());
  }

  /** The supervision report of the period [from, to) (epoch ms), for every department or one. */
  supervisionPeriod(from: number, to: number, departmentId?: string): Promise<PeriodReport> {
    return supervisionPeriodReport(this.db, from, to, this.clock.now(), departmentId);
  }

  /** Moves the manual clock forward, persists it, audits it, and lets the timekeeper act at once. */
  async setClock(ms: number, actor: Actor): Promise<void> {
    if (!(this.clock instanceof ManualClock)) fail('CLOCK_NOT_MANUAL');
    // Moving back is allowed (a test or demo starts from a fixed date); what already fired stays fired, and the audit says so.
    const backwards = ms < this.clock.now();
    await this.db.tx(async (sql) => {
      await sql.run("INSERT INTO settings (key, value) VALUES ('manual_clock', $1) ON CONFLICT (key) DO UPDATE SET value = $1", [String(ms)]);
      await appendEvents(sql, null, ms, actor, [{ action: 'clock.set', data: { now: new Date(ms).toISOString(), backwards } }]);
    });
    (this.clock as ManualClock).set(ms);
    this.hub.committed({ events: true });
    await this.timekeeper.settled();
  }
}

/** What `pag adapters test` and POST /api/admin/adapters/{name}/test report. */
export type AdapterTestReport = { ok: boolean; adapter: string; departmentId: string; messageId: string; ms: number; outcome?: string; failure?: string; detail: string };

/** Names the kind of failure an administrator acts on: connection refused, TLS, timeout, refusal or fault, or other. */
export function classifyFailure(e: unknown): string {
  const text = `${(e as Error)?.message ?? ''} ${String((e as { cause?: { code?: string } })?.cause?.code ?? '')}`;
  if (/ECONNREFUSED|connection refused/i.test(text)) return 'connection refused';
  if (/CERT|SSL|TLS|self[- ]signed|certificate/i.test(text)) return 'tls';
  if (/timeout|timed out|aborted|ETIMEDOUT/i.test(text)) return 'timeout';
  if (/ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/i.test(text)) return 'unreachable';
  if (/fault/i.test(text)) return 'fault';
  if (e instanceof AdapterError && !e.retryable) return 'refused';
  return 'error';
}

/** The token signing secret lives in the store so that every instance on one database accepts the others' tokens. */
/** The configuration's login throttling (seconds) as the guard's options (milliseconds); absent fields keep its defaults. */
function loginLimits(l: GatewayConfig['gateway']['login']): LoginGuardOptions {
  const ms = (s?: number) => (s === undefined ? undefined : s * 1000);
  const o: LoginGuardOptions = { maxAttemptsPerIp: l?.maxAttemptsPerAddress, ipWindowMs: ms(l?.addressWindowSeconds), maxFailures: l?.maxFailures, lockMs: ms(l?.lockSeconds) };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The first TLS file of the configuration that cannot be used (outside the certificates folder, missing, not a CA), with its path. */
function tlsFilesProblem(certsDir: string, config: GatewayConfig): { path: string; reason: string } | null {
  for (const [i, d] of config.departments.entries()) {
    if (!d.clientCertificate) continue;
    try {
      loadBinding(certsDir, d.id, d.clientCertificate);
    } catch (e) {
      return { path: `/departments/${i}/clientCertificate/ca`, reason: (e as Error).message };
    }
  }
  return null;
}

async function tokenSecret(db: Db): Promise<Uint8Array> {
  const { randomBytes } = await import('node:crypto');
  await db.run("INSERT INTO settings (key, value) VALUES ('token_secret', $1) ON CONFLICT (key) DO NOTHING", [randomBytes(32).toString('base64')]);
  const row = await db.get<{ value: string }>("SELECT value FROM settings WHERE key = 'token_secret'");
  return new Uint8Array(Buffer.from(row!.value, 'base64'));
}
