// AMQP (RabbitMQ) adapter: confirmed, persistent publishing of signed messages to department quorum queues; acknowledged consumption of their answers.
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options, type RecoveringChannelModel } from 'amqplib';
import type { Logger } from 'pino';
import { clientTlsOptions, type ClientTlsFiles } from '../../src/trust/tls.js';
import { AdapterError, type Adapter, type AdapterContext, type AdapterHealth, type InboundResult, type OutgoingMessage, type SendOutcome } from '../adapter.js';
import { declareTopology, names, type Names } from './topology.js';
import { decodeIncoming, encodeOutgoing, encodeResult, resultMessage } from './wire.js';

/** Settings from schemas/adapters/amqp.schema.json. */
export interface AmqpOptions {
  url?: string;
  prefix: string;
  exchanges: Partial<Record<'toDepartments' | 'fromDepartments' | 'deadLetter' | 'provinceChanges', string>>;
  prefetch: number;
  deliveryLimit: number;
  heartbeatSeconds: number;
  confirmTimeoutMs: number;
  connectTimeoutMs: number;
  requeueDelayMs: number;
  /** An incoming message larger than this is refused (BODY_TOO_LARGE) before it is read, like an oversized HTTP body. */
  maxMessageBytes: number;
  results: boolean;
  reconnect: { initialDelayMs: number; maxDelayMs: number; factor: number; jitter: number };
  /** amqps://: the CA that signs the broker's certificate and this gateway's client certificate (files under the certificates folder). */
  tls?: ClientTlsFiles;
}

const DEFAULTS: AmqpOptions = {
  prefix: 'pag',
  exchanges: {},
  prefetch: 16,
  deliveryLimit: 5,
  heartbeatSeconds: 15,
  confirmTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  requeueDelayMs: 1_000,
  maxMessageBytes: 1_048_576,
  results: true,
  reconnect: { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, jitter: 0.5 },
};

/** The broker address: the option, else AMQP_URL, else the local default. */
export function brokerUrl(options: { url?: string }, env: NodeJS.ProcessEnv = process.env): string {
  return options.url || env.AMQP_URL || 'amqp://127.0.0.1:5672';
}

/** Host, port and vhost only: the URL's credentials never reach a log or a health report. */
function where(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname && u.pathname !== '/' ? u.pathname : '/'}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class AmqpAdapter implements Adapter {
  readonly kind = 'amqp';
  readonly options: AmqpOptions;
  readonly names: Names;
  private readonly url: string;
  private ctx: AdapterContext | null = null;
  private log: Logger | null = null;
  private conn: RecoveringChannelModel | null = null;
  /** The live connection and its channels; null while disconnected. */
  private live: { model: ChannelModel; pub: ConfirmChannel; sub: Channel; tags: string[] } | null = null;
  private lastError: string | null = null;
  private stopping = false;
  private readonly inflight = new Set<Promise<void>>();
  /** Message ids the broker returned as unroutable; their confirm follows the return, and send reports the failure. */
  private readonly returned = new Set<string>();
  /** Province-change bindings (queue|routing key) declared on the live connection; a new connection declares them again. */
  private readonly bound = new Set<string>();

  constructor(
    readonly name: string,
    options: Record<string, unknown>,
  ) {
    const o = options as Partial<AmqpOptions>;
    this.options = { ...DEFAULTS, ...o, exchanges: { ...o.exchanges }, reconnect: { ...DEFAULTS.reconnect, ...o.reconnect } };
    this.url = brokerUrl(this.options);
    this.names = names(this.options.prefix, this.options.exchanges);
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.log = ctx.logger;
    this.stopping = false;
    const u = new URL(this.url);
    if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(this.options.heartbeatSeconds));
    const r = this.options.reconnect;
    let tls: ReturnType<typeof clientTlsOptions> = {};
    try {
      tls = clientTlsOptions(ctx.certsDir, this.options.tls ?? {});
    } catch (e) {
      // Unreadable TLS files: the adapter stays down and says why in its health; messages wait in the outbox.
      this.lastError = `TLS settings unusable: ${(e as Error).message}`;
      this.log?.error({ broker: where(this.url), err: this.lastError }, 'AMQP adapter not started');
      return;
    }
    const conn = await connect(u.toString(), {
      ...tls,
      // Nagle off (amqplib leaves it on): an ack or confirm-awaited publish written after another small frame would
      // otherwise wait for the broker's delayed TCP ack, about 40 ms, whenever traffic is light.
      noDelay: true,
      clientProperties: { connection_name: `${ctx.gatewayId} ${this.name}` },
      // amqplib's recovery reconnects with exponential backoff and jitter and runs setup on every new connection,
      // which re-declares the topology and resumes consuming.
      recovery: {
        waitForConnect: false,
        initialDelay: r.initialDelayMs,
        maxDelay: r.maxDelayMs,
        factor: r.factor,
        jitter: r.jitter,
        maxRetries: Infinity,
        setup: (model: ChannelModel) => this.setup(model),
      },
    });
    conn.on('connect', () => {
      this.lastError = null;
      this.log?.info({ broker: where(this.url), departments: ctx.departments }, 'connected to broker');
    });
    conn.on('disconnect', (err: Error) => {
      this.lastError = err.message;
      this.log?.warn({ err: err.message }, 'broker connection lost; reconnecting');
    });
    conn.on('connect-failed', (err: Error) => {
      this.lastError = err.message;
      this.log?.warn({ err: err.message }, 'broker connection attempt failed');
    });
    conn.on('reconnect-scheduled', (info: { attempt: number; delay: number }) => this.log?.info(info, 'broker reconnect scheduled'));
    // Without a listener an 'error' event would be thrown and end the process; recovery follows the close that comes with it.
    conn.on('error', (err: Error) => this.log?.warn({ err: err.message }, 'broker connection error'));
    conn.on('handler-error', (err: Error, event: string) => this.log?.error({ err: err.message, event }, 'broker event handler failed'));
    this.conn = conn;
    // The gateway serves even when the broker is down: messages wait in the outbox until the connection is back.
    const first = conn.waitForConnect().then(() => true, () => false);
    const connected = await Promise.race([first, sleep(this.options.connectTimeoutMs).then(() => false)]);
    if (!connected) this.log?.warn({ broker: where(this.url), err: this.lastError }, 'broker not reachable at start; the adapter keeps reconnecting');
  }

  /** Runs on every (re)connection before it counts as connected: topology, consumers, publisher channel. */
  private async setup(model: ChannelModel): Promise<void> {
    const ctx = this.ctx!;
    const n = this.names;
    // Until recovery adopts the connection only this listener hears its errors; an unheard 'error' would end the process.
    model.on('error', (err: Error) => this.log?.warn({ err: err.message }, 'broker connection error during setup'));
    const sub = await model.createChannel();
    const pub = await model.createConfirmChannel();
    for (const [ch, what] of [[sub, 'consumer'], [pub, 'publisher']] as const) {
      ch.on('error', (err: Error) => this.log?.warn({ err: err.message, channel: what }, 'broker channel error'));
      // A channel the broker closed while the connection stays up (a protocol error) is rebuilt with the whole connection.
      ch.on('close', () => {
        if (!this.stopping && this.live?.model === model) {
          this.log?.warn({ channel: what }, 'broker channel closed; reconnecting');
          void model.close().catch(() => undefined);
        }
      });
    }
    pub.on('return', (m: ConsumeMessage) => {
      if (typeof m.properties.messageId === 'string') this.returned.add(m.properties.messageId);
    });
    model.on('close', () => {
      if (this.live?.model !== model) return;
      this.live = null;
      this.returned.clear();
      this.bound.clear();
    });
    await declareTopology(sub, n, ctx.departments, this.options.deliveryLimit);
    // Per consumer: quorum queues do not support a channel-wide (global) prefetch.
    await sub.prefetch(this.options.prefetch);
    const tags: string[] = [];
    for (const d of ctx.departments) {
      const { consumerTag } = await sub.consume(n.fromQueue(d), (m) => this.onDelivery(model, sub, d, m), { noAck: false });
      tags.push(consumerTag);
    }
    this.live = { model, pub, sub, tags };
  }

  private onDelivery(model: ChannelModel, ch: Channel, departmentId: string, m: ConsumeMessage | null): void {
    if (m === null) {
      // The broker cancelled the consumer (its queue was deleted): a new connection declares the queue again.
      if (!this.stopping) {
        this.log?.warn({ departmentId }, 'broker cancelled a consumer; reconnecting');
        void model.close().catch(() => undefined);
      }
      return;
    }
    const p: Promise<void> = this.handle(ch, departmentId, m)
      .catch((e: Error) => this.log?.error({ err: e.message, departmentId }, 'incoming message handling failed'))
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /**
   * One incoming message: decoded, handed to the inbound service, and acknowledged only once that returned (the inbound
   * service has committed the effect, or found the message id already seen, so a redelivery has no second effect).
   */
  private async handle(ch: Channel, departmentId: string, m: ConsumeMessage): Promise<void> {
    const log = this.log!;
    if (m.content.length > this.options.maxMessageBytes) {
      // Refused unread, as the HTTP entry points refuse an oversized body; the dead letter keeps it for inspection.
      const reason = `message of ${m.content.length} bytes is larger than ${this.options.maxMessageBytes} bytes`;
      const messageId = typeof m.properties.messageId === 'string' && m.properties.messageId.length > 0 && m.properties.messageId.length <= 200 ? m.properties.messageId : undefined;
      log.warn({ departmentId, messageId, bytes: m.content.length }, 'oversized message sent to the dead-letter queue');
      const caseId = typeof m.properties.correlationId === 'string' && m.properties.correlationId.length > 0 ? m.properties.correlationId : null;
      if (messageId) await this.reply(departmentId, messageId, caseId, { ok: false, code: 'BODY_TOO_LARGE', message: reason, retryable: false });
      await this.deadLetter(ch, m, departmentId, 'BODY_TOO_LARGE', reason);
      return;
    }
    const d = decodeIncoming(m, departmentId);
    if (!d.ok) {
      log.warn({ departmentId, messageId: d.messageId, reason: d.reason }, 'malformed message sent to the dead-letter queue');
      if (d.messageId) await this.reply(departmentId, d.messageId, d.caseId ?? null, { ok: false, code: 'MALFORMED_MESSAGE', message: d.reason, retryable: false });
      await this.deadLetter(ch, m, departmentId, 'MALFORMED_MESSAGE', d.reason);
      return;
    }
    // The queue is the department's own: the channel stands for that department and no other.
    const channel = { adapter: this.name, token: d.token, department: departmentId };
    let r: InboundResult;
    try {
      r = 'signed' in d ? await this.ctx!.inbound.receive(d.signed, channel, d.expect) : await this.ctx!.inbound.accept(d.msg, channel);
    } catch (e) {
      r = { ok: false, code: 'INTERNAL', httpStatus: 500, message: (e as Error).message, retryable: true };
    }
    const about = 'signed' in d ? { messageId: d.expect.messageId!, kind: d.expect.kind!, caseId: d.expect.caseId ?? '' } : { messageId: d.msg.messageId, kind: d.msg.kind, caseId: d.msg.caseId };
    const fields = { departmentId, ...about };
    if (r.ok) {
      if (about.kind !== 'receipt' || r.duplicate) log.debug({ ...fields, duplicate: r.duplicate }, 'incoming message accepted');
      if (about.kind !== 'receipt') await this.reply(departmentId, about.messageId, about.caseId, r);
      this.settle(ch, m, 'ack');
    } else if (!r.retryable) {
      log.warn({ ...fields, code: r.code }, 'refused message sent to the dead-letter queue');
      await this.reply(departmentId, about.messageId, about.caseId || null, r);
      await this.deadLetter(ch, m, departmentId, r.code, r.message);
    } else {
      // Put back after a pause; the queue's delivery limit bounds how often before it is dead-lettered.
      log.warn({ ...fields, code: r.code }, 'incoming message failed for a passing reason; it will be redelivered');
      if (!this.stopping) await sleep(this.options.requeueDelayMs);
      this.settle(ch, m, 'requeue');
    }
  }

  /**
   * Moves a refused message to the dead-letter queue with the refusal in its headers (x-pag-refused-code, -reason), so
   * whoever inspects it sees why; the original is acknowledged once the copy is confirmed. If the copy cannot be
   * published the broker dead-letters the original instead (without the reason).
   */
  private async deadLetter(ch: Channel, m: ConsumeMessage, departmentId: string, code: string, reason: string): Promise<void> {
    const live = this.live;
    if (live) {
      const p = m.properties;
      const options: Options.Publish = {
        persistent: true,
        mandatory: true,
        contentType: p.contentType,
        contentEncoding: p.contentEncoding,
        messageId: p.messageId,
        correlationId: p.correlationId,
        type: p.type,
        appId: p.appId,
        timestamp: p.timestamp,
        headers: { ...p.headers, 'x-pag-refused-code': code, 'x-pag-refused-reason': reason.slice(0, 500), 'x-pag-department': departmentId },
      };
      try {
        await this.publish(live.pub, this.names.deadLetter, departmentId, m.content, options);
        this.settle(ch, m, 'ack');
        return;
      } catch (e) {
        this.log?.warn({ messageId: p.messageId, err: (e as Error).message }, 'refused message not copied to the dead-letter queue; the broker dead-letters it');
      }
    }
    this.settle(ch, m, 'dead-letter');
  }

  private settle(ch: Channel, m: ConsumeMessage, how: 'ack' | 'dead-letter' | 'requeue'): void {
    try {
      if (how === 'ack') ch.ack(m);
      else ch.nack(m, false, how === 'requeue');
    } catch {
      // The channel went away with the connection; the broker redelivers the message and its repeat changes nothing.
      this.log?.info({ messageId: m.properties.messageId }, 'channel closed before the message was settled; it will be redelivered');
    }
  }

  /** Tells the department what became of its message, signed; a lost result is only logged (the effect is already committed). */
  private async reply(departmentId: string, incomingId: string, caseId: string | null, result: Parameters<typeof resultMessage>[4]): Promise<void> {
    if (!this.options.results || !this.live) return;
    try {
      const msg = resultMessage(incomingId, departmentId, this.ctx!.gatewayId, caseId, result);
      const { body, options } = encodeResult(msg, await this.ctx!.signer.json(msg));
      await this.publish(this.live!.pub, this.names.toDepartments, departmentId, body, options);
    } catch (e) {
      this.log?.info({ messageId: incomingId, err: (e as Error).message }, 'result not published');
    }
  }

  async send(msg: OutgoingMessage): Promise<SendOutcome> {
    const live = this.live;
    if (!live || this.stopping) throw new AdapterError(`not connected to the broker${this.lastError ? ` (${this.lastError})` : ''}`, true);
    if (msg.kind === 'province-change' && msg.departmentId.startsWith('topic:')) return this.publishChange(live, msg);
    if (!this.ctx!.departments.includes(msg.departmentId)) throw new AdapterError(`department ${msg.departmentId} does not use adapter ${this.name}`, false);
    const { body, options } = encodeOutgoing(msg, await this.ctx!.signer.json(msg));
    await this.publish(live.pub, this.names.toDepartments, msg.departmentId, body, options);
    // The broker holds it; the department's receipt makes it delivered.
    return { status: 'sent' };
  }

  /**
   * A provincial status change on the topic exchange, keyed <divisionCode>.<departmentType>.<kind>. The subscribing
   * departments' queues are declared and bound to that key first, so the publication is routed to each of them once
   * and is never published to no queue (a mandatory message nobody takes comes back, and is sent again). The broker's
   * confirm completes it: a publication starts no deadline, so no receipt is awaited.
   */
  private async publishChange(live: NonNullable<AmqpAdapter['live']>, msg: OutgoingMessage): Promise<SendOutcome> {
    const key = msg.payload.routingKey;
    const receivers = msg.payload.receivers;
    if (typeof key !== 'string' || !/^[0-9]{6}\.[a-z0-9_-]+\.[a-z]+$/.test(key) || !Array.isArray(receivers)) throw new AdapterError('a status change without routing key or receivers', false);
    for (const d of receivers as string[]) {
      if (!this.ctx!.departments.includes(d)) throw new AdapterError(`department ${d} does not use adapter ${this.name}`, false);
      const q = this.names.provinceQueue(d);
      if (this.bound.has(`${q}|${key}`)) continue;
      await live.sub.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await live.sub.bindQueue(q, this.names.provinceChanges, key);
      this.bound.add(`${q}|${key}`);
    }
    const { body, options } = encodeOutgoing(msg, await this.ctx!.signer.json(msg));
    options.headers = { ...options.headers, 'x-pag-receivers': (receivers as string[]).join(',') };
    await this.publish(live.pub, this.names.provinceChanges, key, body, options);
    return { status: 'delivered', receipt: `broker:${msg.id}` };
  }

  /** Publishes (to a department's queue, or the dead letters) and resolves once the broker confirmed it was routed and stored. */
  private publish(pub: ConfirmChannel, exchange: string, routingKey: string, body: Buffer, options: Options.Publish): Promise<void> {
    const id = options.messageId!;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err?: AdapterError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new AdapterError(`no publisher confirm within ${this.options.confirmTimeoutMs} ms`, true)), this.options.confirmTimeoutMs);
      try {
        pub.publish(exchange, routingKey, body, options, (err: unknown) => {
          // A mandatory message that no queue took is returned first, then confirmed: confirmed, yet nowhere.
          const unroutable = this.returned.delete(id);
          if (err) done(new AdapterError(`broker did not take the message: ${(err as Error).message ?? String(err)}`, true));
          else if (unroutable) done(new AdapterError(`no queue for ${routingKey} on ${exchange} (message returned unroutable)`, true));
          else done();
        });
      } catch (e) {
        done(new AdapterError(`publish failed: ${(e as Error).message}`, true));
      }
    });
  }

  async health(): Promise<AdapterHealth> {
    if (this.live) return { ok: true, detail: `connected to ${where(this.url)}; queues ${this.names.toQueue('*')} and ${this.names.fromQueue('*')} for ${this.ctx?.departments.length ?? 0} departments` };
    if (!this.conn) return { ok: false, detail: this.lastError ?? 'not started' };
    return { ok: false, detail: `disconnected from ${where(this.url)}${this.lastError ? `: ${this.lastError}` : ''}; reconnecting` };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const live = this.live;
    // Stop taking new messages, let those in hand finish (their effect and acknowledgement), then close.
    if (live) for (const tag of live.tags) await live.sub.cancel(tag).catch(() => undefined);
    await Promise.allSettled([...this.inflight]);
    const conn = this.conn;
    this.conn = null;
    this.live = null;
    this.returned.clear();
    await conn?.close().catch(() => undefined);
  }
}

export const createAmqpAdapter = (name: string, options: Record<string, unknown>): AmqpAdapter => new AmqpAdapter(name, options);
