// SQLite store (better-sqlite3): the embedded default; one connection, WAL, transactions serialised in process.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db, Sql } from './sql.js';

type Statement = Database.Statement;

/** Rewrites $n placeholders to positional ? and maps the parameter order, once per distinct SQL text. */
function compile(text: string): { sql: string; order: number[] } {
  const order: number[] = [];
  const sql = text.replace(/\$(\d+)/g, (_, n: string) => {
    order.push(Number(n) - 1);
    return '?';
  });
  return { sql, order };
}

/** At most this many transactions share one commit. */
const GROUP_COMMIT_MAX = 64;

const bind = (v: unknown): unknown => (typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v);

export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  readonly description: string;
  private readonly db: Database.Database;
  private readonly cache = new Map<string, { stmt: Statement; order: number[]; reader: boolean }>();
  // Every access goes through this chain: better-sqlite3 has one connection, so an async transaction must not interleave with other work.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    // A larger page cache and memory-mapped reads keep hot index pages out of read system calls.
    this.db.pragma('cache_size = -65536');
    this.db.pragma('mmap_size = 268435456');
    // Checkpoint every ~40 MB of WAL instead of every 4 MB: a page rewritten by many commits is copied back once, and
    // the checkpoint's fsync comes a tenth as often. Durability is the WAL's either way; the limit truncates it after.
    this.db.pragma('wal_autocheckpoint = 10000');
    this.db.pragma('journal_size_limit = 67108864');
    this.description = `sqlite:${file}`;
  }

  private prepare(text: string) {
    let c = this.cache.get(text);
    if (!c) {
      const { sql, order } = compile(text);
      const stmt = this.db.prepare(sql);
      c = { stmt, order, reader: stmt.reader };
      this.cache.set(text, c);
    }
    return c;
  }

  private args(order: number[], params: unknown[]): unknown[] {
    return order.map((i) => bind(params[i]));
  }

  private direct: Sql = {
    dialect: 'sqlite',
    all: async <T>(text: string, params: unknown[] = []) => {
      const c = this.prepare(text);
      return (c.reader ? c.stmt.all(...this.args(c.order, params)) : (c.stmt.run(...this.args(c.order, params)), [])) as T[];
    },
    get: async <T>(text: string, params: unknown[] = []) => {
      const c = this.prepare(text);
      return (c.reader ? c.stmt.get(...this.args(c.order, params)) : (c.stmt.run(...this.args(c.order, params)), undefined)) as T | undefined;
    },
    run: async (text: string, params: unknown[] = []) => {
      const c = this.prepare(text);
      if (c.reader) {
        c.stmt.all(...this.args(c.order, params));
        return 0;
      }
      return c.stmt.run(...this.args(c.order, params)).changes;
    },
  };

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  all<T>(text: string, params?: unknown[]): Promise<T[]> {
    return this.serial(() => this.direct.all<T>(text, params));
  }
  get<T>(text: string, params?: unknown[]): Promise<T | undefined> {
    return this.serial(() => this.direct.get<T>(text, params));
  }
  run(text: string, params?: unknown[]): Promise<number> {
    return this.serial(() => this.direct.run(text, params));
  }

  /**
   * Group commit: transactions that arrive while another commits are run together in one SQLite transaction,
   * each inside its own savepoint. A failing one rolls back to its savepoint alone; every caller is answered only
   * after the shared COMMIT, so each still sees its own transaction either durable or not applied at all.
   * Why: a commit rewrites every page it touched into the WAL, and concurrent cases touch the same index pages,
   * so one commit for many transactions writes a fraction of the pages.
   */
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ fn: fn as (sql: Sql) => Promise<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        void this.serial(() => this.flush());
      }
    });
  }

  private waiting: { fn: (sql: Sql) => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private flushQueued = false;

  private async flush(): Promise<void> {
    // A lone transaction waits for the end of this turn of the event loop, so that transactions started by other
    // I/O callbacks of the same turn (HTTP requests on other sockets) share its commit; under in-process load the
    // queue is never this short and nothing waits.
    if (this.waiting.length === 1) await new Promise<void>((resolve) => setImmediate(resolve));
    this.flushQueued = false;
    const done: { ok: boolean; value: unknown; unit: SqliteDb['waiting'][number] }[] = [];
    this.db.exec('BEGIN IMMEDIATE');
    try {
      // Transactions that arrive while the batch runs join it, up to a bound that keeps the first caller's wait short.
      while (this.waiting.length > 0 && done.length < GROUP_COMMIT_MAX) {
        const unit = this.waiting.shift()!;
        this.db.exec('SAVEPOINT unit');
        try {
          const value = await unit.fn(this.direct);
          this.db.exec('RELEASE unit');
          done.push({ ok: true, value, unit });
        } catch (e) {
          this.db.exec('ROLLBACK TO unit');
          this.db.exec('RELEASE unit');
          done.push({ ok: false, value: e, unit });
        }
      }
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (const d of done) d.unit.reject(e);
      throw e;
    } finally {
      if (this.waiting.length > 0 && !this.flushQueued) {
        this.flushQueued = true;
        void this.serial(() => this.flush());
      }
    }
    for (const d of done) (d.ok ? d.unit.resolve : d.unit.reject)(d.value);
  }

  /** Runs a script of several statements (migrations). */
  exec(script: string): void {
    this.db.exec(script);
  }

  async close(): Promise<void> {
    await this.queue;
    this.db.close();
  }
}
