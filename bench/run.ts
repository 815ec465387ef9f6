// `npm run bench`: raw commit rates, case throughput (in-process and HTTP), channels (SOAP, AMQP), deemed approvals, statistics and memory, on SQLite and PostgreSQL.
import Database from 'better-sqlite3';
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { measureBareAmqp, measureBareSoap, measureGatewayAmqp, measureGatewaySoap, type BareAmqpResult, type BareSoapResult, type ChannelConfig, type GatewayChannelResult } from './channels.js';
import { measureConsole, type ConsoleResult } from './console.js';
import { measureDeemed, type DeemedResult } from './deemed.js';
import { measureHttp, type Signing } from './http.js';
import { measureInProcess, type FlowResult } from './inprocess.js';
import type { MemoryConfig, MemoryResult } from './memory.js';
import { measureRaw, type RawResult } from './raw.js';
import { measureSigning, type SigningResult } from './signing.js';
import { measureStats, type StatsResult } from './stats.js';
import type { ProvinceConfig, ProvinceResult } from './province.js';
import { adminQuery, cleanupAll, QUICK, withTimeout, type StoreKind } from './support.js';

const env = process.env;
const num = (name: string, dflt: number) => (Number(env[name]) > 0 ? Number(env[name]) : dflt);
const STORES = (env.BENCH_STORES ?? 'sqlite,postgres').split(',').filter((s): s is StoreKind => s === 'sqlite' || s === 'postgres');
const ONLY = new Set((env.BENCH_ONLY ?? 'raw,inprocess,http,signing,channels,deemed,stats,memory,console,province').split(','));
// Departments of the HTTP phase sign opinions with keys of this algorithm; the signing phase repeats it with signing off.
const SIGNING_ALG = (['RS256', 'ES256', 'EdDSA'].includes(env.BENCH_SIGNING_ALG ?? '') ? env.BENCH_SIGNING_ALG : 'EdDSA') as Exclude<Signing, 'off'>;
// Every loop is bounded twice: by a count and by a time limit (BENCH_SECONDS per timed phase).
const SECONDS = num('BENCH_SECONDS', QUICK ? 4 : 15);
const CONFIG = {
  quick: QUICK,
  raw: { maxCount: 1_000_000, maxMs: (QUICK ? 2 : 5) * 1000 },
  flows: { concurrency: num('BENCH_CONCURRENCY', 64), warmup: QUICK ? 100 : 300, maxCount: num('BENCH_CASES', 100_000), maxMs: SECONDS * 1000 },
  channels: { cases: num('BENCH_CHANNEL_CASES', 16), lightCases: 1, warmup: QUICK ? 20 : 50, maxCount: num('BENCH_CASES', 100_000), maxMs: SECONDS * 1000, confirmBatch: 100 } as ChannelConfig,
  signing: { maxCount: 1_000_000, maxMs: (QUICK ? 1 : 3) * 1000 },
  deemed: { deadlines: num('BENCH_DEADLINES', QUICK ? 10_000 : 100_000), maxMs: (QUICK ? 60 : 180) * 1000 },
  stats: { cases: num('BENCH_STATS_CASES', QUICK ? 100_000 : 1_000_000), runs: 20, maxMs: 60_000 },
  province: { records: num('BENCH_PROVINCE_RECORDS', QUICK ? 100_000 : 1_000_000), pageSize: num('BENCH_PROVINCE_PAGE', 2000), seed: 1 } as ProvinceConfig,
  memory: { sizes: QUICK ? [2_000, 5_000, 10_000, 20_000] : [10_000, 25_000, 50_000, 100_000], flows: QUICK ? 200 : 500, concurrency: 32, warmup: QUICK ? 500 : 2_500 } as MemoryConfig,
};
const TARGETS = { consoleMs: 1000, statsP95Ms: 200, inProcess: { sqlite: 1000, postgres: 250 }, httpShare: 0.5, signingShare: 0.8, signedRateShare: 2 / 3, channelShare: 0.5, channelAddedP99Ms: 5, deemedPerSec: 5000, memoryGrowth: 1.25, provincePerSec: 10_000, provinceShare: 1 / 3, provinceRssMB: 300 };

const log = (s: string) => process.stderr.write(`${s}\n`);
const fmt = (n: number | null | undefined, digits = 0) => (n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const ratio = (n: number) => (n >= 0.1 ? n.toFixed(3) : n.toPrecision(2));
const pad = (s: string, w: number) => (s.length >= w ? s : s + ' '.repeat(w - s.length));
const lpad = (s: string, w: number) => (s.length >= w ? s : ' '.repeat(w - s.length) + s);

function table(headers: string[], rows: string[][], right: number[]): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '  ' + r.map((c, i) => (right.includes(i) ? lpad(c, w[i]!) : pad(c, w[i]!))).join('  ');
  return [line(headers), line(w.map((x) => '-'.repeat(x))), ...rows.map(line)].join('\n');
}

async function machine() {
  const cpus = os.cpus();
  const sqlite = new Database(':memory:');
  const sqliteVersion = (sqlite.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  sqlite.close();
  let postgresVersion: string | null = null;
  let pgSettings: Record<string, string> = {};
  if (STORES.includes('postgres')) {
    postgresVersion = (await adminQuery<{ v: string }>('SELECT version() AS v'))[0]!.v;
    const rows = await adminQuery<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')");
    pgSettings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  }
  // The product changes under this benchmark; record exactly which code was measured.
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: fileURLToPath(new URL('../../', import.meta.url)), encoding: 'utf8' }).trimEnd();
    } catch {
      return null;
    }
  };
  return {
    date: new Date().toISOString(),
    commit: git('rev-parse', '--short', 'HEAD'),
    uncommittedProductChanges: (git('status', '--porcelain', '--', 'src', 'adapters', 'config', 'schemas') ?? '').split('\n').filter(Boolean),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGB: Math.round(os.totalmem() / 1024 ** 3),
    sqliteVersion,
    postgresVersion,
    postgresSettings: pgSettings,
  };
}

async function runMemory(): Promise<MemoryResult> {
  // A child with --expose-gc: heap figures after a forced GC, and an RSS not inflated by the other phases of this run.
  const child = fork(fileURLToPath(new URL('./memory.js', import.meta.url)), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const reply = new Promise<{ ok: boolean; result?: MemoryResult; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as never));
      child.once('exit', (code) => reject(new Error(`memory child exited with ${code} before reporting`)));
    });
    child.send(CONFIG.memory);
    const m = await withTimeout(reply, 15 * 60_000, 'memory child');
    if (!m.ok || !m.result) throw new Error(`memory run failed: ${m.error}`);
    return m.result;
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

async function runProvince(): Promise<ProvinceResult> {
  // A child of its own, so its peak RSS is the pull's (the simulated province runs in a child of that child).
  const child = fork(fileURLToPath(new URL('./province.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const reply = new Promise<{ ok: boolean; result?: ProvinceResult; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as never));
      child.once('exit', (code) => reject(new Error(`province child exited with ${code} before reporting`)));
    });
    child.send(CONFIG.province);
    const m = await withTimeout(reply, 30 * 60_000, 'province child');
    if (!m.ok || !m.result) throw new Error(`province run failed: ${m.error}`);
    return m.result;
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const info = await machine();
  log(`bench: ${info.cpus} x ${info.cpuModel}, node ${info.node}, stores ${STORES.join(', ')}${QUICK ? ' (BENCH_QUICK: reduced counts)' : ''}`);
  const raw: RawResult[] = [];
  let signing: SigningResult[] | undefined;
  const flows: (FlowResult & { signing?: Signing; requests?: number; requestsPerSec?: number; retries?: number; clientCpuShare?: number; serverCpuShare?: number })[] = [];
  const deemed: DeemedResult[] = [];
  const stats: StatsResult[] = [];
  const channels: GatewayChannelResult[] = [];
  let bareSoap: BareSoapResult | undefined;
  let bareAmqp: BareAmqpResult | undefined;
  const failures: string[] = [];
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    log(`bench: ${what} ...`);
    const s = performance.now();
    try {
      const r = await fn();
      log(`bench: ${what} done in ${((performance.now() - s) / 1000).toFixed(1)} s`);
      return r;
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
      log(`bench: ${what} FAILED: ${(e as Error).stack ?? e}`);
      return undefined;
    }
  };

  // The bare transports once per run, before the stores: the floor every store's channel figures are compared with.
  if (ONLY.has('channels')) {
    bareSoap = await attempt('bare soap client and server', () => measureBareSoap(CONFIG.channels));
    bareAmqp = await attempt('bare amqplib', () => measureBareAmqp(CONFIG.channels));
  }
  if (ONLY.has('signing')) signing = await attempt('signatures per second', () => measureSigning(CONFIG.signing));
  for (const kind of STORES) {
    if (ONLY.has('raw')) raw.push(...((await attempt(`${kind} raw commits`, () => measureRaw(kind, CONFIG.raw))) ?? []));
    if (ONLY.has('inprocess')) {
      const r = await attempt(`${kind} in-process cases`, () => measureInProcess(kind, CONFIG.flows));
      if (r) flows.push(r);
    }
    if (ONLY.has('http')) {
      const r = await attempt(`${kind} HTTP cases, opinions signed ${SIGNING_ALG}`, () => measureHttp(kind, CONFIG.flows, SIGNING_ALG));
      if (r) flows.push(r);
    }
    if (ONLY.has('signing') && ONLY.has('http')) {
      const r = await attempt(`${kind} HTTP cases, signatures off`, () => measureHttp(kind, CONFIG.flows, 'off'));
      if (r) flows.push(r);
    }
    if (ONLY.has('channels')) {
      for (const [name, fn] of [['SOAP', measureGatewaySoap], ['AMQP', measureGatewayAmqp]] as const) {
        const r = await attempt(`${kind} ${name} reviews through the gateway`, () => fn(kind, CONFIG.channels, SIGNING_ALG));
        if (r) channels.push(r);
      }
    }
    if (ONLY.has('deemed')) {
      const r = await attempt(`${kind} deemed approvals`, () => measureDeemed(kind, CONFIG.deemed));
      if (r) deemed.push(r);
    }
    if (ONLY.has('stats')) {
      const r = await attempt(`${kind} statistics over ${fmt(CONFIG.stats.cases)} cases`, () => measureStats(kind, CONFIG.stats));
      if (r) stats.push(r);
    }
  }
  const memory = ONLY.has('memory') ? await attempt('sqlite memory growth', runMemory) : undefined;
  const province = ONLY.has('province') && STORES.includes('postgres') ? await attempt(`provincial pull of ${fmt(CONFIG.province.records)} records into postgres`, runProvince) : undefined;
  const consoleSpeed = ONLY.has('console') ? await attempt('console in Chromium', () => measureConsole({ runs: QUICK ? 5 : 20 })) : undefined;

  // ---- report ----
  const rawOf = (kind: StoreKind, workers: number) => raw.find((r) => r.store === kind && r.workers === workers)?.commitsPerSec;
  const ratios = (kind: StoreKind, v: number) => [rawOf(kind, 1), rawOf(kind, 8)].map((r) => (r ? `${ratio(v / r)}` : '-'));
  const out: string[] = [];
  out.push(`Parallel approval gateway benchmark - ${info.date}`);
  out.push(`code: commit ${info.commit ?? '?'}${info.uncommittedProductChanges.length ? ` plus uncommitted changes in ${info.uncommittedProductChanges.map((l) => l.slice(3)).join(', ')}` : ''}`);
  out.push(`${info.cpus} x ${info.cpuModel}, ${info.memoryGB} GB, ${info.platform}, node ${info.node}, SQLite ${info.sqliteVersion}${info.postgresVersion ? `, ${info.postgresVersion.split(' on ')[0]} (fsync ${info.postgresSettings.fsync}, synchronous_commit ${info.postgresSettings.synchronous_commit})` : ''}`);
  if (QUICK) out.push('BENCH_QUICK=1: reduced counts and durations; not the figures the targets are about.');
  out.push('');
  out.push('Raw commit rate: one single-row INSERT per transaction, through the project\'s Db (SqliteDb: WAL, synchronous=NORMAL; PostgresDb)');
  out.push(
    table(
      ['store', 'committers', 'commits', 'seconds', 'commits/s'],
      raw.map((r) => [r.store, r.store === 'sqlite' ? `${r.workers} caller${r.workers > 1 ? 's' : ''} on its 1 connection` : `${r.workers} on ${r.connections} connection${r.connections > 1 ? 's (pool max 8)' : ''}`, fmt(r.commits), fmt(r.seconds, 1), fmt(r.commitsPerSec)]),
      [2, 3, 4],
    ),
  );
  out.push('');
  out.push(`Cases from application to licence (businessScope catering+bar = 4 departments, fake adapter, every step its own transaction;`);
  out.push(`product logger at info to a file; dispatcher, timekeeper and sealer running in the background; ratios = figure / raw commits/s)`);
  const targetRows: string[][] = [];
  const verdicts: { what: string; target: string; value: number | null; met: boolean | null }[] = [];
  for (const f of flows) {
    let target: number | null;
    if (f.mode === 'in-process') target = TARGETS.inProcess[f.store];
    else if (f.signing === 'off') target = null;
    else {
      const ip = flows.find((x) => x.store === f.store && x.mode === 'in-process');
      target = ip ? ip.casesPerSec * TARGETS.httpShare : null;
    }
    const met = target === null ? null : f.casesPerSec >= target && f.failed === 0;
    if (target !== null) verdicts.push({ what: `${f.store} ${f.mode} cases/s`, target: target === null ? '-' : `>= ${fmt(target)}`, value: f.casesPerSec, met });
    targetRows.push([
      f.store,
      `${f.mode}${f.signing ? ` (signing ${f.signing})` : ''}, ${f.concurrency} in flight`,
      fmt(f.cases),
      fmt(f.failed),
      fmt(f.seconds, 1),
      fmt(f.casesPerSec, 1),
      ...ratios(f.store, f.casesPerSec),
      `${fmt(f.p50Ms)} / ${fmt(f.p99Ms)}`,
      target === null ? '-' : `>= ${fmt(target)}`,
      met === null ? '-' : met ? 'yes' : 'NO',
    ]);
  }
  out.push(table(['store', 'path', 'cases', 'failed', 'seconds', 'cases/s', 'x raw(1)', 'x raw(8)', 'p50/p99 ms', 'target', 'met'], targetRows, [2, 3, 4, 5, 6, 7, 8]));
  for (const f of flows) out.push(`  ${f.store} ${f.mode}${f.signing ? ` (signing ${f.signing})` : ''}: mean ms per step of a case: ${Object.entries(f.stepMeansMs).map(([k, v]) => `${k} ${fmt(v, 1)}`).join(', ')}`);
  const http = flows.filter((f) => f.mode === 'http');
  if (http.length) out.push(`  HTTP: ${http.map((f) => `${f.store} ${fmt(f.requestsPerSec)} API requests/s (${fmt((f.requests ?? 0) / Math.max(1, f.cases), 1)} per case, ${fmt(f.retries ?? 0)} resent after a keep-alive reset; CPU: gateway process ${fmt((f.serverCpuShare ?? 0) * 100)}% of a core, client process ${fmt((f.clientCpuShare ?? 0) * 100)}%)`).join('; ')}; clients in a separate process, one login per user, keep-alive, delivery learnt from ${env.BENCH_HTTP_STREAMS === 'reviewers' ? 'one /api/events stream per reviewer' : "the secretary's /api/events stream"}.`);
  out.push('');
  if (signing) out.push(...signingReport(signing, flows, verdicts), '');
  if (ONLY.has('channels')) out.push(...channelReport(channels, bareSoap, bareAmqp, verdicts), '');
  out.push(`Deemed approvals: pending deadlines bulk-inserted by SQL (cases in_review with 4 delivered reviews each, past due once the clock moves; PostgreSQL ANALYZEd after loading),`);
  out.push(`then PUT-clock equivalent gw.setClock(); the timekeeper fires them in batches (figure = fired / time until setClock returned)`);
  out.push(
    table(
      ['store', 'deadlines', 'load s', 'batch', 'fired', 'seconds', 'deemed/s', 'x raw(1)', 'x raw(8)', 'incl. sealing /s', 'target', 'met'],
      deemed.map((d) => {
        const met = d.completed && d.fired === d.deadlines && d.deemedPerSec >= TARGETS.deemedPerSec;
        verdicts.push({ what: `${d.store} deemed approvals/s`, target: `>= ${fmt(TARGETS.deemedPerSec)}`, value: d.deemedPerSec, met });
        return [d.store, fmt(d.deadlines), fmt(d.loadSeconds, 1), fmt(d.timekeeperBatch), `${fmt(d.fired)}${d.completed ? '' : ' (timed out)'}`, fmt(d.seconds, 1), fmt(d.deemedPerSec), ...ratios(d.store, d.deemedPerSec), fmt(d.deemedPerSecSealed), `>= ${fmt(TARGETS.deemedPerSec)}`, met ? 'yes' : 'NO'];
      }),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    ),
  );
  out.push('');
  if (stats.length) {
    out.push(`Statistics: synthetic cases generated in SQL (3 reviews and notifications each, acceptance and end-of-review events, permits, inspections; ANALYZEd),`);
    out.push(`the rollup built from them (rebuildStats, as \`pag stats rebuild\`), then computeStats() over the store's Db (GET /api/stats): whole months of a period are read`);
    out.push(`by month and its end days by day from the rollup, the parts of days at the ends of a period given in instants counted from their cases' profiles; ${CONFIG.stats.runs} runs per filter (fewer past ${CONFIG.stats.maxMs / 1000} s) after one warm-up run`);
    out.push(
      table(
        ['store', 'cases', 'reviews', 'events', 'load s', 'rollup s', 'filter', 'from', 'runs', 'p50 ms', 'p95 ms', 'max ms', 'target', 'met'],
        stats.flatMap((s) =>
          s.queries.map((q) => {
            const met = q.p95Ms < TARGETS.statsP95Ms;
            verdicts.push({ what: `${s.store} statistics p95 ms (${q.name})`, target: `< ${TARGETS.statsP95Ms}`, value: q.p95Ms, met });
            return [s.store, fmt(s.cases), fmt(s.reviews), fmt(s.events), fmt(s.loadSeconds, 1), fmt(s.rebuildSeconds, 1), q.name, q.source, String(q.runs), fmt(q.p50Ms, 1), fmt(q.p95Ms, 1), fmt(q.maxMs, 1), `< ${TARGETS.statsP95Ms}`, met ? 'yes' : 'NO'];
          }),
        ),
        [1, 2, 3, 4, 5, 8, 9, 10, 11],
      ),
    );
    for (const s of stats) out.push(`  ${s.store}: the rollup's figures for one district and month ${s.rollupEqualsLive ? 'equal' : 'DIFFER FROM'} those counted live`);
    out.push('');
  }
  let memoryVerdict: { heapGrowth: number; rssGrowth: number; anonGrowth: number | null; flat: boolean } | null = null;
  if (province) {
    const p = province;
    out.push('');
    out.push(`Provincial pull (PostgreSQL): ${fmt(p.records)} generated status changes pulled from the simulated province (its own process, loopback HTTP), pages of ${fmt(p.pageSize)} signed EdDSA,`);
    out.push('each verified, reconciled and applied in one transaction with its cursor; against bare multi-row INSERTs of the same rows in batches of the page size, alternating slices in the same run');
    out.push(table(
      ['what', 'seconds', 'records/s', 'pull / bare'],
      [
        ['pull and apply', fmt(p.pullSeconds, 1), fmt(p.pullPerSec), '-'],
        ['bare insert, primary key only', fmt(p.bareSeconds, 1), fmt(p.barePerSec), ratio(p.ratio)],
        ['bare insert, same indexes as province_changes', fmt(p.bareSameSeconds, 1), fmt(p.bareSamePerSec), ratio(p.ratioSame)],
      ],
      [1, 2, 3],
    ));
    out.push(`  applied ${fmt(p.applied)}, stale ${fmt(p.stale)}, quarantined ${fmt(p.quarantined)}, enterprises ${fmt(p.enterprises)}; peak RSS of the pulling process ${fmt(p.peakRssMB)} MB (the simulated province's ${fmt(p.simPeakRssMB)} MB)`);
    verdicts.push({ what: 'provincial pull records/s', target: `>= ${fmt(TARGETS.provincePerSec)}`, value: p.pullPerSec, met: p.pullPerSec >= TARGETS.provincePerSec });
    verdicts.push({ what: 'provincial pull x bare insert (primary key only)', target: '>= x0.33', value: p.ratio, met: p.ratio >= TARGETS.provinceShare });
    verdicts.push({ what: 'provincial pull peak RSS MB', target: `< ${TARGETS.provinceRssMB}`, value: p.peakRssMB, met: p.peakRssMB < TARGETS.provinceRssMB });
  }
  if (memory) {
    const s = memory.samples;
    out.push(`Memory (SQLite, separate process, after 2 x gc()): stored cases grown by bulk SQL insert (operating cases with 4 reviews, 4 permits, 3 chained`);
    out.push(`audit events each; ${fmt(memory.bulkSeconds, 1)} s of loading); ${fmt(CONFIG.memory.warmup)} whole cases first (warm-up; each leaves 4 messages in the fake adapter's log, which is bounded at 10,000);`);
    out.push(`at each size a fixed workload of ${CONFIG.memory.flows} whole cases in process (${CONFIG.memory.concurrency} in flight) + 15 list queries (10 pages, 4 by department, 1 by status; mean ms each)`);
    out.push(
      table(
        ['stored cases', 'db file MB', 'rss MB', 'anon', 'file', 'heapUsed MB', 'heapTotal MB', 'external MB', 'fake log', 'workload cases/s', 'list page', 'by dept', 'by status'],
        s.map((x) => [fmt(x.storedCases), fmt(x.dbFileMB, 0), fmt(x.rssMB, 1), fmt(x.rssAnonMB, 1), fmt(x.rssFileMB, 1), fmt(x.heapUsedMB, 1), fmt(x.heapTotalMB, 1), fmt(x.externalMB, 1), fmt(x.fakeAdapterLog), `${fmt(x.flowsPerSec, 1)}${x.workloadFailed ? ` (${x.workloadFailed} failed)` : ''}`, fmt(x.listPageMs, 1), fmt(x.listDepartmentMs, 1), fmt(x.listStatusMs, 1)]),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      ),
    );
    if (s.length >= 2) {
      const a = s[0]!;
      const b = s[s.length - 1]!;
      const anonGrowth = a.rssAnonMB && b.rssAnonMB ? b.rssAnonMB / a.rssAnonMB : null;
      memoryVerdict = { heapGrowth: b.heapUsedMB / a.heapUsedMB, rssGrowth: b.rssMB / a.rssMB, anonGrowth, flat: false };
      memoryVerdict.flat = memoryVerdict.heapGrowth <= TARGETS.memoryGrowth;
      out.push(`  growth ${fmt(a.storedCases)} -> ${fmt(b.storedCases)} cases (x${(b.storedCases / a.storedCases).toFixed(1)}): heapUsed x${memoryVerdict.heapGrowth.toFixed(2)}, rss x${memoryVerdict.rssGrowth.toFixed(2)} (anon ${anonGrowth ? `x${anonGrowth.toFixed(2)}` : '-'}, file-backed ${fmt(a.rssFileMB, 0)} -> ${fmt(b.rssFileMB, 0)} MB); workload cases/s x${(b.flowsPerSec / a.flowsPerSec).toFixed(2)}; list page ms x${(b.listPageMs / a.listPageMs).toFixed(1)}`);
      const cache = memory.sqliteCacheSize;
      out.push(`  (the gateway's SQLite connection reports cache_size ${cache ?? '-'}${cache !== null && cache < 0 ? ` = ${fmt(-cache / 1024)} MiB page cache (anonymous memory)` : ' pages'} and mmap_size ${memory.sqliteMmapSize === null ? '-' : `${fmt(memory.sqliteMmapSize / 1024 ** 2)} MiB (file-backed)`}: rss may grow with the file up to those caps)`);
      verdicts.push({ what: 'memory flat: JS heapUsed growth over the range', target: `<= x${TARGETS.memoryGrowth}`, value: memoryVerdict.heapGrowth, met: memoryVerdict.flat });
      verdicts.push({ what: 'memory: rss growth over the range (info; see SQLite caches)', target: '-', value: memoryVerdict.rssGrowth, met: null });
    }
    out.push('');
  }
  if (ONLY.has('console')) {
    if (consoleSpeed) {
      out.push(`Console in Debian's Chromium (headless, 1366x768), gateway on SQLite over loopback, ${consoleSpeed.runs} runs, each a new browser context (empty cache):`);
      out.push(`  page requested -> login form ready for typing: p50 ${fmt(consoleSpeed.coldLoginP50Ms)} ms, p95 ${fmt(consoleSpeed.coldLoginP95Ms)} ms`);
      out.push(`  login submitted -> the reviewer's queue shown: p50 ${fmt(consoleSpeed.loginToQueueP50Ms)} ms, p95 ${fmt(consoleSpeed.loginToQueueP95Ms)} ms`);
      for (const [what, v] of [['console: page to login form, p95 ms', consoleSpeed.coldLoginP95Ms], ['console: login to queue, p95 ms', consoleSpeed.loginToQueueP95Ms]] as const) {
        verdicts.push({ what, target: `< ${fmt(TARGETS.consoleMs)}`, value: v, met: v === null ? null : v < TARGETS.consoleMs });
      }
    } else if (consoleSpeed === null) out.push('Console: /usr/bin/chromium is not installed; phase skipped.');
    out.push('');
  }
  out.push('Targets');
  out.push(table(['target', 'required', 'measured', 'met'], verdicts.map((v) => [v.what, v.target, v.value === null ? '-' : v.what.startsWith('memory') || v.what.includes(' x ') ? `x${v.value.toFixed(2)}` : fmt(v.value, 1), v.met === null ? '-' : v.met ? 'yes' : 'NO']), [2]));
  if (failures.length) {
    out.push('');
    out.push('Phases that failed (no figures printed for them):');
    for (const f of failures) out.push(`  ${f}`);
  }
  for (const f of flows) if (f.errors.length) out.push(`  ${f.store} ${f.mode} errors: ${f.errors.join(' | ')}`);
  const totalSeconds = (performance.now() - t0) / 1000;
  out.push('');
  out.push(`Total bench time ${fmt(totalSeconds)} s.`);
  console.log(out.join('\n'));

  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const json = { machine: info, config: CONFIG, targets: TARGETS, raw, signing: signing ?? null, flows, channels: { bareSoap: bareSoap ?? null, bareAmqp: bareAmqp ?? null, gateway: channels }, deemed, stats, memory: memory ? { ...memory, growth: memoryVerdict } : null, province: province ?? null, console: consoleSpeed ?? null, verdicts, failures, totalSeconds };
  writeFileSync(`${dir}latest.json`, `${JSON.stringify(json, null, 2)}\n`);
  log(`bench: figures written to bench/results/latest.json`);
  process.exitCode = failures.length ? 1 : 0;
}

type Verdict = { what: string; target: string; value: number | null; met: boolean | null };

/** Signatures per second against bare node:crypto, and the HTTP case rate with signed opinions against the same run unsigned. */
function signingReport(results: SigningResult[], flows: { store: StoreKind; mode: string; signing?: Signing; casesPerSec: number }[], verdicts: Verdict[]): string[] {
  const out: string[] = [];
  out.push('Signatures: compact JWS of an opinion envelope, one operation at a time; gateway = signEnvelope / verifyEnvelope (registry lookup,');
  out.push('  envelope checks, jose); bare = node:crypto sign / verify of the same signing input with the same key (RS256 keys: 3072 bits)');
  out.push(
    table(
      ['alg', 'gateway sign/s', 'bare sign/s', 'x bare', 'gateway verify/s', 'bare verify/s', 'x bare'],
      results.map((r) => [r.alg, fmt(r.gatewaySignPerSec), fmt(r.bareSignPerSec), ratio(r.gatewaySignPerSec / r.bareSignPerSec), fmt(r.gatewayVerifyPerSec), fmt(r.bareVerifyPerSec), ratio(r.gatewayVerifyPerSec / r.bareVerifyPerSec)]),
      [1, 2, 3, 4, 5, 6],
    ),
  );
  for (const r of results) {
    const share = r.gatewaySignPerSec / r.bareSignPerSec;
    verdicts.push({ what: `${r.alg} signing, gateway x bare node:crypto`, target: `>= x${TARGETS.signingShare}`, value: share, met: share >= TARGETS.signingShare });
  }
  for (const store of STORES) {
    const on = flows.find((f) => f.store === store && f.mode === 'http' && f.signing && f.signing !== 'off');
    const off = flows.find((f) => f.store === store && f.mode === 'http' && f.signing === 'off');
    if (!on || !off) continue;
    const share = on.casesPerSec / off.casesPerSec;
    out.push(`  ${store} HTTP cases/s with opinions signed (${on.signing}) ${fmt(on.casesPerSec, 1)} against ${fmt(off.casesPerSec, 1)} unsigned: x${share.toFixed(2)} (signing costs ${fmt((1 - share) * 100)}% of the rate)`);
    if (on.signing !== 'RS256') verdicts.push({ what: `${store} HTTP cases/s signed ${on.signing} x unsigned`, target: `>= x${ratio(TARGETS.signedRateShare)}`, value: share, met: share >= TARGETS.signedRateShare });
  }
  return out;
}

/** The channel section: definitions, the bare transports, the gateway's reviews and their ratios; adds the channel verdicts. */
function channelReport(channels: GatewayChannelResult[], bareSoap: BareSoapResult | undefined, bareAmqp: BareAmqpResult | undefined, verdicts: Verdict[]): string[] {
  const c = CONFIG.channels;
  const ms = (a: number | null, b: number | null) => `${fmt(a, 1)} / ${fmt(b, 1)}`;
  const out: string[] = [];
  out.push(`Channels: reviews through the gateway over SOAP and AMQP against the bare transport, on loopback${bareAmqp ? `, ${bareAmqp.broker} (local node)` : ''}; the bare peers`);
  out.push(`  run in this process, the simulated departments in a process of their own (bench/channel-departments.ts), as departments' systems are`);
  out.push(`  their own: they check the gateway's signature on each notification and sign each receipt and opinion (SOAP: XML-DSig with their`);
  out.push(`  demo RS256 keys, 3072 bits; AMQP: JWS with ${SIGNING_ALG} keys made for the run, BENCH_SIGNING_ALG); the gateway signs with its own keys.`);
  out.push(`  one review = a notification committed with its case's accept -> sent by the gateway's dispatcher over the channel (SOAP: a call to the`);
  out.push(`    department's ReceiveCase; AMQP: a persistent, confirmed publish to its quorum queue, then the department's receipt back) -> the`);
  out.push(`    department's approving opinion back over the channel (SOAP: SubmitOpinion on /soap/approval; AMQP: a persistent message to its inbound`);
  out.push(`    quorum queue, answered with a result message) -> stored (the gateway's inbound service returned after its commit). The departments`);
  out.push(`    (adapters/*/sim.ts) are told to answer as soon as the delivery appears on the gateway's sealed event stream. Each case (catering+bar, 4 departments,`);
  out.push(`    all on the channel under test) is submitted and accepted in process, inside the measured time.`);
  out.push(`  latency of a review = from the accept's commit to the opinion's commit; reviews/s = reviews completed / wall time.`);
  out.push(`  bare floor of a review: SOAP = two sequential calls (AcknowledgeNotification, SubmitOpinion) by a client generated from schemas/soap/`);
  out.push(`    approval.wsdl to a soap server of the same WSDL doing no work; AMQP = a request (1 KiB) and a reply (200 B) through two quorum queues,`);
  out.push(`    persistent, each publish confirmed, the request acknowledged after its reply's confirm (latency: publish to reply consumed).`);
  out.push(`  in flight: load = ${c.cases} cases = ${c.cases * 4} reviews, against ${c.cases * 4} bare floors; light = ${c.lightCases} case = ${c.lightCases * 4} reviews, against ${c.lightCases * 4}.`);
  out.push(`  x bare = gateway reviews/s / bare floors/s; added = gateway percentile - bare floor's percentile (each over its own run).`);
  const bareRows: string[][] = [];
  const fig = (t: string, p: string, f: { inFlight: number; count: number; seconds: number; perSec: number; p50Ms: number | null; p99Ms: number | null }) => [t, p, fmt(f.inFlight), fmt(f.count), fmt(f.seconds, 1), fmt(f.perSec), ms(f.p50Ms, f.p99Ms)];
  if (bareSoap) {
    bareRows.push(fig('soap', 'call, load', bareSoap.callsLoad), fig('soap', 'floor (2 calls), load', bareSoap.pairsLoad), fig('soap', 'call, light', bareSoap.callsLight), fig('soap', 'floor (2 calls), light', bareSoap.pairsLight));
  }
  if (bareAmqp) {
    bareRows.push(
      fig('amqp', '1 KiB one way, each publish waits for its confirm', bareAmqp.oneWaySingleConfirm),
      fig('amqp', `1 KiB one way, confirms per ${bareAmqp.oneWayBatchedConfirms.batch} publishes`, bareAmqp.oneWayBatchedConfirms),
      fig('amqp', 'floor (request/reply), load', bareAmqp.roundTripLoad),
      fig('amqp', 'floor (request/reply), light', bareAmqp.roundTripLight),
    );
  }
  out.push('  Bare transports (one way: messages published, consumed and acknowledged per second, first publish to last ack)');
  out.push(table(['transport', 'pattern', 'in flight', 'count', 'seconds', 'per s', 'p50 / p99 ms'], bareRows, [2, 3, 4, 5, 6]));
  const rows: string[][] = [];
  for (const g of channels) {
    const floors = g.channel === 'soap' ? { load: bareSoap?.pairsLoad, light: bareSoap?.pairsLight } : { load: bareAmqp?.roundTripLoad, light: bareAmqp?.roundTripLight };
    for (const run of ['load', 'light'] as const) {
      const f = g[run];
      const b = floors[run];
      const share = b ? f.perSec / b.perSec : null;
      const added50 = b && f.p50Ms !== null && b.p50Ms !== null ? f.p50Ms - b.p50Ms : null;
      const added99 = b && f.p99Ms !== null && b.p99Ms !== null ? f.p99Ms - b.p99Ms : null;
      rows.push([g.store, g.channel, `${run}, ${f.inFlight}`, fmt(f.count), fmt(f.failed), fmt(f.seconds, 1), fmt(f.perSec), fmt(f.perSec * g.messagesPerReview), share === null ? '-' : ratio(share), ms(f.p50Ms, f.p99Ms), b ? ms(b.p50Ms, b.p99Ms) : '-', ms(added50, added99)]);
      if (run === 'load') verdicts.push({ what: `${g.store} ${g.channel} reviews/s, x bare floors/s (load)`, target: `>= x${TARGETS.channelShare}`, value: share, met: share === null ? null : share >= TARGETS.channelShare && f.failed === 0 });
      verdicts.push({ what: `${g.store} ${g.channel} added p99 ms (${run})`, target: `<= ${TARGETS.channelAddedP99Ms}`, value: added99, met: added99 === null ? null : added99 <= TARGETS.channelAddedP99Ms });
    }
  }
  out.push(`  Through the gateway (channel msgs/s: SOAP 2 calls per review; AMQP 4 broker messages: notification, receipt, opinion, result)`);
  out.push(table(['store', 'channel', 'run, reviews in flight', 'reviews', 'failed', 'seconds', 'reviews/s', 'channel msgs/s', 'x bare', 'p50 / p99 ms', 'bare floor', 'added'], rows, [3, 4, 5, 6, 7, 8, 9, 10, 11]));
  for (const g of channels) {
    const legs = (run: 'load' | 'light') => Object.entries(g[run].legsMeanMs).map(([k, v]) => `${k} ${fmt(v, 1)}`).join(', ');
    out.push(`  ${g.store} ${g.channel}: mean ms per leg of a review: load ${legs('load')}; light ${legs('light')}${g.notificationBytes ? `; notification body ${fmt(g.notificationBytes)} B` : ''}${g.deadLetters !== null ? `; dead letters ${fmt(g.deadLetters)}` : ''}`);
    out.push(`    CPU over the runs, share of one core: gateway's process ${g.cpuShare.gateway.toFixed(2)}, departments' process ${g.cpuShare.departments.toFixed(2)}`);
    for (const run of ['load', 'light'] as const) if (g[run].errors.length) out.push(`  ${g.store} ${g.channel} ${run} errors: ${g[run].errors.join(' | ')}`);
  }
  return out;
}

process.on('SIGINT', () => {
  void cleanupAll().finally(() => process.exit(130));
});

main().catch(async (e) => {
  log(`bench failed: ${(e as Error).stack ?? e}`);
  await cleanupAll();
  process.exit(1);
});
