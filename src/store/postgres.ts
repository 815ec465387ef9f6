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

/**
 * A transaction's connection state. Statements issued in one turn of the event loop leave in one write (the socket is
 * corked until the turn's check phase): fewer system calls here, and the server reads them in one go.
 */
class TxState {
  readonly later: Promise<unknown>[] = [];
  failed: unknown;
  private corked = false;
  private readonly stream: { cork?: () => void; uncork?: () => void } | undefined;

  constructor(client: pg.PoolClient) {
    this.stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  }

  batch(): void {
    if (this.corked || !this.stream?.cork || !this.stream.uncork) return;
    this.corked = true;
    this.stream.cork();
    setImmediate(() => {
      this.corked = false;
      this.stream!.uncork!();
    });
  }
}

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  readonly description: string;
  readonly pool: pg.Pool;
  private readonly direct: Sql;

  constructor(url: string, opts: { max?: number; schema?: string } = {}) {
    // Generic plans: the statements are the code's own, with array parameters and index lookups, so a plan made once
    // per connection fits every call; re-planning the multi-part writes on each call cost more than running them.
    const options = `-c plan_cache_mode=force_generic_plan${opts.schema ? ` -c search_path=${opts.schema}` : ''}`;
    // Pipeline mode: a statement is sent without waiting for the answer to the one before, so a transaction's BEGIN
    // travels with its first statement (and independent reads with each other) instead of costing a round trip each.
    // The server still runs them one after the other, each with its own snapshot, and an error affects only its own.
    this.pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, options, pipeline: true } as pg.PoolConfig);
    // An idle client that loses its connection must not crash the process; the next checkout reconnects.
    this.pool.on('error', () => undefined);
    this.direct = PostgresDb.on(this.pool);
    const u = new URL(url);
    this.description = `postgres://${u.host}${u.pathname}${opts.schema ? `?schema=${opts.schema}` : ''}`;
  }

  private static on(client: pg.Pool | pg.PoolClient, tx?: TxState): Sql {
    // Named statements are parsed and planned once per connection instead of on every call.
    const q = (text: string, values: unknown[]) => {
      if (tx) tx.batch();
      return client.query({ name: statementName(text), text, values });
    };
    const sql: Sql = {
      dialect: 'postgres',
      all: async <T>(text: string, params: unknown[] = []) => (await q(text, params)).rows as T[],
      get: async <T>(text: string, params: unknown[] = []) => (await q(text, params)).rows[0] as T | undefined,
      run: async (text: string, params: unknown[] = []) => (await q(text, params)).rowCount ?? 0,
    };
    if (tx) {
      sql.later = (text: string, params: unknown[] = []) => {
        const p = q(text, params);
        // Awaited by the transaction before it reports; the first such failure is the cause of any that follow it.
        p.catch((e: unknown) => {
          tx.failed ??= e;
        });
        tx.later.push(p);
      };
    }
    return sql;
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
      const state = new TxState(client);
      const begin = client.query('BEGIN');
      begin.catch(() => undefined); // awaited below; a failure also fails the statements behind it
      state.batch();
      try {
        const result = await fn(PostgresDb.on(client, state));
        // COMMIT goes out right behind any statements sent without waiting (`later`): if one of them failed, the
        // server has aborted the transaction and answers this COMMIT with ROLLBACK; that statement's error is thrown.
        state.batch();
        const commit = client.query('COMMIT');
        commit.catch(() => undefined);
        await begin;
        for (const p of state.later) await p;
        const done = await commit;
        if (done.command !== 'COMMIT') throw new Error(`transaction ended in ${done.command} instead of COMMIT`);
        return result;
      } catch (thrown) {
        await client.query('ROLLBACK').catch(() => undefined);
        // A statement sent without waiting failed first: the statements after it only failed because of it.
        const e = state.failed ?? thrown;
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
