// HTTP throughput: this process serves a production-like gateway; a separate client process drives cases over the REST API.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig, loadDemoUsers } from '../src/config/load.js';
import type { ClientConfig, ClientResult } from './http-client.js';
import type { FlowResult } from './inprocess.js';
import type { KeyAlg } from '../src/trust/keys.js';
import { benchCerts } from './signing.js';
import { benchConfig, DEPARTMENTS, freshStore, SCOPE, settings, startGateway, withTimeout, type StoreKind } from './support.js';

/** How departments sign their opinions in a run: with keys of one algorithm, or not at all (the gateway then accepts unsigned ones). */
export type Signing = KeyAlg | 'off';

export async function measureHttp(
  kind: StoreKind,
  o: { concurrency: number; warmup: number; maxCount: number; maxMs: number },
  signing: Signing = 'EdDSA',
): Promise<FlowResult & { signing: Signing; requests: number; requestsPerSec: number; retries: number; clientCpuShare: number; serverCpuShare: number }> {
  const store = await freshStore(kind, 'http');
  const over =
    signing === 'off'
      ? {
          configFile: benchConfig(store, (cfg) => {
            cfg.gateway.signatures = { required: false };
            // Not hosted: a hosted department's plain answer is signed by the gateway with the department's key, which
            // would measure signing, not its absence.
            for (const d of cfg.departments) if (DEPARTMENTS.includes(d.id)) d.hosted = false;
          }),
        }
      : { certsDir: benchCerts(settings(store).certsDir, store.dir, DEPARTMENTS, signing) };
  const { gw, base } = await startGateway(store, store.db(), over);
  // The client runs in its own process (its own core's worth of event loop), so client work does not slow the server.
  const child = fork(fileURLToPath(new URL('./http-client.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const wanted = new Set(['secretary', 'registrar', ...DEPARTMENTS.map((d) => `reviewer-${d}`)]);
    const users = loadDemoUsers(loadConfig(settings(store).configFile)).filter((u) => wanted.has(u.username));
    const cfg: ClientConfig = { base, certsDir: gw.settings.certsDir, sign: signing !== 'off', gatewayId: gw.config.gateway.id, users, departments: DEPARTMENTS, scope: SCOPE, concurrency: o.concurrency, warmup: o.warmup, maxCount: o.maxCount, maxMs: o.maxMs, streams: process.env.BENCH_HTTP_STREAMS === 'reviewers' ? 'reviewers' : 'secretary' };
    const reply = new Promise<{ ok: boolean; result?: ClientResult; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { ok: boolean; result?: ClientResult; error?: string }));
      child.once('exit', (code) => reject(new Error(`HTTP client exited with ${code} before reporting`)));
    });
    child.send(cfg);
    // The gateway's share of a core over warm-up and run (the client reports its own over the run alone).
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // Bounded: warm-up (30 s max) + run + drain of in-flight cases.
    const m = await withTimeout(reply, o.maxMs + 150_000, 'HTTP client');
    const cpu = process.cpuUsage(cpu0);
    const serverCpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
    if (!m.ok || !m.result) throw new Error(`HTTP client failed: ${m.error}`);
    const r = m.result;
    const licensed = Number((await gw.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM cases WHERE status = 'licensed'"))!.n);
    return {
      store: kind,
      mode: 'http',
      signing,
      concurrency: o.concurrency,
      warmupCases: r.warmupCases,
      cases: r.cases,
      failed: r.failed,
      seconds: r.seconds,
      casesPerSec: r.cases / r.seconds,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      licensedInStore: licensed,
      stepMeansMs: r.stepMeansMs,
      errors: r.errors,
      requests: r.requests,
      retries: r.retries,
      requestsPerSec: r.requests / r.seconds,
      clientCpuShare: r.cpuShare,
      serverCpuShare,
    };
  } finally {
    if (child.exitCode === null) child.kill();
    await gw.stop();
    await store.cleanup();
  }
}
