// Bench phase (a child process of its own, so its RSS is the pull's): pull and apply N generated status changes from the
// simulated province (another process) into PostgreSQL, against a bare bulk insert of the same rows (a third process) in the same run.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { GatewayConfig } from '../src/config/load.js';
import { CERTS_DIR } from '../src/paths.js';
import { ProvincePuller } from '../src/province/pull.js';
import { migrate } from '../src/store/migrations.js';
import { KeyRegistry } from '../src/trust/keys.js';
import { cleanupAll, freshStore } from './support.js';

export interface ProvinceConfig {
  records: number;
  pageSize: number;
  seed: number;
}

export interface ProvinceResult {
  records: number;
  pageSize: number;
  pullSeconds: number;
  pullPerSec: number;
  /** Bare insert into a copy of province_changes with its primary key only (the strict baseline the target is judged by). */
  bareSeconds: number;
  barePerSec: number;
  ratio: number;
  /** Bare insert into an exact copy of province_changes (the same indexes the pull's rows go through). */
  bareSameSeconds: number;
  bareSamePerSec: number;
  ratioSame: number;
  peakRssMB: number;
  simPeakRssMB: number | null;
  applied: number;
  stale: number;
  quarantined: number;
  enterprises: number;
}

const RECEIVER = 'xuanwu-gateway';
/** Runs the bare inserts in a process of their own, so that generating and inserting their rows weighs on neither the pull's CPU time nor its RSS. */
function bareWorker(schema: string, cfg: ProvinceConfig) {
  const child = fork(fileURLToPath(new URL('./province-bare.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send({ schema, seed: cfg.seed, records: cfg.records, pageSize: cfg.pageSize });
  return {
    insert: (table: string, from: number, to: number) =>
      new Promise<number>((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`bare insert child exited with ${code}`));
        child.once('exit', onExit);
        child.once('message', (m: { seconds?: number; error?: string }) => {
          child.off('exit', onExit);
          if (m.error !== undefined) reject(new Error(m.error));
          else resolve(m.seconds!);
        });
        // A child gone between two inserts fails this send: the phase fails rather than the process.
        child.send({ table, from, to }, (e) => e && reject(e));
      }),
    stop: () => child.kill(),
  };
}

async function run(cfg: ProvinceConfig): Promise<ProvinceResult> {
  const sim = fork(fileURLToPath(new URL('./province-sim.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const store = await freshStore('postgres', 'province');
  let bare: ReturnType<typeof bareWorker> | null = null;
  let peak = 0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  const watcher = setInterval(sample, 20);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      sim.once('message', (m: { url?: string; error?: string }) => (m.url ? resolve(m.url) : reject(new Error(m.error))));
      sim.once('exit', (code) => reject(new Error(`province sim exited with ${code}`)));
      sim.send({ seed: cfg.seed, total: cfg.records, receiver: RECEIVER });
    });
    const db = store.db();
    await migrate(db);
    await db.run('CREATE TABLE bare_pk (LIKE province_changes INCLUDING DEFAULTS, PRIMARY KEY (id))');
    await db.run('CREATE TABLE bare_same (LIKE province_changes INCLUDING ALL)');
    bare = bareWorker(store.schema!, cfg);
    const pull = { url, sender: 'province', intervalSeconds: 3600, pageSize: cfg.pageSize, timeoutMs: 30_000, retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 } };
    const config = { province: { pull } } as unknown as GatewayConfig;
    const puller = new ProvincePuller(db, () => config, new KeyRegistry(CERTS_DIR, false), RECEIVER, pino({ level: 'warn' }));
    // Alternating slices (bare inserts of a slice's rows, then the pull of the same slice): load from elsewhere on the
    // machine weighs on all alike, and the tables grow alike.
    const slices = Math.max(1, Math.min(10, Math.floor(cfg.records / (cfg.pageSize * 5))));
    const perSlice = Math.ceil(cfg.records / slices / cfg.pageSize) * cfg.pageSize;
    let bareSeconds = 0;
    let bareSameSeconds = 0;
    let pullSeconds = 0;
    const r = { applied: 0, stale: 0, quarantined: 0, caughtUp: false, error: null as unknown };
    for (let from = 1; from <= cfg.records; from += perSlice) {
      const to = Math.min(cfg.records, from + perSlice - 1);
      bareSeconds += await bare.insert('bare_pk', from, to);
      bareSameSeconds += await bare.insert('bare_same', from, to);
      sample();
      const t = performance.now();
      const part = await puller.runOnce({ maxPages: Math.ceil((to - from + 1) / cfg.pageSize) });
      pullSeconds += (performance.now() - t) / 1000;
      if (part.error || part.seq !== to) throw new Error(`pull slice ${from}..${to} did not finish: ${JSON.stringify(part)}`);
      r.applied += part.applied;
      r.stale += part.stale;
      r.quarantined += part.quarantined;
      r.caughtUp = part.caughtUp;
    }
    sample();
    await db.run('DROP TABLE bare_pk');
    await db.run('DROP TABLE bare_same');
    if (!r.caughtUp) throw new Error(`pull did not reach the end of the feed: ${JSON.stringify(r)}`);
    const enterprises = Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM enterprises'))!.n);
    const stored = Number((await db.get<{ n: number }>('SELECT (SELECT COUNT(*) FROM province_changes) + (SELECT COUNT(*) FROM province_quarantine) AS n'))!.n);
    if (stored !== cfg.records) throw new Error(`stored ${stored} records of ${cfg.records}`);
    const simPeak = await new Promise<number | null>((resolve) => {
      sim.once('message', (m: { rss?: number }) => resolve(m.rss ?? null));
      sim.send({ rss: true });
      setTimeout(() => resolve(null), 2000).unref();
    });
    await db.close();
    return {
      records: cfg.records, pageSize: cfg.pageSize, pullSeconds, pullPerSec: cfg.records / pullSeconds, bareSeconds, barePerSec: cfg.records / bareSeconds,
      ratio: bareSeconds / pullSeconds, bareSameSeconds, bareSamePerSec: cfg.records / bareSameSeconds, ratioSame: bareSameSeconds / pullSeconds, peakRssMB: peak / 1024 ** 2, simPeakRssMB: simPeak === null ? null : simPeak / 1024 ** 2,
      applied: r.applied, stale: r.stale, quarantined: r.quarantined, enterprises,
    };
  } finally {
    clearInterval(watcher);
    sim.kill();
    bare?.stop();
    await store.cleanup();
  }
}

if (process.send) {
  process.once('message', (cfg: ProvinceConfig) => {
    run(cfg).then(
      (result) => process.send!({ ok: true, result }, () => process.exit(0)),
      async (e: Error) => {
        await cleanupAll();
        process.send!({ ok: false, error: e.stack ?? e.message }, () => process.exit(1));
      },
    );
  });
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Run alone: node dist/bench/province.js [records] [pageSize]
  run({ records: Number(process.argv[2] ?? 1_000_000), pageSize: Number(process.argv[3] ?? 2000), seed: 1 }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    async (e: Error) => {
      await cleanupAll();
      console.error(e);
      process.exit(1);
    },
  );
}
