// Composition root: wires configuration, store, clock, adapters, services, background workers and the HTTP server.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Adapter, AdapterHealth } from '../adapters/adapter.js';
import { createAdapter } from '../adapters/index.js';
import { Dispatcher } from './bus/dispatcher.js';
import { Hub } from './bus/hub.js';
import { Sealer } from './bus/sealer.js';
import { Timekeeper } from './bus/timekeeper.js';
import { calendarVersion, loadCalendarFromDb, seedCalendar, setDay, setYear, type DayKind } from './calendar/calendar-store.js';
import { loadCalendar, readCalendarFile } from './calendar/load.js';
import type { WorkingCalendar } from './calendar/working-days.js';
import { ManualClock, SystemClock, type Clock } from './clock.js';
import { compileAll } from './config/schemas.js';
import { loadConfig, loadDemoUsers, type GatewayConfig, type Settings } from './config/load.js';
import { fail } from './domain/errors.js';
import type { Actor } from './domain/types.js';
import type { AddWorkingDays } from './domain/workflow.js';
import { createApp } from './http/app.js';
import { createLogger } from './log.js';
import { CaseService } from './service/cases.js';
import { InboundService } from './service/inbound.js';
import { supervisionReport, type SupervisionReport } from './service/supervision.js';
import { UserService } from './service/users.js';
import { appendEvents } from './store/case-repo.js';
import { migrate } from './store/migrations.js';
import { PostgresDb } from './store/postgres.js';
import type { Db } from './store/sql.js';
import { SqliteDb } from './store/sqlite.js';
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
  readonly users: UserService;
  readonly dispatcher: Dispatcher;
  readonly timekeeper: Timekeeper;
  readonly sealer: Sealer;
  /** Every incoming department message, whatever its channel, goes through here. */
  readonly inbound: InboundService;
  private server: Server | null = null;
  private calendarTimer: NodeJS.Timeout | null = null;

  private constructor(
    readonly settings: Settings,
    readonly config: GatewayConfig,
    readonly db: Db,
    readonly clock: Clock,
    private cal: WorkingCalendar,
    readonly tokens: TokenService,
    readonly log: Logger,
    pollMs: number,
    private readonly dispatch: boolean,
  ) {
    const addWorkingDays: AddWorkingDays = (from, n) => {
      const r = this.cal.addWorkingDays(new Date(from), n);
      return { dueAt: r.dueAt.getTime(), provisional: r.provisional };
    };
    this.cases = new CaseService(db, config, clock, addWorkingDays, this.hub, this.instance);
    this.users = new UserService(db, tokens, config.gateway.name, (id) => config.departments.some((d) => d.id === id));
    for (const [name, a] of Object.entries(config.adapters)) this.adapters.set(name, createAdapter(name, a.kind, a.options));
    this.dispatcher = new Dispatcher(db, this.adapters, config.adapters, this.cases, this.hub, config.gateway.id, log.child({ module: 'dispatcher' }), {
      batch: 200,
      pollMs,
      concurrency: 16,
      // PAG_DISPATCH_LEASE_MS (tuning): longer than any send may take; fault tests shorten it so a killed gateway's messages go again soon.
      leaseMs: Number(process.env.PAG_DISPATCH_LEASE_MS) > 0 ? Number(process.env.PAG_DISPATCH_LEASE_MS) : 60_000,
    });
    // PAG_TIMEKEEPER_BATCH: deadlines fired per transaction (tuning; fault tests make it small to stop a gateway mid-way).
    const batch = Number(process.env.PAG_TIMEKEEPER_BATCH) > 0 ? Number(process.env.PAG_TIMEKEEPER_BATCH) : 500;
    this.timekeeper = new Timekeeper(this.cases, clock, log.child({ module: 'timekeeper' }), { batch, pollMs });
    this.sealer = new Sealer(db, this.hub, log.child({ module: 'audit' }), { pollMs });
    this.inbound = new InboundService(db, config, this.cases, this.dispatcher, tokens, log.child({ module: 'inbound' }));
  }

  /** Loads and validates everything, migrates the store and seeds demo users; serves nothing yet. */
  static async open(opts: GatewayOptions): Promise<Gateway> {
    const { settings } = opts;
    const log = opts.logger ?? createLogger(settings.logLevel);
    compileAll();
    const config = loadConfig(settings.configFile);
    const fileCalendar = loadCalendar(config.calendarFile);
    const db = opts.db ?? openDb(settings);
    await migrate(db);
    await seedCalendar(db, { version: fileCalendar.version, ...readCalendarFile(config.calendarFile) });
    const calendar = await loadCalendarFromDb(db);
    let clock: Clock = new SystemClock();
    if (settings.clock === 'manual') {
      const saved = await db.get<{ value: string }>("SELECT value FROM settings WHERE key = 'manual_clock'");
      clock = new ManualClock(saved ? Number(saved.value) : Date.now());
    }
    const tokens = await TokenService.create({ issuer: config.gateway.id, audience: `${config.gateway.id}/api`, ttlSeconds: config.gateway.tokenTtlSeconds, secret: await tokenSecret(db) });
    const gw = new Gateway(settings, config, db, clock, calendar, tokens, log, opts.pollMs ?? 500, opts.dispatch ?? true);
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
    for (const a of this.adapters.values()) {
      await a.start({
        gatewayId: this.config.gateway.id,
        logger: this.log.child({ module: 'adapter', adapter: a.name }),
        inbound: this.inbound,
        departments: this.config.departments.filter((d) => d.adapter === a.name).map((d) => d.id),
      });
    }
    const app = createApp(this, this.log.child({ module: 'http' }));
    await this.sealer.start();
    if (this.dispatch) this.dispatcher.start();
    this.timekeeper.start();
    // Another gateway on the same database may have changed the calendar; pick that up within seconds.
    this.calendarTimer = setInterval(() => void this.refreshCalendar().catch((e: Error) => this.log.error({ err: e.message }, 'calendar refresh failed')), 2000);
    this.calendarTimer.unref();
    await new Promise<void>((resolve, reject) => {
      this.server = app.listen(this.settings.port, this.settings.host, () => resolve());
      this.server.once('error', reject);
    });
    const addr = this.server!.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.settings.port;
    this.log.info({ port, host: this.settings.host, store: this.db.description, clock: this.clock.manual ? 'manual' : 'system', environment: this.config.gateway.environment }, 'gateway listening');
    return { port, host: this.settings.host };
  }

  async stop(): Promise<void> {
    if (this.calendarTimer) clearInterval(this.calendarTimer);
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
      this.server = null;
    }
    await this.timekeeper.stop();
    await this.dispatcher.stop();
    await this.sealer.stop();
    for (const a of this.adapters.values()) await a.stop();
    await this.db.close();
  }

  async adapterHealth(): Promise<Record<string, AdapterHealth>> {
    const out: Record<string, AdapterHealth> = {};
    for (const [name, a] of this.adapters) out[name] = await a.health().catch((e: Error) => ({ ok: false, detail: e.message }));
    return out;
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

/** The token signing secret lives in the store so that every instance on one database accepts the others' tokens. */
async function tokenSecret(db: Db): Promise<Uint8Array> {
  const { randomBytes } = await import('node:crypto');
  await db.run("INSERT INTO settings (key, value) VALUES ('token_secret', $1) ON CONFLICT (key) DO NOTHING", [randomBytes(32).toString('base64')]);
  const row = await db.get<{ value: string }>("SELECT value FROM settings WHERE key = 'token_secret'");
  return new Uint8Array(Buffer.from(row!.value, 'base64'));
}
