// Shared benchmark plumbing: fresh stores, a production-like gateway with a manual clock, applications, bounded worker pools.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { settingsFromEnv, type Settings } from '../src/config/load.js';
import type { Actor, Application } from '../src/domain/types.js';
import { Gateway } from '../src/gateway.js';
import { createLogger } from '../src/log.js';
import { PostgresDb } from '../src/store/postgres.js';
import type { Db } from '../src/store/sql.js';
import { SqliteDb } from '../src/store/sqlite.js';

export type StoreKind = 'sqlite' | 'postgres';
export const PG_URL = process.env.BENCH_DATABASE_URL ?? process.env.PAG_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_KEEP=1 keeps each run's temp dir (SQLite file and the gateway's log) for inspection; PostgreSQL schemas are still dropped. */
const KEEP = process.env.BENCH_KEEP === '1';
const removeDir = (dir: string) => (KEEP ? process.stderr.write(`bench: kept ${dir}\n`) : rmSync(dir, { recursive: true, force: true }));

/** 'catering' needs health, environment, fire; 'bar' adds police: four departments in Xuanwu (320102). */
export const SCOPE = ['catering', 'bar'];
export const DEPARTMENTS = ['xw-health', 'xw-environment', 'xw-fire', 'xw-police'];

/** Monday 2 March 2026, 10:00 in Shanghai: a working day inside the shipped calendar (2024-2026), so no deadline is provisional. */
export const START_MS = Date.parse('2026-03-02T02:00:00Z');

export interface Store {
  kind: StoreKind;
  db: (opts?: { max?: number }) => Db;
  dir: string;
  schema?: string;
  cleanup: () => Promise<void>;
}

const cleanups = new Set<() => Promise<void>>();

/** Removes every store still open (used on SIGINT and after a failure). */
export async function cleanupAll(): Promise<void> {
  for (const c of [...cleanups]) await c().catch(() => undefined);
}

/** A fresh, empty store: a new SQLite file in a temp dir, or a new PostgreSQL schema; both removed by cleanup. */
export async function freshStore(kind: StoreKind, name: string): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), `pag-bench-${name}-`));
  let cleanup: () => Promise<void>;
  let store: Store;
  if (kind === 'sqlite') {
    cleanup = async () => void removeDir(dir);
    store = { kind, db: () => new SqliteDb(join(dir, 'gateway.sqlite')), dir, cleanup: async () => { cleanups.delete(cleanup); await cleanup(); } };
  } else {
    const schema = `bench_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
    await adminQuery(`CREATE SCHEMA ${schema}`);
    cleanup = async () => {
      await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      removeDir(dir);
    };
    store = { kind, db: (o) => new PostgresDb(PG_URL, { schema, ...(o?.max ? { max: o.max } : {}) }), dir, schema, cleanup: async () => { cleanups.delete(cleanup); await cleanup(); } };
  }
  cleanups.add(cleanup);
  return store;
}

export async function adminQuery<T = Record<string, unknown>>(text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

export function settings(store: Store, over: Partial<Settings> = {}): Settings {
  // Manual clock so deadlines are deterministic; port 0 so runs never collide.
  return { ...settingsFromEnv({}), port: 0, host: '127.0.0.1', clock: 'manual', logLevel: 'info', dataDir: store.dir, databaseUrl: null, ...over };
}

/** A copy of the default configuration, changed by `change`, in the store's folder (paths in it made absolute). */
export function benchConfig(store: Store, change: (cfg: any) => void): string {
  const file = settingsFromEnv({}).configFile;
  const cfg = JSON.parse(readFileSync(file, 'utf8'));
  delete cfg.$schema;
  cfg.calendar = resolve(dirname(file), cfg.calendar);
  cfg.gateway.demoUsers = resolve(dirname(file), cfg.gateway.demoUsers);
  change(cfg);
  const out = join(store.dir, 'config.json');
  writeFileSync(out, JSON.stringify(cfg));
  return out;
}

/** The product's own logger at its production level (info), written to a file in the run's temp dir, not to our table. */
export function benchLogger(store: Store): Logger {
  return createLogger('info', pino.destination({ dest: join(store.dir, 'gateway.log'), sync: true, mkdir: true }));
}

/** Opens and starts a gateway as production runs it: dispatcher, timekeeper and sealer in the background, HTTP listening. */
export async function startGateway(store: Store, db: Db = store.db(), over: Partial<Settings> = {}): Promise<{ gw: Gateway; base: string }> {
  const gw = await Gateway.open({ settings: settings(store, over), db, logger: benchLogger(store), pollMs: 500 });
  const { port } = await gw.start();
  await gw.setClock(START_MS, ADMIN);
  return { gw, base: `http://127.0.0.1:${port}` };
}

const user = (id: string, role: Actor['role']): Actor => ({ kind: 'user', id, role, adapter: 'bench-service' });
export const SECRETARY = user('secretary', 'secretary');
export const REGISTRAR = user('registrar', 'registrar');
export const ADMIN = user('admin', 'admin');
export const reviewer = (dep: string): Actor => user(`reviewer-${dep}`, 'reviewer');

/** A valid four-department application; `tag` keeps names unique (one pending application per name and district). */
export function application(tag: string, i: number): Application {
  return {
    enterpriseName: `南京玄武基准餐饮酒吧有限公司-${tag}-${i}`,
    legalForm: 'limited_liability_company',
    registeredCapital: 2_000_000,
    industry: 'catering',
    businessScope: [...SCOPE],
    address: '南京市玄武区中山路1号',
    divisionCode: '320102',
    investors: [{ name: '张三', idNumber: '32010219800101001X' }],
    contact: { name: '张三', phone: '13800000000' },
  };
}

export interface PoolResult {
  done: number;
  failed: number;
  elapsedMs: number;
  latenciesMs: number[];
  errors: string[];
}

/**
 * Runs `task` with `concurrency` in flight until `maxCount` tasks have started or `maxMs` has passed, then waits
 * for the tasks in flight; the rate is completed tasks over the wall time from first start to last finish.
 */
export async function pool(opts: { concurrency: number; maxCount: number; maxMs: number; task: (i: number) => Promise<void> }): Promise<PoolResult> {
  const started = performance.now();
  const deadline = started + opts.maxMs;
  let next = 0;
  const r: PoolResult = { done: 0, failed: 0, elapsedMs: 0, latenciesMs: [], errors: [] };
  const worker = async () => {
    while (next < opts.maxCount && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        await opts.task(i);
        r.done++;
        r.latenciesMs.push(performance.now() - t0);
      } catch (e) {
        r.failed++;
        if (r.errors.length < 5) r.errors.push(String((e as Error).message ?? e).slice(0, 300));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  r.elapsedMs = performance.now() - started;
  return r;
}

export function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Rejects after `ms`, so that no wait in the benchmark is unbounded. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
