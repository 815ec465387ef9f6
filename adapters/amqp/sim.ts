// Simulated AMQP department: consumes its queue at the broker and answers with receipts, opinions and permits as configured.
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options, type RecoveringChannelModel } from 'amqplib';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import demoUsers from '../../config/demo-users.json' with { type: 'json' };
import { currentTotp } from '../../src/trust/totp.js';
import { brokerUrl } from './index.js';
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
}

/** A message the department received. */
export interface Received {
  messageId: string;
  type: string;
  caseId: string | null;
  redelivered: boolean;
  properties: ConsumeMessage['properties'];
  body: any;
}

const DEFAULT_BEHAVIOUR: SimBehaviour = { receipt: true, receiptDelayMs: 0, answer: 'approve', answerDelayMs: 0, reasons: 'Fire exits do not meet GB 50016.', duplicate: false, malformed: false };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class AmqpDepartmentSim {
  behaviour: SimBehaviour;
  /** Every message delivered to the department, repeats included. */
  readonly received: Received[] = [];
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
    let body: any = null;
    try {
      body = JSON.parse(m.content.toString('utf8'));
    } catch {
      body = m.content.toString('utf8');
    }
    const r: Received = { messageId: m.properties.messageId, type: m.properties.type, caseId: m.properties.correlationId ?? null, redelivered: m.fields.redelivered, properties: m.properties, body };
    if (r.type === 'result') {
      this.results.push(r);
      ch.ack(m);
      return;
    }
    this.received.push(r);
    const b = this.behaviour;
    if (b.receipt) {
      if (b.receiptDelayMs > 0) await sleep(b.receiptDelayMs);
      await this.receiptFor(r.messageId, r.caseId);
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
          else await this.opinion(caseId, b.answer as 'approve' | 'refuse' | 'extend', b.answer === 'approve' ? null : b.reasons, { times: b.duplicate ? 2 : 1 });
        })(),
      );
    }
  }

  /** The department's receipt for one of the gateway's messages. */
  receiptFor(messageId: string, caseId: string | null): Promise<void> {
    return this.send('receipt', { ackOf: messageId }, { messageId: `receipt:${messageId}`, caseId, token: null });
  }

  /**
   * An opinion; its message id is the same every time for one case and department unless given, so sending it again
   * (after a lost connection, or on purpose) is a duplicate the gateway must ignore.
   */
  async opinion(caseId: string, decision: 'approve' | 'refuse' | 'extend', reasons: string | null = null, o: { messageId?: string; token?: string | null; times?: number } = {}): Promise<void> {
    const messageId = o.messageId ?? `opinion:${caseId}:${this.options.departmentId}`;
    for (let i = 0; i < (o.times ?? 1); i++) await this.send('opinion', { decision, reasons }, { messageId, caseId, token: o.token });
  }

  permit(caseId: string, permitNumber: string, o: { messageId?: string } = {}): Promise<void> {
    return this.send('permit', { permitNumber }, { messageId: o.messageId ?? `permit:${caseId}:${this.options.departmentId}`, caseId });
  }

  /** A JSON message of this department; token undefined: the reviewer's, null: none. */
  async send(type: string, fields: Record<string, unknown>, o: { messageId: string; caseId: string | null; token?: string | null; departmentId?: string; routingKey?: string; headers?: Record<string, unknown> }): Promise<void> {
    const token = o.token === undefined ? await this.token() : o.token;
    const body = Buffer.from(JSON.stringify({ departmentId: o.departmentId ?? this.options.departmentId, ...fields }));
    await this.publish(type, body, { messageId: o.messageId, caseId: o.caseId, routingKey: o.routingKey, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...o.headers } });
  }

  /** Publishes raw bytes to the gateway with this department's routing key; retries until the broker confirms it. */
  async publish(type: string, body: Buffer, o: { messageId?: string; caseId?: string | null; headers?: Record<string, unknown>; routingKey?: string }): Promise<void> {
    const options: Options.Publish = {
      persistent: true,
      contentType: 'application/json',
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
