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

  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.direct);
        this.db.exec('COMMIT');
        return result;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    });
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
