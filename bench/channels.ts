// Channel benchmark: reviews through the gateway over SOAP and AMQP, against bare `soap` and bare amqplib measured in the same run.
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import express from 'express';
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as soap from 'soap';
import type { Channel as InboundChannel, IncomingMessage, InboundResult, SignedWire, WireExpectation } from '../adapters/adapter.js';
import { deleteTopology, names } from '../adapters/amqp/topology.js';
import { SAMPLE_MAPPING } from '../adapters/soap/sim.js';
import type { PublishedEvent } from '../src/bus/hub.js';
import { Gateway } from '../src/gateway.js';
import { CONFIG_DIR, SCHEMAS_DIR } from '../src/paths.js';
import type { Settings } from '../src/config/load.js';
import type { KeyAlg } from '../src/trust/keys.js';
import { claimsOf } from '../src/trust/messages.js';
import type { DepartmentsReply, DepartmentsRequest } from './channel-departments.js';
import { benchCerts } from './signing.js';
import { ADMIN, application, benchLogger, DEPARTMENTS, freshStore, percentile, pool, SECRETARY, settings, START_MS, withTimeout, type PoolResult, type StoreKind } from './support.js';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export interface ChannelConfig {
  /** Cases in flight in the load runs (each case is 4 reviews, so 4 x this many reviews, and as many bare exchanges, in flight). */
  cases: number;
  /** Cases in flight in the light runs, where latency is the gateway's own work rather than queueing. */
  lightCases: number;
  warmup: number;
  maxCount: number;
  maxMs: number;
  /** Messages per publisher-confirm batch in the bare AMQP batched run. */
  confirmBatch: number;
}

/** One timed run: how many, how fast, and the latency of each unit. */
export interface RunFigures {
  inFlight: number;
  count: number;
  failed: number;
  seconds: number;
  perSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: string[];
}

export interface BareSoapResult {
  /** Single calls (the pairs' calls counted one by one) during the load run. */
  callsLoad: RunFigures;
  /** Pairs of sequential calls (AcknowledgeNotification then SubmitOpinion): a review's SOAP floor. */
  pairsLoad: RunFigures;
  pairsLight: RunFigures;
  callsLight: RunFigures;
}

export interface BareAmqpResult {
  /** Persistent 1 KiB messages into a quorum queue, each publish waiting for its own confirm; consumed and acknowledged. */
  oneWaySingleConfirm: RunFigures;
  /** The same with `confirmBatch` publishes per waitForConfirms. */
  oneWayBatchedConfirms: RunFigures & { batch: number };
  /** Request (1 KiB) to a quorum queue, reply (small) to another, both persistent and confirmed: a review's AMQP floor. */
  roundTripLoad: RunFigures;
  roundTripLight: RunFigures;
  broker: string;
}

export interface GatewayChannelRun extends RunFigures {
  casesInFlight: number;
  cases: number;
  /** Mean ms per leg of a review: accept -> delivery published, -> opinion stored (the department's answer included). */
  legsMeanMs: Record<string, number>;
}

export interface GatewayChannelResult {
  store: StoreKind;
  channel: 'soap' | 'amqp';
  /** The algorithm of the departments' keys (SOAP: XML-DSig, which this gateway does with RSA only). */
  signing: KeyAlg;
  load: GatewayChannelRun;
  light: GatewayChannelRun;
  /** CPU used over the warm-up, load and light runs, as a share of one core: the gateway's (and the benchmark's) process, the departments'. */
  cpuShare: { gateway: number; departments: number };
  /** Channel messages one review takes (SOAP: calls; AMQP: broker messages). */
  messagesPerReview: number;
  notificationBytes: number | null;
  deadLetters: number | null;
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
const now = () => performance.now();

function figures(inFlight: number, r: PoolResult, latencies: number[] = r.latenciesMs, units = r.done): RunFigures {
  const seconds = r.elapsedMs / 1000;
  return { inFlight, count: units, failed: r.failed, seconds, perSec: units / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors: r.errors };
}

// ---------------------------------------------------------------- bare soap

const APPROVAL_WSDL = join(SCHEMAS_DIR, 'soap/approval.wsdl');

/** A bare server of schemas/soap/approval.wsdl whose operations do no work, and a client generated from the WSDL it serves. */
async function bareSoapPeers(): Promise<{ client: soap.Client; close: () => Promise<void> }> {
  const accepted = (args: { caseId?: string }) => ({ duplicate: 'false', caseId: args.caseId ?? 'c', caseStatus: 'in_review' });
  const services = {
    ApprovalService: {
      ApprovalPort: {
        SubmitOpinion: accepted,
        AcknowledgeNotification: accepted,
        ReportPermit: accepted,
        GetCaseStatus: (args: { caseId?: string }) => ({ caseId: args.caseId ?? 'c', reference: 'r', status: 'in_review' }),
      },
    },
  };
  const app = express();
  const router = express.Router();
  const server = soap.listen(router as unknown as express.Express, { path: '/approval', services, xml: readFileSync(APPROVAL_WSDL, 'utf8'), suppressStack: true });
  server.log = () => undefined;
  app.use(router);
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/approval`;
  const client = await soap.createClientAsync(`${url}?wsdl`, { disableCache: true });
  // The WSDL names a placeholder address (the gateway rewrites it when serving; this bare server does not).
  client.setEndpoint(url);
  return {
    client,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

export async function measureBareSoap(o: ChannelConfig): Promise<BareSoapResult> {
  const { client, close } = await bareSoapPeers();
  // A token of the gateway's length, so requests are the size a department sends.
  const headers = { Authorization: `Bearer ${'x'.repeat(300)}` };
  const call = (op: string, args: Record<string, unknown>) => (client as unknown as Record<string, (a: unknown, o: unknown, h: unknown) => Promise<unknown[]>>)[`${op}Async`]!.call(client, args, {}, headers);
  const run = async (inFlight: number, maxCount: number, maxMs: number) => {
    const calls: number[] = [];
    const r = await pool({
      concurrency: inFlight,
      maxCount,
      maxMs,
      task: async (i) => {
        const caseId = `case-${i}`;
        let t = now();
        await call('AcknowledgeNotification', { messageId: randomUUID(), departmentId: 'xw-health', caseId, ackOf: randomUUID() });
        calls.push(now() - t);
        t = now();
        await call('SubmitOpinion', { messageId: randomUUID(), departmentId: 'xw-health', caseId, decision: 'approve' });
        calls.push(now() - t);
      },
    });
    return { pairs: figures(inFlight, r), calls: figures(inFlight, r, calls, calls.length) };
  };
  try {
    await run(o.cases * 4, o.warmup * 4, 30_000);
    const load = await run(o.cases * 4, o.maxCount, o.maxMs);
    const light = await run(o.lightCases * 4, o.maxCount, o.maxMs);
    return { callsLoad: load.calls, pairsLoad: load.pairs, callsLight: light.calls, pairsLight: light.pairs };
  } finally {
    await close();
  }
}

// ---------------------------------------------------------------- bare amqplib

const QUORUM = { durable: true, arguments: { 'x-queue-type': 'quorum' } };

async function openConnection(name: string): Promise<ChannelModel> {
  // Nagle off, as the gateway's adapter has it: small frames (acks, confirms, replies) go out at once.
  const c = await connect(AMQP_URL, { noDelay: true, clientProperties: { connection_name: name } });
  // Errors surface as rejected calls; an unheard 'error' event would end the process.
  c.on('error', () => undefined);
  return c;
}

/** Publishes and resolves on the broker's confirm. */
const publishConfirmed = (ch: ConfirmChannel, queue: string, body: Buffer, opts: Options.Publish) =>
  new Promise<void>((resolve, reject) => ch.sendToQueue(queue, body, opts, (err: unknown) => (err ? reject(err as Error) : resolve())));

/** Persistent messages into a quorum queue, consumed and acknowledged one by one on another connection; rate from first publish to last ack. */
async function oneWay(prefix: string, mode: 'single' | 'batch', batch: number, o: ChannelConfig): Promise<RunFigures> {
  const queue = `${prefix}.bare.oneway.${mode}`;
  const pubConn = await openConnection(`bench bare publisher ${prefix}`);
  const subConn = await openConnection(`bench bare consumer ${prefix}`);
  try {
    const pub = await pubConn.createConfirmChannel();
    await pub.assertQueue(queue, QUORUM);
    const sub = await subConn.createChannel();
    await sub.prefetch(500);
    const body = Buffer.alloc(1024, 'x');
    const props: Options.Publish = { persistent: true, contentType: 'application/json' };
    let published = 0;
    let consumed = 0;
    let lastConsumed = 0;
    let allConsumed: () => void = () => undefined;
    const drained = new Promise<void>((r) => (allConsumed = r));
    let publishing = true;
    await sub.consume(queue, (m) => {
      if (!m) return;
      sub.ack(m);
      consumed++;
      lastConsumed = now();
      if (!publishing && consumed >= published) allConsumed();
    });
    const t0 = now();
    const deadline = t0 + o.maxMs;
    if (mode === 'single') {
      while (published < o.maxCount && now() < deadline) {
        await publishConfirmed(pub, queue, body, props);
        published++;
      }
    } else {
      while (published < o.maxCount && now() < deadline) {
        const n = Math.min(batch, o.maxCount - published);
        for (let i = 0; i < n; i++) pub.sendToQueue(queue, body, props);
        await pub.waitForConfirms();
        published += n;
      }
    }
    publishing = false;
    if (consumed >= published) allConsumed();
    await withTimeout(drained, 60_000, `bare AMQP ${mode} consumer`);
    const seconds = (lastConsumed - t0) / 1000;
    await pub.deleteQueue(queue);
    return { inFlight: mode === 'single' ? 1 : batch, count: consumed, failed: published - consumed, seconds, perSec: consumed / seconds, p50Ms: null, p99Ms: null, errors: [] };
  } finally {
    await pubConn.close().catch(() => undefined);
    await subConn.close().catch(() => undefined);
  }
}

/**
 * Request/reply over two quorum queues, as a review goes: the requester publishes (persistent, confirmed), the responder
 * consumes, publishes its reply (persistent, confirmed) and only then acknowledges; latency from publish to reply consumed.
 */
async function roundTrips(prefix: string, o: ChannelConfig) {
  const req = `${prefix}.bare.request`;
  const rep = `${prefix}.bare.reply`;
  const requester = await openConnection(`bench bare requester ${prefix}`);
  const responder = await openConnection(`bench bare responder ${prefix}`);
  try {
    const out = await requester.createConfirmChannel();
    await out.assertQueue(req, QUORUM);
    await out.assertQueue(rep, QUORUM);
    const inbox = await requester.createChannel();
    await inbox.prefetch(Math.max(64, o.cases * 4));
    const waiting = new Map<string, () => void>();
    await inbox.consume(rep, (m) => {
      if (!m) return;
      inbox.ack(m);
      waiting.get(m.properties.correlationId as string)?.();
    });
    const rch = await responder.createConfirmChannel();
    await rch.prefetch(Math.max(64, o.cases * 4));
    const reply = Buffer.alloc(200, 'r');
    await rch.consume(req, (m: ConsumeMessage | null) => {
      if (!m) return;
      rch.sendToQueue(rep, reply, { persistent: true, correlationId: m.properties.correlationId }, (err: unknown) => (err ? rch.nack(m) : rch.ack(m)));
    });
    const body = Buffer.alloc(1024, 'x');
    const task = async () => {
      const id = randomUUID();
      const replied = new Promise<void>((resolve) => waiting.set(id, resolve));
      try {
        await Promise.all([publishConfirmed(out, req, body, { persistent: true, correlationId: id }), withTimeout(replied, 30_000, 'bare AMQP reply')]);
      } finally {
        waiting.delete(id);
      }
    };
    const run = async (inFlight: number, maxCount: number, maxMs: number) => figures(inFlight, await pool({ concurrency: inFlight, maxCount, maxMs, task }));
    await run(o.cases * 4, o.warmup * 4, 30_000);
    const load = await run(o.cases * 4, o.maxCount, o.maxMs);
    const light = await run(o.lightCases * 4, o.maxCount, o.maxMs);
    await out.deleteQueue(req);
    await out.deleteQueue(rep);
    return { load, light };
  } finally {
    await requester.close().catch(() => undefined);
    await responder.close().catch(() => undefined);
  }
}

export async function measureBareAmqp(o: ChannelConfig): Promise<BareAmqpResult> {
  const prefix = runPrefix('bare');
  const probe = await openConnection(`bench broker version ${prefix}`);
  const props = (probe as unknown as { connection: { serverProperties?: Record<string, unknown> } }).connection.serverProperties ?? {};
  const broker = `${String(props.product ?? 'broker')} ${String(props.version ?? '?')}`;
  await probe.close();
  try {
    const single = await oneWay(prefix, 'single', 1, o);
    const batched = await oneWay(prefix, 'batch', o.confirmBatch, o);
    const rt = await roundTrips(prefix, o);
    return { oneWaySingleConfirm: single, oneWayBatchedConfirms: { ...batched, batch: o.confirmBatch }, roundTripLoad: rt.load, roundTripLight: rt.light, broker };
  } finally {
    await deleteQueues(prefix, ['bare.oneway.single', 'bare.oneway.batch', 'bare.request', 'bare.reply']);
  }
}

/** A prefix no other run uses, so that runs never meet on the broker. */
const runPrefix = (what: string) => `pagbench.${what}.${process.pid}.${Math.floor(Math.random() * 1e6)}`;

/** Deletes what a failed run may have left; deleting a queue that is not there is not an error. */
async function deleteQueues(prefix: string, suffixes: string[]): Promise<void> {
  const c = await openConnection(`bench cleanup ${prefix}`).catch(() => null);
  if (!c) return;
  try {
    const ch = await c.createChannel();
    for (const s of suffixes) await ch.deleteQueue(`${prefix}.${s}`);
  } catch {
    // Nothing left to delete, or the broker is away: nothing more this run can do.
  } finally {
    await c.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- through the gateway

/** The shipped configuration with the four benchmark departments on the channel under test. */
function channelConfig(dir: string, adapters: Record<string, unknown>, departmentAdapter: (d: string) => string): string {
  const cfg = JSON.parse(readFileSync(join(CONFIG_DIR, 'default.json'), 'utf8'));
  delete cfg.$schema;
  cfg.calendar = join(CONFIG_DIR, 'calendar/cn.json');
  cfg.gateway.demoUsers = join(CONFIG_DIR, 'demo-users.json');
  Object.assign(cfg.adapters, adapters);
  for (const d of DEPARTMENTS) cfg.departments.find((x: { id: string }) => x.id === d).adapter = departmentAdapter(d);
  const file = join(dir, 'channels.json');
  writeFileSync(file, JSON.stringify(cfg));
  return file;
}

/** Per review: when its delivery was published, when the opinion was stored. */
interface ReviewTimes {
  delivered?: number;
  stored?: number;
}

/**
 * Follows each case's four reviews: answers a review once its delivery is published (the sealed event stream, as a live
 * client would learn it) and learns that an opinion is stored when the inbound service returns for it (after its commit).
 */
function reviewTracker(gw: Gateway, answer: (caseId: string, departmentId: string) => Promise<void>) {
  const cases = new Map<string, { accepted: number; reviews: Map<string, ReviewTimes>; left: number; resolve: () => void; reject: (e: Error) => void }>();
  const onPublished = (events: PublishedEvent[]) => {
    for (const e of events) {
      if (e.action !== 'review.delivered' || !e.caseId) continue;
      const c = cases.get(e.caseId);
      const dep = String(e.data.departmentId);
      const r = c?.reviews.get(dep);
      if (!c || !r || r.delivered) continue;
      r.delivered = now();
      const caseId = e.caseId;
      answer(caseId, dep).catch((err: Error) => c.reject(new Error(`answer of ${dep} on ${caseId}: ${err.message}`)));
    }
  };
  gw.hub.on('published', onPublished);
  // A probe around the product's inbound service: every channel hands incoming messages to it (signed ones to receive,
  // unsigned ones to accept where the configuration allows them) and it returns after the commit.
  const inbound = gw.inbound;
  const stored = (kind: string | undefined, caseId: string | undefined, departmentId: string | undefined, r: InboundResult) => {
    if (kind !== 'opinion' || !caseId || !departmentId) return;
    const c = cases.get(caseId);
    const rv = c?.reviews.get(departmentId);
    if (!c || !rv || rv.stored) return;
    if (!r.ok) c.reject(new Error(`opinion of ${departmentId} refused: ${r.code} ${r.message}`));
    else {
      rv.stored = now();
      if (--c.left === 0) c.resolve();
    }
  };
  const accept = inbound.accept.bind(inbound);
  const receive = inbound.receive.bind(inbound);
  inbound.accept = async (msg: IncomingMessage, channel: InboundChannel): Promise<InboundResult> => {
    const r = await accept(msg, channel);
    stored(msg.kind, msg.caseId, msg.departmentId, r);
    return r;
  };
  inbound.receive = async (wire: SignedWire, channel: InboundChannel, expect?: WireExpectation): Promise<InboundResult> => {
    const r = await receive(wire, channel, expect);
    const claims = claimsOf(wire);
    stored(claims.kind, claims.caseId, claims.sender, r);
    return r;
  };
  return {
    /** Register before accepting; resolves with the accept time and the four reviews' times once all four opinions are stored. */
    track(caseId: string) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const done = new Promise<void>((a, b) => {
        resolve = a;
        reject = b;
      });
      const entry = { accepted: 0, reviews: new Map(DEPARTMENTS.map((d) => [d, {} as ReviewTimes])), left: DEPARTMENTS.length, resolve, reject };
      cases.set(caseId, entry);
      return {
        accepted: () => (entry.accepted = now()),
        done: withTimeout(done, 60_000, `opinions on case ${caseId}`)
          .then(() => ({ accepted: entry.accepted, reviews: [...entry.reviews.values()] }))
          .finally(() => cases.delete(caseId)),
      };
    },
    close() {
      gw.hub.off('published', onPublished);
      inbound.accept = accept;
      inbound.receive = receive;
    },
  };
}

async function openGateway(store: Awaited<ReturnType<typeof freshStore>>, configFile: string, over: Partial<Settings> = {}): Promise<{ gw: Gateway; base: string }> {
  const gw = await Gateway.open({ settings: { ...settings(store), configFile, ...over }, db: store.db(), logger: benchLogger(store), pollMs: 500 });
  const { port } = await gw.start();
  await gw.setClock(START_MS, ADMIN);
  return { gw, base: `http://127.0.0.1:${port}` };
}

async function driveReviews(gw: Gateway, channel: string, answer: (caseId: string, departmentId: string) => Promise<void>, o: ChannelConfig) {
  const tracker = reviewTracker(gw, answer);
  const run = async (tag: string, inFlight: number, maxCount: number, maxMs: number): Promise<GatewayChannelRun> => {
    const latencies: number[] = [];
    const legs = { 'accept -> delivery published': 0, '-> opinion stored': 0 };
    const r = await pool({
      concurrency: inFlight,
      maxCount,
      maxMs,
      task: async (i) => {
        const { case: c } = await gw.cases.submit(application(`${channel}-${tag}`, i), SECRETARY);
        const t = tracker.track(c.id);
        await gw.cases.accept(c.id, SECRETARY);
        t.accepted();
        const { accepted, reviews } = await t.done;
        for (const rv of reviews) {
          latencies.push(rv.stored! - accepted);
          legs['accept -> delivery published'] += rv.delivered! - accepted;
          legs['-> opinion stored'] += rv.stored! - rv.delivered!;
        }
      },
    });
    const n = latencies.length || 1;
    const f = figures(inFlight * DEPARTMENTS.length, r, latencies, latencies.length);
    return { ...f, casesInFlight: inFlight, cases: r.done, legsMeanMs: Object.fromEntries(Object.entries(legs).map(([k, v]) => [k, v / n])) };
  };
  try {
    const warm = await run('warm', o.cases, o.warmup, 30_000);
    if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.errors.join(' | ')}`);
    const load = await run('load', o.cases, o.maxCount, o.maxMs);
    const light = await run('light', o.lightCases, o.maxCount, o.maxMs);
    return { load, light };
  } finally {
    tracker.close();
  }
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * The simulated departments in a process of their own (bench/channel-departments.ts), as departments are systems of
 * their own: their signing and parsing then neither takes the gateway's event loop nor counts as the gateway's latency.
 */
function departmentsProcess() {
  const child = fork(fileURLToPath(new URL('./channel-departments.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 1;
  const waiting = new Map<number, { resolve: (r: DepartmentsReply) => void; reject: (e: Error) => void }>();
  child.on('message', (r: DepartmentsReply) => {
    const w = waiting.get(r.id);
    waiting.delete(r.id);
    if (r.ok) w?.resolve(r);
    else w?.reject(new Error(r.error ?? 'the departments failed'));
  });
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`the departments' process exited with ${code}`));
    waiting.clear();
  });
  const ask = (req: WithoutId<DepartmentsRequest>): Promise<DepartmentsReply> =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null) return reject(new Error(`the departments' process exited with ${child.exitCode}`));
      const id = next++;
      waiting.set(id, { resolve, reject });
      child.send({ ...req, id });
    });
  return {
    ask,
    /** Runs `fn` and says what share of a core this process and the departments' process used meanwhile. */
    async timed<T>(fn: () => Promise<T>): Promise<T & { cpuShare: { gateway: number; departments: number } }> {
      const d0 = (await ask({ op: 'cpu' })).cpuMs!;
      const c0 = process.cpuUsage();
      const t0 = now();
      const r = await fn();
      const c = process.cpuUsage(c0);
      const ms = now() - t0;
      const d = (await ask({ op: 'cpu' })).cpuMs! - d0;
      return { ...r, cpuShare: { gateway: (c.user + c.system) / 1000 / ms, departments: d / ms } };
    },
    async close(): Promise<void> {
      if (child.exitCode !== null) return;
      await withTimeout(ask({ op: 'stop' }), 30_000, 'stopping the departments').catch((e: Error) => log(e.message));
      child.kill();
    },
  };
}

export async function measureGatewaySoap(kind: StoreKind, o: ChannelConfig): Promise<GatewayChannelResult> {
  const store = await freshStore(kind, 'soap');
  const deps = departmentsProcess();
  let gw: Gateway | null = null;
  try {
    // One department service per department, each its own adapter; 'manual' so that the benchmark says when each answers.
    const { endpoints } = await deps.ask({ op: 'soap', departments: DEPARTMENTS });
    const adapters = Object.fromEntries(
      DEPARTMENTS.map((d) => [`soap-${d}`, { kind: 'soap', options: { ...endpoints![d]!, ...SAMPLE_MAPPING, timeoutMs: 10_000 }, retry: { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000 } }]),
    );
    const opened = await openGateway(store, channelConfig(store.dir, adapters, (d) => `soap-${d}`));
    gw = opened.gw;
    await deps.ask({ op: 'base', base: opened.base });
    const answer = async (caseId: string, departmentId: string) => void (await deps.ask({ op: 'answer', caseId, departmentId }));
    const { load, light, cpuShare } = await deps.timed(() => driveReviews(gw!, 'soap', answer, o));
    return { store: kind, channel: 'soap', signing: 'RS256', load, light, cpuShare, messagesPerReview: 2, notificationBytes: null, deadLetters: null };
  } finally {
    await gw?.stop();
    await deps.close();
    await store.cleanup();
  }
}

/** `signing`: the algorithm of the departments' keys (JWS), as in the HTTP phase; the gateway signs with its ES256 key. */
export async function measureGatewayAmqp(kind: StoreKind, o: ChannelConfig, signing: KeyAlg = 'EdDSA'): Promise<GatewayChannelResult> {
  const store = await freshStore(kind, 'amqp');
  const prefix = runPrefix(`gw-${kind}`);
  const deps = departmentsProcess();
  let gw: Gateway | null = null;
  try {
    const adapters = { amqp: { kind: 'amqp', options: { url: AMQP_URL, prefix }, retry: { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000, receiptTimeoutMs: 60_000 } } };
    const certsDir = benchCerts(settings(store).certsDir, store.dir, DEPARTMENTS, signing);
    const opened = await openGateway(store, channelConfig(store.dir, adapters, () => 'amqp'), { certsDir });
    gw = opened.gw;
    await deps.ask({ op: 'amqp', departments: DEPARTMENTS, url: AMQP_URL, prefix, base: opened.base, certsDir });
    const { load, light, cpuShare } = await deps.timed(() => driveReviews(gw!, 'amqp', async (caseId, departmentId) => void (await deps.ask({ op: 'answer', caseId, departmentId })), o));
    const { bytes } = await deps.ask({ op: 'first-notification-bytes' });
    const c = await openConnection(`bench inspect ${prefix}`);
    let deadLetters: number | null = null;
    try {
      deadLetters = (await (await c.createChannel()).checkQueue(names(prefix).deadLetterQueue)).messageCount;
    } finally {
      await c.close().catch(() => undefined);
    }
    // notification, receipt, opinion, and the gateway's result for the opinion
    return { store: kind, channel: 'amqp', signing, load, light, cpuShare, messagesPerReview: 4, notificationBytes: bytes ?? null, deadLetters };
  } finally {
    await deps.close();
    await gw?.stop();
    const c = await openConnection(`bench cleanup ${prefix}`).catch(() => null);
    if (c) {
      await deleteTopology(await c.createChannel(), names(prefix), DEPARTMENTS).catch((e: Error) => log(`AMQP cleanup of ${prefix} failed: ${e.message}`));
      await c.close().catch(() => undefined);
    }
    await store.cleanup();
  }
}
