// In-process throughput: whole cases (submit, accept, delivery, four approvals, licence) through CaseService, N in flight.
import type { PublishedEvent } from '../src/bus/hub.js';
import type { Gateway } from '../src/gateway.js';
import { application, DEPARTMENTS, freshStore, percentile, pool, REGISTRAR, reviewer, SECRETARY, startGateway, withTimeout, type StoreKind } from './support.js';

export interface FlowResult {
  store: StoreKind;
  mode: 'in-process' | 'http';
  concurrency: number;
  warmupCases: number;
  cases: number;
  failed: number;
  seconds: number;
  casesPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  licensedInStore: number;
  /** Mean milliseconds per step of a case (timed run only): where a case's latency goes. */
  stepMeansMs: Record<string, number>;
  errors: string[];
}

export type StepTimes = Map<string, { n: number; ms: number }>;

/** Returns a function that charges the time since its last call to a named step. */
export function stepClock(steps: StepTimes | undefined): (name: string) => void {
  let t = performance.now();
  return (name) => {
    const now = performance.now();
    if (steps) {
      const s = steps.get(name) ?? { n: 0, ms: 0 };
      s.n++;
      s.ms += now - t;
      steps.set(name, s);
    }
    t = now;
  };
}

export const stepMeans = (steps: StepTimes) => Object.fromEntries([...steps].map(([k, v]) => [k, v.ms / v.n]));

/**
 * Resolves when a case's four notifications are delivered, learnt from the sealed event stream (the hub), exactly as
 * the HTTP API's live stream learns it; so delivery here is the product's own background dispatcher, not ours.
 */
export function deliveryWatcher(gw: Gateway) {
  const waiting = new Map<string, { left: Set<string>; resolve: () => void }>();
  const onPublished = (events: PublishedEvent[]) => {
    for (const e of events) {
      if (e.action !== 'review.delivered' || !e.caseId) continue;
      const w = waiting.get(e.caseId);
      if (!w) continue;
      w.left.delete(String(e.data.departmentId));
      if (w.left.size === 0) {
        waiting.delete(e.caseId);
        w.resolve();
      }
    }
  };
  gw.hub.on('published', onPublished);
  return {
    /** Register before accepting, so an early delivery cannot be missed. */
    expect(caseId: string): Promise<void> {
      const p = new Promise<void>((resolve) => waiting.set(caseId, { left: new Set(DEPARTMENTS), resolve }));
      return withTimeout(p, 60_000, `delivery of case ${caseId}`).finally(() => waiting.delete(caseId));
    },
    close: () => gw.hub.off('published', onPublished),
  };
}

/** One case from application to licence; every step is its own committed transaction inside the product. */
export async function caseFlow(gw: Gateway, watcher: ReturnType<typeof deliveryWatcher>, tag: string, i: number, steps?: StepTimes): Promise<void> {
  const mark = stepClock(steps);
  const { case: c } = await gw.cases.submit(application(tag, i), SECRETARY);
  mark('submit');
  const delivered = watcher.expect(c.id);
  await gw.cases.accept(c.id, SECRETARY);
  mark('accept');
  await delivered;
  mark('delivery seen');
  // Departments answer independently, so their opinions arrive concurrently.
  await Promise.all(DEPARTMENTS.map((d) => gw.cases.opinion(c.id, d, 'approve', '符合条件', reviewer(d))));
  mark('4 opinions');
  const done = await gw.cases.issueLicence(c.id, REGISTRAR);
  mark('licence');
  if (done.status !== 'licensed' || !done.licence) throw new Error(`case ${c.id} ended ${done.status}`);
}

export async function measureInProcess(kind: StoreKind, o: { concurrency: number; warmup: number; maxCount: number; maxMs: number }): Promise<FlowResult> {
  const store = await freshStore(kind, 'inproc');
  const { gw } = await startGateway(store);
  const watcher = deliveryWatcher(gw);
  try {
    const warm = await pool({ concurrency: o.concurrency, maxCount: o.warmup, maxMs: 30_000, task: (i) => caseFlow(gw, watcher, 'warm', i) });
    if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.errors.join(' | ')}`);
    const steps: StepTimes = new Map();
    const r = await pool({ concurrency: o.concurrency, maxCount: o.maxCount, maxMs: o.maxMs, task: (i) => caseFlow(gw, watcher, 'run', i, steps) });
    const licensed = Number((await gw.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM cases WHERE status = 'licensed'"))!.n);
    return {
      store: kind,
      mode: 'in-process',
      concurrency: o.concurrency,
      warmupCases: warm.done,
      cases: r.done,
      failed: r.failed,
      seconds: r.elapsedMs / 1000,
      casesPerSec: r.done / (r.elapsedMs / 1000),
      p50Ms: percentile(r.latenciesMs, 50),
      p99Ms: percentile(r.latenciesMs, 99),
      licensedInStore: licensed,
      stepMeansMs: stepMeans(steps),
      errors: r.errors,
    };
  } finally {
    watcher.close();
    await gw.stop();
    await store.cleanup();
  }
}
