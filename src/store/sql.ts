// The store port: a tiny SQL contract (all, get, run, tx) that both SQLite and PostgreSQL implement.

/** Query access, inside or outside a transaction. Placeholders are written $1, $2, ... for both dialects. */
export interface Sql {
  readonly dialect: 'sqlite' | 'postgres';
  all<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  get<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T | undefined>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(text: string, params?: unknown[]): Promise<number>;
  /**
   * Inside a PostgreSQL transaction only: sends a write without waiting for its answer, so that it travels with the
   * statements after it (at the latest the COMMIT). Its failure fails the transaction, which then throws that error;
   * so it suits a write whose checks are made by the database itself (constraints, or an error raised by the statement).
   */
  later?(text: string, params?: unknown[]): void;
}

/** A database: queries plus transactions. `tx` retries the whole function on deadlock or serialization failure. */
export interface Db extends Sql {
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** A short description for logs and /healthz, without credentials. */
  readonly description: string;
}

/** `FOR UPDATE` where the dialect has row locks; SQLite transactions are already exclusive (BEGIN IMMEDIATE). */
export const forUpdate = (sql: Sql, skipLocked = false): string =>
  sql.dialect === 'postgres' ? (skipLocked ? ' FOR UPDATE SKIP LOCKED' : ' FOR UPDATE') : '';

/** True for a unique-constraint violation in either dialect (two writers raced past a check). */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Placeholders `$1..$n` as a list, for `IN (...)` and multi-row VALUES. */
export function placeholders(count: number, start = 1): string {
  return Array.from({ length: count }, (_, i) => `$${start + i}`).join(', ');
}

/** A list query's conditions, each with at most one `?` for its value, numbered `$1, $2, ...` in the order added. */
export class Conditions {
  readonly params: unknown[] = [];
  private readonly parts: string[] = [];

  add(cond: string, ...value: unknown[]): this {
    if (value.length) {
      this.params.push(value[0]);
      cond = cond.replace('?', `$${this.params.length}`);
    }
    this.parts.push(cond);
    return this;
  }

  /** `WHERE ...`, or nothing without conditions. */
  get where(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }

  /** `LIMIT $n` with the limit clamped to 1..max (default 200): a list never answers unbounded. */
  limit(n: number | undefined, max = 1000): string {
    this.params.push(Math.min(Math.max(n ?? 200, 1), max));
    return `LIMIT $${this.params.length}`;
  }
}
