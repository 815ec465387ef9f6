// PostgreSQL store (pg): for several gateway instances sharing one database; row locks and SKIP LOCKED share the work.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Db, Sql } from './sql.js';

// BIGINT columns hold epoch milliseconds and counters, all well inside 2^53: read them as numbers.
pg.types.setTypeParser(20, (v) => Number(v));

const RETRYABLE = new Set(['40001', '40P01']);

const names = new Map<string, string>();
/** A stable statement name per SQL text (texts are the code's own, so their number is bounded). */
function statementName(text: string): string {
  let n = names.get(text);
  if (!n) {
    n = `s${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, n);
  }
  return n;
}

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  readonly description: string;
  readonly pool: pg.Pool;
  private readonly direct: Sql;

  constructor(url: string, opts: { max?: number; schema?: string } = {}) {
    const options = opts.schema ? `-c search_path=${opts.schema}` : undefined;
    this.pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, options });
    // An idle client that loses its connection must not crash the process; the next checkout reconnects.
    this.pool.on('error', () => undefined);
    this.direct = PostgresDb.on(this.pool);
    const u = new URL(url);
    this.description = `postgres://${u.host}${u.pathname}${opts.schema ? `?schema=${opts.schema}` : ''}`;
  }

  private static on(client: pg.Pool | pg.PoolClient): Sql {
    // Named statements are parsed and planned once per connection instead of on every call.
    const q = (text: string, values: unknown[]) => client.query({ name: statementName(text), text, values });
    return {
      dialect: 'postgres',
      all: async <T>(text: string, params: unknown[] = []) => (await q(text, params)).rows as T[],
      get: async <T>(text: string, params: unknown[] = []) => (await q(text, params)).rows[0] as T | undefined,
      run: async (text: string, params: unknown[] = []) => (await q(text, params)).rowCount ?? 0,
    };
  }

  all<T>(text: string, params?: unknown[]): Promise<T[]> {
    return this.direct.all<T>(text, params);
  }
  get<T>(text: string, params?: unknown[]): Promise<T | undefined> {
    return this.direct.get<T>(text, params);
  }
  run(text: string, params?: unknown[]): Promise<number> {
    return this.direct.run(text, params);
  }

  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(PostgresDb.on(client));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (attempt < 5 && RETRYABLE.has((e as { code?: string }).code ?? '')) continue;
        throw e;
      } finally {
        client.release();
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
