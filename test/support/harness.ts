// Test harness: a real gateway on a fresh SQLite file or a fresh PostgreSQL schema, a manual clock, and logged-in clients.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { settingsFromEnv, type Settings } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { CONFIG_DIR } from '../../src/paths.js';
import { PostgresDb } from '../../src/store/postgres.js';
import type { Db } from '../../src/store/sql.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { currentTotp } from '../../src/trust/totp.js';
import demoUsers from '../../config/demo-users.json' with { type: 'json' };

export type StoreKind = 'sqlite' | 'postgres';
export const PG_URL = process.env.PAG_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Stores the integration suite runs over; PAG_TEST_STORES=sqlite narrows it. */
export const STORES: StoreKind[] = ((process.env.PAG_TEST_STORES ?? 'sqlite,postgres').split(',') as StoreKind[]).filter((s) => s === 'sqlite' || s === 'postgres');

/** A fresh, empty store; PostgreSQL gets its own schema named after the test, dropped on cleanup. */
export async function freshStore(kind: StoreKind, name: string): Promise<{ db: () => Db; url?: string; schema?: string; dir: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pag-test-'));
  if (kind === 'sqlite') {
    return { db: () => new SqliteDb(join(dir, 'gateway.sqlite')), dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `t_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 40)}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  return {
    db: () => new PostgresDb(PG_URL, { schema }),
    url: PG_URL,
    schema,
    dir,
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes a copy of the default configuration, changed by `change`, into `dir` and returns its path. The copy names the
 * calendar and demo users by absolute paths, since it lives elsewhere than config/.
 */
export function writeConfig(dir: string, name: string, change: (cfg: any) => void): string {
  const cfg = JSON.parse(readFileSync(join(CONFIG_DIR, 'default.json'), 'utf8'));
  delete cfg.$schema;
  cfg.calendar = join(CONFIG_DIR, 'calendar/cn.json');
  cfg.gateway.demoUsers = join(CONFIG_DIR, 'demo-users.json');
  change(cfg);
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(cfg));
  return file;
}

export const silentLogger = () => pino({ level: process.env.PAG_TEST_LOG ?? 'silent' });

export function testSettings(over: Partial<Settings> = {}): Settings {
  return { ...settingsFromEnv({}), port: 0, clock: 'manual', logLevel: 'silent', ...over };
}

/** A started gateway with an HTTP client bound to it. */
export interface Running {
  gw: Gateway;
  base: string;
  stop: () => Promise<void>;
}

export async function startGateway(db: Db, over: Partial<Settings> = {}, opts: { dispatch?: boolean } = {}): Promise<Running> {
  const gw = await Gateway.open({ settings: testSettings(over), db, logger: silentLogger(), pollMs: 50, dispatch: opts.dispatch });
  const { port } = await gw.start();
  return { gw, base: `http://127.0.0.1:${port}`, stop: () => gw.stop() };
}

const usedSteps = new Map<string, number>();

/** A one-time code of a demo user for a TOTP step not used before in this user store (named by `realm`): good once. */
export function freshOtp(realm: string, username: string): string {
  const u = demoUsers.users.find((x) => x.username === username);
  if (!u) throw new Error(`no demo user ${username}`);
  const key = `${realm}|${username}`;
  const now = Date.now();
  const step = Math.max(Math.floor(now / 30_000) - 1, (usedSteps.get(key) ?? -Infinity) + 1);
  if (step > Math.floor(now / 30_000) + 1) throw new Error('too many one-time codes of one user within a minute');
  usedSteps.set(key, step);
  return currentTotp(u.totpSecret, step * 30_000 + 1000);
}

/** Logs a demo user in with a fresh TOTP step each time (a code may be used only once per user store, named by `realm`). */
export async function login(base: string, username: string, realm = base): Promise<string> {
  const u = demoUsers.users.find((x) => x.username === username);
  if (!u) throw new Error(`no demo user ${username}`);
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: u.password, otp: freshOtp(realm, username) }),
  });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** A JSON client for one logged-in user. */
export function client(base: string, token: string | null) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, body: json, headers: res.headers };
  };
  return {
    get: (p: string, h?: Record<string, string>) => call('GET', p, undefined, h),
    post: (p: string, b?: unknown, h?: Record<string, string>) => call('POST', p, b ?? {}, h),
    put: (p: string, b?: unknown, h?: Record<string, string>) => call('PUT', p, b ?? {}, h),
    delete: (p: string, h?: Record<string, string>) => call('DELETE', p, undefined, h),
  };
}

export type Client = ReturnType<typeof client>;

let n = 0;
/** A valid application; each call gets a distinct enterprise name unless one is given. */
export function application(over: Record<string, unknown> = {}): Record<string, unknown> {
  n += 1;
  return {
    enterpriseName: `南京玄武测试餐饮有限公司${process.pid}-${n}`,
    legalForm: 'limited_liability_company',
    registeredCapital: 2_000_000,
    industry: 'catering',
    businessScope: ['catering'],
    address: '南京市玄武区中山路1号',
    divisionCode: '320102',
    investors: [{ name: '张三', idNumber: '32010219800101001X' }],
    contact: { name: '张三', phone: '13800000000' },
    ...over,
  };
}

/** Submits `app` as the secretary `sec`, accepts it and steps the dispatcher until every review is delivered; returns the case id. */
export async function deliveredCase(run: Running, sec: Client, app: Record<string, unknown> = application()): Promise<string> {
  const created = await sec.post('/api/cases', app);
  if (created.status !== 201) throw new Error(`submit: ${created.status} ${JSON.stringify(created.body)}`);
  const id = created.body.id as string;
  const accepted = await sec.post(`/api/cases/${id}/accept`);
  if (accepted.status !== 200) throw new Error(`accept: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  for (let i = 0; i < 200; i++) {
    await run.gw.dispatcher.runOnce();
    if ((await run.gw.cases.get(id)).reviews.every((r) => r.state === 'delivered')) return id;
  }
  throw new Error(`case ${id}: not every review was delivered`);
}
