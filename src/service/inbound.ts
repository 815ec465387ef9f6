// Incoming department messages from every channel (SOAP, XML, AMQP, REST): identity checks, then one effect per message id.
import type { Logger } from 'pino';
import type { CaseStatusView, Channel, Inbound, IncomingMessage, InboundResult } from '../../adapters/adapter.js';
import type { Dispatcher } from '../bus/dispatcher.js';
import type { GatewayConfig } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';
import type { Actor, Case } from '../domain/types.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Db } from '../store/sql.js';
import type { Principal, TokenService } from '../trust/tokens.js';
import type { CaseService, InboundRef } from './cases.js';

/** Endpoints the gateway itself serves; a message arriving there is bound to its department by the reviewer's token. */
export const GATEWAY_ENDPOINTS = new Set(['rest', 'soap', 'xml']);

type Refusal = Extract<InboundResult, { ok: false }>;

const refusal = (e: GatewayError): Refusal => ({ ok: false, code: e.code, httpStatus: e.status, message: e.message, retryable: e.retryable });

export class InboundService implements Inbound {
  private adapterOf: Map<string, string>;

  constructor(
    private readonly db: Db,
    config: GatewayConfig,
    private readonly cases: CaseService,
    private readonly dispatcher: Dispatcher,
    private readonly tokens: TokenService,
    private readonly log: Logger,
    private readonly metrics?: GatewayMetrics,
  ) {
    this.adapterOf = new Map(config.departments.map((d) => [d.id, d.adapter]));
  }

  /** Departments and their channels after an administrator's change. */
  reconfigure(config: GatewayConfig): void {
    this.adapterOf = new Map(config.departments.map((d) => [d.id, d.adapter]));
  }

  async accept(msg: IncomingMessage, channel: Channel): Promise<InboundResult> {
    const r = await this.handle(msg, channel);
    this.metrics?.inbound.inc({ channel: channel.adapter, kind: String(msg.kind), result: r.ok ? (r.duplicate ? 'duplicate' : 'ok') : r.code });
    return r;
  }

  private async handle(msg: IncomingMessage, channel: Channel): Promise<InboundResult> {
    try {
      const actor = await this.identify(msg.departmentId, channel, msg.kind !== 'receipt');
      switch (msg.kind) {
        case 'opinion': {
          if (!msg.decision) throw new GatewayError('VALIDATION_FAILED', { summary: 'an opinion needs a decision' });
          if (msg.decision !== 'approve' && !msg.reasons?.trim()) throw new GatewayError('VALIDATION_FAILED', { summary: `a ${msg.decision} opinion needs reasons` });
          const decision = msg.decision;
          const { duplicate, c } = await this.once(msg, (ref) => this.cases.opinion(msg.caseId, msg.departmentId, decision, msg.reasons ?? null, actor, ref));
          return { ok: true, duplicate, caseId: c.id, caseStatus: c.status };
        }
        case 'permit': {
          if (!msg.permitNumber) throw new GatewayError('VALIDATION_FAILED', { summary: 'a permit report needs a permit number' });
          const permitNumber = msg.permitNumber;
          const { duplicate, c } = await this.once(msg, (ref) => this.cases.reportPermit(msg.caseId, msg.departmentId, permitNumber, actor, ref));
          return { ok: true, duplicate, caseId: c.id, caseStatus: c.status };
        }
        case 'receipt': {
          if (!msg.ackOf) throw new GatewayError('VALIDATION_FAILED', { summary: 'a receipt names the message it acknowledges' });
          const r = await this.dispatcher.receipt(msg.ackOf, msg.departmentId, channel.adapter);
          if (r === 'unknown') throw new GatewayError('MESSAGE_NOT_FOUND', { messageId: msg.ackOf, departmentId: msg.departmentId });
          const c = await this.cases.get(msg.caseId).catch(() => null);
          return { ok: true, duplicate: r === 'already', caseId: msg.caseId, caseStatus: c?.status ?? 'unknown' };
        }
        default:
          throw new GatewayError('VALIDATION_FAILED', { summary: `unknown message kind ${String((msg as { kind: unknown }).kind)}` });
      }
    } catch (e) {
      if (e instanceof GatewayError) {
        this.log.info({ messageId: msg.messageId, kind: msg.kind, departmentId: msg.departmentId, channel: channel.adapter, code: e.code }, 'incoming message refused');
        return refusal(e);
      }
      this.log.error({ messageId: msg.messageId, err: (e as Error).message }, 'incoming message failed');
      return { ok: false, code: 'INTERNAL', httpStatus: 500, message: 'Internal error; try again.', retryable: true };
    }
  }

  async caseStatus(caseId: string, channel: Channel): Promise<{ ok: true; view: CaseStatusView } | Refusal> {
    try {
      const p = await this.principal(channel);
      const c = await this.cases.get(caseId);
      // A department sees only cases it reviews; any other case does not exist to it.
      if (p.role === 'reviewer' && !c.reviews.some((r) => r.departmentId === p.departmentId)) throw new GatewayError('NOT_FOUND', { what: 'case' });
      return {
        ok: true,
        view: {
          caseId: c.id,
          reference: c.reference,
          status: c.status,
          reviews: c.reviews.map((r) => ({ departmentId: r.departmentId, state: r.state, dueAt: r.dueAt ? new Date(r.dueAt).toISOString() : null, decision: r.decision })),
        },
      };
    } catch (e) {
      if (e instanceof GatewayError) return refusal(e);
      throw e;
    }
  }

  /**
   * Applies a message's effect once and says whether it was a repeat. The check before is only for a cheap answer; the
   * one that counts runs inside the case's transaction, under its lock, so a copy racing the original (a broker
   * redelivery, two gateways) is recognised there and changes nothing.
   */
  private async once(msg: IncomingMessage, effect: (ref: InboundRef) => Promise<Case>): Promise<{ duplicate: boolean; c: Case }> {
    if (await this.seen(msg.messageId)) return { duplicate: true, c: await this.cases.get(msg.caseId) };
    const ref: InboundRef = { messageId: msg.messageId, kind: msg.kind };
    const c = await effect(ref);
    return { duplicate: ref.duplicate === true, c };
  }

  /** Tells the sender its message was a repeat; the effect itself is de-duplicated inside the case's transaction. */
  private async seen(messageId: string): Promise<boolean> {
    return !!(await this.db.get('SELECT 1 AS x FROM inbox WHERE message_id = $1', [messageId]));
  }

  private async principal(channel: Channel): Promise<Principal> {
    if (!channel.token) throw new GatewayError('UNAUTHENTICATED');
    return this.tokens.verify(channel.token);
  }

  /**
   * Who acts. A configured adapter must be the sending department's own; opinions and permits also need a reviewer of that
   * department (their token), whichever channel they came over.
   */
  private async identify(departmentId: string, channel: Channel, needsReviewer: boolean): Promise<Actor> {
    if (!this.adapterOf.has(departmentId)) throw new GatewayError('UNKNOWN_DEPARTMENT', { departmentId });
    const endpoint = GATEWAY_ENDPOINTS.has(channel.adapter);
    if (!endpoint && this.adapterOf.get(departmentId) !== channel.adapter) throw new GatewayError('CHANNEL_NOT_BOUND', { departmentId, channel: channel.adapter });
    if (!needsReviewer && !endpoint) return { kind: 'adapter', id: departmentId, adapter: channel.adapter };
    const p = await this.principal(channel);
    if (p.role !== 'reviewer' || p.departmentId !== departmentId) throw new GatewayError('FORBIDDEN');
    return { kind: 'user', id: p.username, role: p.role, adapter: channel.adapter };
  }
}
