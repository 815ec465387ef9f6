// Memory child process (run with --expose-gc): grows a SQLite store to 100,000 cases, runs a fixed workload at each size, samples memory after GC.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeAdapter } from '../adapters/fake/index.js';
import { bulkOperating } from './bulk.js';
import { caseFlow, deliveryWatcher } from './inprocess.js';
import { cleanupAll, DEPARTMENTS, freshStore, pool, sleep, START_MS, startGateway } from './support.js';

export interface MemorySample {
  storedCases: number;
  rssMB: number;
  /** Linux /proc/self/status split of rss: anonymous (JS heap, malloc incl. SQLite's page cache) and file-backed (mmap of the database, code). */
  rssAnonMB: number | null;
  rssFileMB: number | null;
  dbFileMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
  workloadFlows: number;
  workloadFailed: number;
  flowsPerSec: number;
  /** Mean ms of one list query: a plain page, a department's page, a status page. */
  listPageMs: number;
  listDepartmentMs: number;
  listStatusMs: number;
  /** Messages the fake adapter keeps (it is bounded at 10,000); filled before the first sample so it cannot pass for growth. */
  fakeAdapterLog: number;
}

export interface MemoryConfig {
  sizes: number[];
  flows: number;
  concurrency: number;
  /** Whole cases run before the first sample: enough to fill the fake adapter's bounded message log (4 messages a case). */
  warmup: number;
}

const mb = (n: number) => n / 1024 / 1024;

function procStatusMB(field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export interface MemoryResult {
  samples: MemorySample[];
  bulkSeconds: number;
  /** The store's own settings that bound rss: SQLite page cache (negative = KiB) and memory-map size (bytes). */
  sqliteCacheSize: number | null;
  sqliteMmapSize: number | null;
}

async function run(cfg: MemoryConfig): Promise<MemoryResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const store = await freshStore('sqlite', 'memory');
  const { gw } = await startGateway(store);
  const watcher = deliveryWatcher(gw);
  const samples: MemorySample[] = [];
  let bulkSeconds = 0;
  let flowNo = 0;
  let bulkNo = 0;
  try {
    // Warm up first so the first sample is not JIT, lazily built caches, or the fake adapter's message log still filling.
    const warm = await pool({ concurrency: cfg.concurrency, maxCount: cfg.warmup, maxMs: 120_000, task: () => caseFlow(gw, watcher, 'mem', flowNo++) });
    if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.errors.join(' | ')}`);
    const fake = gw.adapters.get('simulated') as FakeAdapter | undefined;
    const count = async () => Number((await gw.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM cases'))!.n);
    for (const size of cfg.sizes) {
      // Grow by bulk insert so that, after this point's workload, the store holds `size` cases.
      const add = size - cfg.flows - (await count());
      if (add > 0) {
        const b0 = performance.now();
        await bulkOperating(gw.db, bulkNo, add, START_MS, 'memb');
        bulkNo += add;
        bulkSeconds += (performance.now() - b0) / 1000;
      }
      // The fixed workload: whole cases in process, then the listings a desk would page through.
      const r = await pool({ concurrency: cfg.concurrency, maxCount: cfg.flows, maxMs: 120_000, task: () => caseFlow(gw, watcher, 'mem', flowNo++) });
      const timed = async (n: number, f: (i: number) => Promise<unknown>) => {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await f(i);
        return (performance.now() - t0) / n;
      };
      const listPageMs = await timed(10, (p) => gw.cases.list({ limit: 50, offset: p * 50 }));
      const listDepartmentMs = await timed(DEPARTMENTS.length, (i) => gw.cases.list({ departmentId: DEPARTMENTS[i], limit: 50 }));
      const listStatusMs = await timed(1, () => gw.cases.list({ status: 'licensed', limit: 200 }));
      await gw.sealer.settled();
      await sleep(200);
      gc();
      gc();
      const m = process.memoryUsage();
      samples.push({
        storedCases: await count(),
        rssMB: mb(m.rss),
        rssAnonMB: procStatusMB('RssAnon'),
        rssFileMB: procStatusMB('RssFile'),
        dbFileMB: mb(statSync(join(store.dir, 'gateway.sqlite')).size),
        heapUsedMB: mb(m.heapUsed),
        heapTotalMB: mb(m.heapTotal),
        externalMB: mb(m.external),
        workloadFlows: r.done,
        workloadFailed: r.failed,
        flowsPerSec: r.done / (r.elapsedMs / 1000),
        listPageMs,
        listDepartmentMs,
        listStatusMs,
        fakeAdapterLog: fake?.received.length ?? 0,
      });
      process.stderr.write(`  memory: ${samples.at(-1)!.storedCases} cases, heapUsed ${samples.at(-1)!.heapUsedMB.toFixed(1)} MB, rss ${samples.at(-1)!.rssMB.toFixed(1)} MB\n`);
    }
    const pragma = async (name: string) => {
      const row = await gw.db.get<Record<string, number>>(`PRAGMA ${name}`);
      return row ? Number(Object.values(row)[0]) : null;
    };
    return { samples, bulkSeconds, sqliteCacheSize: await pragma('cache_size'), sqliteMmapSize: await pragma('mmap_size') };
  } finally {
    watcher.close();
    await gw.stop();
    await store.cleanup();
  }
}

process.once('message', (cfg: MemoryConfig) => {
  run(cfg).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    async (e: Error) => {
      await cleanupAll();
      process.send!({ ok: false, error: e.stack ?? e.message }, () => process.exit(1));
    },
  );
});
