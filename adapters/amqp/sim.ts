// Simulated AMQP department: consumes its queue, checks the gateway's signatures, and answers with signed receipts, opinions and permits as configured.
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options, type RecoveringChannelModel } from 'amqplib';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import demoUsers from '../../config/demo-users.json' with { type: 'json' };
import type { DepartmentSigner } from '../../src/trust/department.js';
import { signEnvelope } from '../../src/trust/envelope.js';
import type { KeyRegistry } from '../../src/trust/keys.js';
import { currentTotp } from '../../src/trust/totp.js';
import { departmentSigner } from '../xml/sim.js';
import { brokerUrl } from './index.js';
import { JOSE } from './wire.js';
import { names, type Names } from './topology.js';

/** How the department behaves; tests may change it while it runs. */
export interface SimBehaviour {
  /** Send a receipt for every message (false: never acknowledge, so the gateway resends and finally fails). */
  receipt: boolean;
  /** Wait before the receipt (a slow department). */
  receiptDelayMs: number;
  /** The opinion on each notification; 'silent' sends none (deemed approval, or a late answer sent by hand with opinion()). */
  answer: 'approve' | 'refuse' | 'extend' | 'silent';
  /** Wait between receipt and opinion. */
  answerDelayMs: number;
  reasons: string;
  /** Send every opinion twice with the same message id. */
  duplicate: boolean;
  /** Answer with a message that is not JSON instead of an opinion. */
  malformed: boolean;
}

export interface SimOptions {
  departmentId: string;
  url?: string;
  prefix?: string;
  exchanges?: Partial<Record<'toDepartments' | 'fromDepartments' | 'deadLetter', string>>;
  /** A bearer token of one of the department's reviewers (opinions and permits need one). */
  token: () => Promise<string>;
  behaviour?: Partial<SimBehaviour>;
  /** How long publish keeps trying while the broker is away. */
  publishTimeoutMs?: number;
  /** The key registry with the department's key and the gateway's public keys; default: the package's certs/ (demo keys). */
  keys?: KeyRegistry;
  /** The gateway's id (receiver of the department's messages); default: the one in config/default.json. */
  gatewayId?: string;
}

/** How one message of the department is signed (tests forge and back-date some). */
export interface SendSigning {
  /** Send plain JSON without a signature (the form before signing; refused where signatures are required). */
  plain?: boolean;
  /** Sign with another owner's key. */
  signAs?: string;
  issuedAt?: string;
  receiver?: string;
  /** The hash of the gateway's message this one answers. */
  requestHash?: string;
}

/** A message the department received. */
export interface Received {
  messageId: string;
  type: string;
  caseId: string | null;
  redelivered: boolean;
  properties: ConsumeMessage['properties'];
  body: any;
  /** SHA-256 of the signed body as received, base64url: what an answer quotes as requestHash. */
  hash: string;
}

const DEFAULT_BEHAVIOUR: SimBehaviour = { receipt: true, receiptDelayMs: 0, answer: 'approve', answerDelayMs: 0, reasons: 'Fire exits do not meet GB 50016.', duplicate: false, malformed: false };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class AmqpDepartmentSim {
  behaviour: SimBehaviour;
  /** Every message delivered to the department whose gateway signature verified, repeats included (`body` is the verified envelope's content). */
  readonly received: Received[] = [];
  /** Messages whose signature did not verify as the gateway's; they are dropped without a receipt. */
  readonly badSignatures: { messageId: string; code: string }[] = [];
  readonly signer: DepartmentSigner;
  /** Signed bytes per message id: a message sent again is the same message, byte for byte. */
  private readonly signedBytes = new Map<string, Buffer>();
  /** Results the gateway sent back for the department's own messages. */
  readonly results: Received[] = [];
  readonly names: Names;
  private readonly url: string;
  private conn: RecoveringChannelModel | null = null;
  private live: { model: ChannelModel; ch: ConfirmChannel } | null = null;
  private readonly answered = new Set<string>();
  private readonly pending = new Set<Promise<unknown>>();
  private tokenValue: Promise<string> | null = null;
  private stopped = false;

  constructor(readonly options: SimOptions) {
    this.behaviour = { ...DEFAULT_BEHAVIOUR, ...options.behaviour };
    this.url = brokerUrl(options);
    this.names = names(options.prefix ?? 'pag', options.exchanges);
    this.signer = departmentSigner({ base: '', departmentId: options.departmentId, keys: options.keys, gatewayId: options.gatewayId });
  }

  /** How often each message id arrived (a resend after a lost receipt arrives twice). */
  counts(type?: string): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.received) if (!type || r.type === type) m.set(r.messageId, (m.get(r.messageId) ?? 0) + 1);
    return m;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const conn = await connect(this.url, {
      // Nagle off, as a department's client should have it (see the adapter): otherwise each answer at light traffic
      // waits about 40 ms for the broker's delayed TCP ack, which the gateway's figures would carry.
      noDelay: true,
      clientProperties: { connection_name: `simulated department ${this.options.departmentId}` },
      recovery: { waitForConnect: false, initialDelay: 200, maxDelay: 2000, jitter: 0.5, maxRetries: Infinity, setup: (model: ChannelModel) => this.setup(model) },
    });
    conn.on('error', () => undefined);
    this.conn = conn;
    await conn.waitForConnect();
  }

  private async setup(model: ChannelModel): Promise<void> {
    // The gateway declares the queues; a department only uses its own.
    model.on('error', () => undefined);
    const ch = await model.createConfirmChannel();
    ch.on('error', () => undefined);
    model.on('close', () => {
      if (this.live?.model === model) this.live = null;
    });
    await ch.prefetch(50);
    await ch.consume(this.names.toQueue(this.options.departmentId), (m) => {
      if (m) this.track(this.onMessage(ch, m));
    });
    this.live = { model, ch };
  }

  private track<T>(p: Promise<T>): void {
    const q = p.catch(() => undefined).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  private async onMessage(ch: Channel, m: ConsumeMessage): Promise<void> {
    let body: any;
    let hash: string;
    try {
      const opened = await this.signer.openJson(m.content.toString('utf8'));
      hash = opened.hash;
      const e = opened.envelope;
      body = e.kind === 'result' ? e.body : { messageId: e.messageId, kind: e.kind, sender: e.sender, receiver: e.receiver, caseId: e.caseId, issuedAt: e.issuedAt, payload: e.body };
    } catch (e) {
      // Not the gateway's signature: refused, never acted on.
      this.badSignatures.push({ messageId: String(m.properties.messageId), code: String((e as { code?: string }).code ?? 'SIGNATURE_INVALID') });
      try {
        ch.ack(m);
      } catch {
        // the channel went away; the message comes again and is refused again
      }
      return;
    }
    const r: Received = { messageId: m.properties.messageId, type: m.properties.type, caseId: m.properties.correlationId ?? null, redelivered: m.fields.redelivered, properties: m.properties, body, hash };
    if (r.type === 'result') {
      this.results.push(r);
      ch.ack(m);
      return;
    }
    this.received.push(r);
    const b = this.behaviour;
    if (b.receipt) {
      if (b.receiptDelayMs > 0) await sleep(b.receiptDelayMs);
      await this.receiptFor(r.messageId, r.caseId, hash);
    }
    // Acknowledged at the broker once the receipt is out; if the receipt is lost with the connection, the message comes again.
    try {
      ch.ack(m);
    } catch {
      return;
    }
    if (r.type === 'notification' && r.caseId && b.answer !== 'silent' && !this.answered.has(r.caseId)) {
      this.answered.add(r.caseId);
      const caseId = r.caseId;
      this.track(
        (async () => {
          if (b.answerDelayMs > 0) await sleep(b.answerDelayMs);
          if (this.stopped) return;
          if (b.malformed) await this.publish('opinion', Buffer.from('{not json'), { messageId: `malformed:${caseId}`, caseId });
          else await this.opinion(caseId, b.answer as 'approve' | 'refuse' | 'extend', b.answer === 'approve' ? null : b.reasons, { times: b.duplicate ? 2 : 1, requestHash: hash });
        })(),
      );
    }
  }

  /** The department's receipt for one of the gateway's messages (quoting its hash when known). */
  receiptFor(messageId: string, caseId: string | null, requestHash?: string): Promise<void> {
    return this.send('receipt', { ackOf: messageId }, { messageId: `receipt:${messageId}`, caseId, token: null, requestHash });
  }

  /**
   * An opinion; its message id is the same every time for one case and department unless given, so sending it again
   * (after a lost connection, or on purpose) is a duplicate the gateway must ignore.
   */
  async opinion(caseId: string, decision: 'approve' | 'refuse' | 'extend', reasons: string | null = null, o: { messageId?: string; token?: string | null; times?: number } & SendSigning = {}): Promise<void> {
    const messageId = o.messageId ?? `opinion:${caseId}:${this.options.departmentId}`;
    for (let i = 0; i < (o.times ?? 1); i++) await this.send('opinion', { decision, reasons }, { ...o, messageId, caseId, token: o.token });
  }

  permit(caseId: string, permitNumber: string, o: { messageId?: string } = {}): Promise<void> {
    return this.send('permit', { permitNumber }, { messageId: o.messageId ?? `permit:${caseId}:${this.options.departmentId}`, caseId });
  }

  /**
   * A message of this department, signed with its key as a compact JWS (or, with `plain`, the unsigned JSON of old);
   * token undefined: the reviewer's, null: none. The same message id sent again sends the same signed bytes.
   */
  async send(type: string, fields: Record<string, unknown>, o: { messageId: string; caseId: string | null; token?: string | null; departmentId?: string; routingKey?: string; headers?: Record<string, unknown> } & SendSigning): Promise<void> {
    const token = o.token === undefined ? await this.token() : o.token;
    const sender = o.departmentId ?? this.options.departmentId;
    let body: Buffer;
    if (o.plain) body = Buffer.from(JSON.stringify({ departmentId: sender, ...fields }));
    else {
      body = this.signedBytes.get(o.messageId) ?? Buffer.from(await signEnvelope(this.signer.keys, o.signAs ?? sender, {
        messageId: o.messageId, sender, receiver: o.receiver ?? this.signer.gatewayId, caseId: o.caseId, kind: type, body: fields,
        ...(o.requestHash ? { requestHash: o.requestHash } : {}), ...(o.issuedAt ? { issuedAt: o.issuedAt } : {}),
      }));
      if (this.signedBytes.size > 10_000) this.signedBytes.clear();
      this.signedBytes.set(o.messageId, body);
    }
    await this.publish(type, body, { messageId: o.messageId, caseId: o.caseId, routingKey: o.routingKey, contentType: o.plain ? 'application/json' : JOSE, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...o.headers } });
  }

  /** Publishes raw bytes to the gateway with this department's routing key; retries until the broker confirms it. */
  async publish(type: string, body: Buffer, o: { messageId?: string; caseId?: string | null; headers?: Record<string, unknown>; routingKey?: string; contentType?: string }): Promise<void> {
    const options: Options.Publish = {
      persistent: true,
      contentType: o.contentType ?? 'application/json',
      type,
      appId: `sim-${this.options.departmentId}`,
      timestamp: Math.floor(Date.now() / 1000),
      ...(o.messageId ? { messageId: o.messageId } : {}),
      ...(o.caseId ? { correlationId: o.caseId } : {}),
      headers: o.headers ?? {},
    };
    const until = Date.now() + (this.options.publishTimeoutMs ?? 60_000);
    for (;;) {
      const live = this.live;
      if (live) {
        try {
          await new Promise<void>((resolve, reject) => {
            live.ch.publish(this.names.fromDepartments, o.routingKey ?? this.options.departmentId, body, options, (err: unknown) => (err ? reject(err) : resolve()));
          });
          return;
        } catch {
          // The connection went away before the confirm: send again (the gateway de-duplicates by message id).
        }
      }
      if (this.stopped || Date.now() > until) throw new Error(`simulated department ${this.options.departmentId} could not publish ${type}`);
      await sleep(100);
    }
  }

  private token(): Promise<string> {
    if (!this.tokenValue) {
      this.tokenValue = this.options.token();
      this.tokenValue.catch(() => (this.tokenValue = null));
    }
    return this.tokenValue;
  }

  /** Waits until everything the department started (receipts, answers) is done. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.settled();
    const conn = this.conn;
    this.conn = null;
    this.live = null;
    await conn?.close().catch(() => undefined);
  }
}

/** Logs a demo reviewer in (password and TOTP from config/demo-users.json: published demo credentials only). */
export async function demoReviewerToken(gatewayBase: string, username: string): Promise<string> {
  const u = demoUsers.users.find((x) => x.username === username);
  if (!u) throw new Error(`no demo user ${username}`);
  const res = await fetch(`${gatewayBase}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: u.password, otp: currentTotp(u.totpSecret) }),
  });
  if (res.status !== 200) throw new Error(`login ${username}: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

// node dist/adapters/amqp/sim.js --department xw-culture [--gateway URL] [--answer approve|refuse|extend|silent] [--delay MS] [--no-receipt]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      department: { type: 'string' },
      gateway: { type: 'string', default: 'http://127.0.0.1:8080' },
      prefix: { type: 'string', default: 'pag' },
      answer: { type: 'string', default: 'approve' },
      delay: { type: 'string', default: '2000' },
      'no-receipt': { type: 'boolean', default: false },
    },
  });
  if (!values.department) throw new Error('--department is required');
  const sim = new AmqpDepartmentSim({
    departmentId: values.department,
    prefix: values.prefix,
    token: () => demoReviewerToken(values.gateway!, `reviewer-${values.department}`),
    behaviour: { answer: values.answer as SimBehaviour['answer'], answerDelayMs: Number(values.delay), receipt: !values['no-receipt'] },
  });
  await sim.start();
  console.log(`simulated department ${values.department} consuming ${sim.names.toQueue(values.department)}`);
  process.once('SIGINT', () => void sim.stop().then(() => process.exit(0)));
}
