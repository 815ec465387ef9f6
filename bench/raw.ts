// Raw commit rate of the store through the project's Db port: one single-row INSERT per transaction.
import type { Db } from '../src/store/sql.js';
import { freshStore, pool, type StoreKind } from './support.js';

export interface RawResult {
  store: StoreKind;
  /** Concurrent committers; on SQLite they share the product's one connection (SqliteDb serialises them). */
  workers: number;
  connections: number;
  commits: number;
  seconds: number;
  commitsPerSec: number;
}

async function measure(db: Db, kind: StoreKind, workers: number, connections: number, maxCount: number, maxMs: number): Promise<RawResult> {
  const payload = 'x'.repeat(100);
  const one = (i: number) => db.tx((sql) => sql.run('INSERT INTO bench_raw (v, at) VALUES ($1, $2)', [`${payload}${i}`, Date.now()])).then(() => undefined);
  // Warm the statement cache and the connections before timing.
  await pool({ concurrency: workers, maxCount: 200, maxMs: 5000, task: one });
  const r = await pool({ concurrency: workers, maxCount, maxMs, task: one });
  if (r.failed > 0) throw new Error(`raw commits failed: ${r.errors.join(' | ')}`);
  return { store: kind, workers, connections, commits: r.done, seconds: r.elapsedMs / 1000, commitsPerSec: r.done / (r.elapsedMs / 1000) };
}

export async function measureRaw(kind: StoreKind, o: { maxCount: number; maxMs: number }): Promise<RawResult[]> {
  const store = await freshStore(kind, 'raw');
  const out: RawResult[] = [];
  try {
    const ddl = kind === 'postgres' ? 'CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL, at BIGINT NOT NULL)' : 'CREATE TABLE bench_raw (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL, at BIGINT NOT NULL)';
    if (kind === 'sqlite') {
      // SQLite: the product's SqliteDb (WAL, synchronous=NORMAL, one connection); "8" means 8 concurrent callers on it.
      const db = store.db();
      await db.run(ddl);
      out.push(await measure(db, kind, 1, 1, o.maxCount, o.maxMs));
      out.push(await measure(db, kind, 8, 1, o.maxCount, o.maxMs));
      await db.close();
    } else {
      const one = store.db({ max: 1 });
      await one.run(ddl);
      out.push(await measure(one, kind, 1, 1, o.maxCount, o.maxMs));
      await one.close();
      const eight = store.db({ max: 8 });
      out.push(await measure(eight, kind, 8, 8, o.maxCount, o.maxMs));
      await eight.close();
    }
    return out;
  } finally {
    await store.cleanup();
  }
}
