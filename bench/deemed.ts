// Deemed approvals: 100,000 pending review deadlines, then the manual clock moves past them and the timekeeper fires them all.
import { bulkInReview } from './bulk.js';
import { ADMIN, DEPARTMENTS, freshStore, sleep, START_MS, startGateway, withTimeout, type StoreKind } from './support.js';

export interface DeemedResult {
  store: StoreKind;
  deadlines: number;
  cases: number;
  loadSeconds: number;
  timekeeperBatch: number;
  fired: number;
  completed: boolean;
  seconds: number;
  deemedPerSec: number;
  awaitingLicence: number;
  /** Until every audit event those firings wrote is sealed into the chain (the sealer runs alongside, as in production). */
  sealedSeconds: number | null;
  deemedPerSecSealed: number | null;
}

export async function measureDeemed(kind: StoreKind, o: { deadlines: number; maxMs: number }): Promise<DeemedResult> {
  const store = await freshStore(kind, 'deemed');
  const { gw } = await startGateway(store);
  try {
    const cases = Math.ceil(o.deadlines / DEPARTMENTS.length);
    const due = gw.calendar.addWorkingDays(new Date(START_MS), 5).dueAt.getTime();
    const l0 = performance.now();
    await bulkInReview(gw.db, cases, START_MS, due, 'deemed');
    const loadSeconds = (performance.now() - l0) / 1000;
    const pending = Number((await gw.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM reviews WHERE state = 'delivered' AND due_at <= $1", [due]))!.n);
    if (pending !== cases * DEPARTMENTS.length) throw new Error(`expected ${cases * DEPARTMENTS.length} pending deadlines, found ${pending}`);
    const unsealedBefore = Number((await gw.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE chain_pos IS NULL'))!.n);
    if (unsealedBefore > 0) await gw.sealer.settled();

    // The production path: an administrator moves the clock; setClock returns once the timekeeper has fired everything due.
    const t0 = performance.now();
    let completed = true;
    try {
      await withTimeout(gw.setClock(due + 3_600_000, ADMIN), o.maxMs, 'timekeeper');
    } catch {
      completed = false;
    }
    const fired = Number((await gw.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM reviews WHERE state = 'deemed_approved'"))!.n);
    const seconds = (performance.now() - t0) / 1000;
    const awaitingLicence = Number((await gw.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM cases WHERE status = 'awaiting_licence'"))!.n);

    let sealedSeconds: number | null = null;
    if (completed) {
      const limit = t0 + o.maxMs;
      while (performance.now() < limit) {
        const n = Number((await gw.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE chain_pos IS NULL'))!.n);
        if (n === 0) {
          sealedSeconds = (performance.now() - t0) / 1000;
          break;
        }
        await sleep(100);
      }
    }
    return {
      store: kind,
      deadlines: cases * DEPARTMENTS.length,
      cases,
      loadSeconds,
      timekeeperBatch: Number(process.env.PAG_TIMEKEEPER_BATCH) > 0 ? Number(process.env.PAG_TIMEKEEPER_BATCH) : 500,
      fired,
      completed,
      seconds,
      deemedPerSec: fired / seconds,
      awaitingLicence,
      sealedSeconds,
      deemedPerSecSealed: sealedSeconds ? fired / sealedSeconds : null,
    };
  } finally {
    await gw.stop();
    await store.cleanup();
  }
}
