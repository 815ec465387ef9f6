// `pag demo`, province step: the gateway pulls a simulated provincial feed (with a dropped page, a repeated page, an
// outage, legacy and invalid credit codes) and tells the district health bureau of the changes in its district.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { names } from '../../adapters/amqp/topology.js';
import type { FakeAdapter } from '../../adapters/fake/index.js';
import type { Settings } from '../config/load.js';
import type { Gateway } from '../gateway.js';
import type { PullReport } from '../province/pull.js';
import { startProvinceSim, type ProvinceSim } from '../province/sim.js';
import { verifyEnvelope } from '../trust/envelope.js';
import { KeyRegistry } from '../trust/keys.js';
import { GATEWAY_OWNER } from '../trust/messages.js';
import { document } from './demo-peer.js';

type Json = any; // answers of our own API, read loosely for printing

const SUBSCRIBER = 'xw-health';
const AREA = '320102';
const PAGE = 150;
const RETRY = { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100 };
// The simulated feed carries a code that is no code only at every 1009th record, so the feed runs just past the first.
const FIRST = 600;
const TOTAL = 1020;

/** The simulated province and the configuration file that points the demo gateway at it. */
export interface DemoProvince {
  sim: ProvinceSim;
  configFile: string;
  close(): Promise<void>;
}

/**
 * Starts the simulated province and writes the demo's configuration with `province.pull` and a subscription: that
 * section is read at start-up (a running gateway refuses to change it), so the feed must answer before the gateway opens.
 */
export async function startDemoProvince(settings: Settings, dir: string): Promise<DemoProvince> {
  const doc = document(settings.configFile);
  // A fixed number of enterprises, so growing the feed later leaves the records already served as they were.
  const sim = await startProvinceSim({ keys: new KeyRegistry(settings.certsDir, false), receiver: doc.gateway.id, feed: { seed: 7, total: FIRST, enterprises: 150 } });
  doc.province = {
    ...doc.province,
    pull: { url: sim.url, pageSize: PAGE, intervalSeconds: 3600, timeoutMs: 5000, retry: RETRY },
    subscriptions: [{ department: SUBSCRIBER, areas: [AREA] }],
  };
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(doc));
  return {
    sim,
    configFile,
    close: async () => {
      // The gateway's HTTP client keeps connections alive; they would hold the close back.
      sim.server.closeAllConnections();
      await sim.close();
    },
  };
}

export interface ProvinceStepContext {
  gw: Gateway;
  province: DemoProvince;
  say: (line: string) => void;
  /** An API call as a demo user (throws on an error answer). */
  call: (username: string, method: string, path: string, body?: unknown) => Promise<Json>;
  /** The broker and exchange prefix of the demo's AMQP department (xw-health), or null when it is on the in-process adapter. */
  amqp: { url: string; prefix: string } | null;
}

/** Runs the step and prints it; returns whether everything it checks held. */
export async function provinceStep(c: ProvinceStepContext): Promise<boolean> {
  const { gw, say } = c;
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => void (ok || problems.push(what));
  say(`\n== 8. The province: status changes pulled from the provincial business system, told to the district health bureau`);
  const sim = c.province.sim;
  const queue = c.amqp ? names(c.amqp.prefix).provinceQueue(SUBSCRIBER) : null;
  try {
    const puller = gw.province;
    if (!puller) throw new Error('the demo gateway has no province.pull');
    say(`  province    simulated feed at ${sim.url}: ${FIRST} status changes, pages signed with the province's (demo) key`);
    say(`  gateway     configured at start-up with province.pull from it (pages of ${puller.cfg.pageSize}, ${puller.cfg.retry.maxAttempts} attempts a run); ${SUBSCRIBER} subscribes to changes in ${AREA}`);
    sim.faults.fail = 1;
    sim.faults.repeat = 1;
    const counts = (r: PullReport) => `${r.pages} page${r.pages === 1 ? '' : 's'}, applied ${r.applied}, stale ${r.stale}, repeated ${r.duplicates}, quarantined ${r.quarantined}`;

    const r1 = await puller.runOnce();
    say(`  gateway     pass 1: ${counts(r1)}; sequence ${r1.seq}${r1.caughtUp ? ', caught up' : ''}; a dropped page (HTTP 500) and a page served again, ${r1.retries} retries`);
    expect(r1.caughtUp && r1.seq === FIRST && r1.error === null, 'pass 1 did not catch up');
    expect(r1.retries >= 2 && r1.duplicates > 0, 'pass 1 did not meet the dropped and the repeated page');

    sim.feed = { ...sim.feed, total: TOTAL };
    sim.faults.down = RETRY.maxAttempts;
    say(`  province    ${TOTAL - FIRST} more changes, then down for maintenance (HTTP 503)`);
    const r2 = await puller.runOnce();
    say(`  gateway     pass 2: ${r2.error ? `${r2.error.code} (${r2.error.message}) after ${r2.retries + 1} attempts` : 'no error'}; ${r2.pages} pages applied, ${r2.seq === FIRST ? 'cursor stays at' : 'cursor moved to'} sequence ${r2.seq}`);
    expect(r2.error?.code === 'PROVINCE_UNAVAILABLE' && r2.pages === 0 && r2.seq === FIRST, 'the outage did not end pass 2 with the cursor kept');

    sim.faults.down = 0;
    let r3 = await puller.runOnce();
    for (let i = 0; i < 5 && !r3.caughtUp && !r3.error; i++) r3 = await puller.runOnce();
    say(`  gateway     province back, pass 3: ${counts(r3)}; sequence ${r3.seq}${r3.caughtUp ? ', caught up' : ''}`);
    expect(r3.caughtUp && r3.seq === TOTAL && r3.error === null, 'pass 3 did not catch up');

    const s = await c.call('supervisor', 'GET', '/api/province/status');
    const t = s.totals;
    say(`  status      GET /api/province/status: ${t.pages} pages, applied ${t.applied}, stale ${t.stale} (older than what was known), repeated ${t.duplicates}, quarantined ${t.quarantined}, credit-code warnings ${t.warnings}; ${s.enterprises} enterprises; last error ${s.lastError ? s.lastError.code : 'none'}`);
    expect(t.applied + t.stale + t.quarantined === TOTAL && s.seq === TOTAL, 'the status does not account for every record once');
    expect(t.applied > 0 && t.stale > 0 && t.duplicates > 0 && t.quarantined > 0 && t.warnings > 0, 'the status lacks applied, stale, repeated, quarantined records or warnings');
    const q = s.recentQuarantined[0];
    if (q) say(`  quarantine  record ${q.seq}: ${q.code} (${String(q.reason).split(';')[0]})`);
    const w = s.recentWarnings[0];
    if (w) {
      const e = await c.call('supervisor', 'GET', `/api/enterprises/${w.creditCode}`).catch(() => undefined);
      const when = e ? String(e.occurredAt).slice(0, 19).replace('T', ' ') : '-';
      say(`  enterprise  ${w.creditCode} ${e?.name} (${e?.divisionCode}): ${e?.status} (last change ${e?.lastKind}, version ${e?.version}, ${when} UTC; ${e?.history.length} changes applied, from GET /api/enterprises/{code}); ${w.warning}`);
      expect(e !== undefined, 'the enterprise with a legacy code has no status');
    }

    // Every change applied in the area is one notice to the subscriber, through the outbox.
    const wanted = Number((await gw.db.get<Json>("SELECT COUNT(*) AS n FROM province_changes WHERE outcome = 'applied' AND division_code = $1", [AREA]))?.n);
    const pending = async () => Number((await gw.db.get<Json>("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'province-change' AND state <> 'delivered'"))?.n);
    for (let i = 0; i < 400 && (await pending()) > 0; i++) {
      await gw.dispatcher.runOnce();
      await new Promise((r) => setTimeout(r, 10));
    }
    const delivered = Number((await gw.db.get<Json>("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'province-change' AND state = 'delivered'"))?.n);
    expect(delivered === wanted && wanted > 0 && (await pending()) === 0, `${delivered} of ${wanted} change notices delivered`);
    if (c.amqp && queue) {
      const got = await drain(c.amqp.url, queue, gw);
      say(`  ${SUBSCRIBER.padEnd(11)} ${delivered} change notices in ${AREA} published on the topic exchange ${names(c.amqp.prefix).provinceChanges}; its queue held ${got.count}, ${got.verified} signed by the gateway`);
      expect(got.count === delivered && got.verified === delivered, `the department's queue held ${got.count} notices (${got.verified} verified), not ${delivered}`);
    } else {
      const fake = gw.adapters.get(gw.config.departments.find((d) => d.id === SUBSCRIBER)!.adapter) as FakeAdapter | undefined;
      const got = fake?.received.filter((m) => m.kind === 'province-change' && m.departmentId === SUBSCRIBER).length ?? 0;
      say(`  ${SUBSCRIBER.padEnd(11)} ${delivered} change notices in ${AREA} delivered through the in-process simulated adapter, which received ${got}`);
      expect(got === delivered, `the department received ${got} notices, not ${delivered}`);
    }
    for (const p of problems) say(`  PROBLEM     ${p}`);
    return problems.length === 0;
  } finally {
    await c.province.close();
    if (c.amqp && queue) await deleteQueue(c.amqp.url, queue).catch(() => undefined);
  }
}

/** Takes every notice from the department's queue, checking each is signed by the gateway for its routing key. */
async function drain(url: string, queue: string, gw: Gateway): Promise<{ count: number; verified: number }> {
  const conn = await connect(url);
  try {
    const ch = await conn.createChannel();
    let count = 0;
    let verified = 0;
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (!m) break;
      count++;
      const v = await verifyEnvelope(gw.keys, m.content.toString('utf8'), { receiver: `topic:${m.fields.routingKey}`, windowSeconds: 300, keyOwner: () => GATEWAY_OWNER }).catch(() => null);
      if (v?.envelope.sender === gw.config.gateway.id && v.envelope.kind === 'province-change') verified++;
    }
    return { count, verified };
  } finally {
    await conn.close();
  }
}

/** The subscriber's queue of changes is the demo's own; the demo's exchanges go with the rest of its topology. */
async function deleteQueue(url: string, queue: string): Promise<void> {
  const conn = await connect(url);
  try {
    await (await conn.createChannel()).deleteQueue(queue);
  } finally {
    await conn.close();
  }
}
