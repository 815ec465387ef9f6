// Messages from peer gateways (POST /api/peer/messages): the peer's signature, then a mirror case (asked) or an opinion (answered) once.
import type { Logger } from 'pino';
import type { InboundResult, SignedWire } from '../../adapters/adapter.js';
import type { GatewayConfig, Peer } from '../config/load.js';
import { GatewayError, type ErrorCode } from '../domain/errors.js';
import type { Actor, Application, Case, Level } from '../domain/types.js';
import type { CaseService, InboundRef } from '../service/cases.js';
import { recordRefusal, refusal, Untrusted, type Factor, type Refusal } from '../service/refusals.js';
import type { Db } from '../store/sql.js';
import { verifyEnvelope, type Envelope } from '../trust/envelope.js';
import type { KeyRegistry } from '../trust/keys.js';
import { claimsOf, verifyIncoming, wireHash, type Claims } from '../trust/messages.js';
import { verifyAssertion } from './assertion.js';

const untrusted = (code: ErrorCode, params: Record<string, unknown>, f: Factor, reason?: string) => {
  const e = new GatewayError(code, params);
  return new Untrusted(e, f, reason ?? e.message);
};

/** What the peer service needs of the gateway. */
export interface PeerContext {
  gatewayId: string;
  keys: KeyRegistry;
  windowSeconds: number;
  config: () => GatewayConfig;
  /** Tells the audit sealer that events were committed. */
  committed: () => void;
  /** Counts each message by its outcome (pag_inbound_messages_total, channel `peer:<id>`). */
  count?: (channel: string, kind: string, result: string) => void;
}

/** What peers send each other: a review asked, cancelled or given its deadline; an answer; an administrator's test. */
const PEER_KINDS = ['notification', 'cancellation', 'deadline', 'extension_ack', 'opinion', 'test'];

const text = (v: unknown, max = 2000): string => (typeof v === 'string' && v.length <= max && !v.includes('\u0000') ? v : '');

export class PeerService {
  constructor(
    private readonly db: Db,
    private readonly cases: CaseService,
    private readonly ctx: PeerContext,
    private readonly log: Logger,
  ) {}

  /** One signed message from a peer gateway, as its compact JWS. */
  async receive(raw: string): Promise<InboundResult> {
    const claims = claimsOf({ format: 'jws', raw });
    let r: InboundResult;
    try {
      const { envelope, peer } = await this.checkPeer(raw, claims);
      r = await this.effect(envelope, peer);
    } catch (e) {
      r = await this.refused(e, claims, raw);
    }
    // Labels only from known values: claims are anyone's to invent, and every new label value is a new time series.
    const sender = this.ctx.config().peers.some((p) => p.id === claims.sender) ? claims.sender : 'other';
    const kind = PEER_KINDS.includes(claims.kind ?? '') ? claims.kind! : 'other';
    this.ctx.count?.(`peer:${sender}`, kind, r.ok ? (r.duplicate ? 'duplicate' : 'ok') : r.code);
    return r;
  }

  /** The channel: a configured peer, its signature by a current key of that peer, addressed here, within the window. */
  private async checkPeer(raw: string, claims: Claims): Promise<{ envelope: Envelope; peer: Peer }> {
    const peer = this.ctx.config().peers.find((p) => p.id === claims.sender);
    if (!peer) throw untrusted('PEER_UNKNOWN', { gatewayId: claims.sender ?? '(none)' }, 'channel');
    try {
      const v = await verifyEnvelope(this.ctx.keys, raw, { receiver: this.ctx.gatewayId, windowSeconds: this.ctx.windowSeconds });
      return { envelope: v.envelope, peer };
    } catch (e) {
      if (e instanceof GatewayError) throw new Untrusted(e, 'channel', `peer ${peer.id}: ${e.message}`);
      throw e;
    }
  }

  private async effect(e: Envelope, peer: Peer): Promise<InboundResult> {
    const b = e.body;
    const ref: InboundRef = { messageId: e.messageId, kind: e.kind };
    const actor: Actor = { kind: 'adapter', id: peer.id, adapter: peer.adapter };
    const done = (c: Case, duplicate = ref.duplicate === true): InboundResult => {
      if (!duplicate) this.ctx.committed();
      return { ok: true, duplicate, caseId: c.id, caseStatus: c.status };
    };
    if (e.kind === 'test') return { ok: true, duplicate: false, caseId: '', caseStatus: 'test' };
    if (e.kind === 'opinion') return this.opinion(e, peer);
    const departmentId = text(b.departmentId, 64);
    const caseId = text(e.caseId, 64);
    if (!caseId || caseId !== b.caseId) throw new GatewayError('VALIDATION_FAILED', { summary: 'the envelope and its body name different cases' });
    // A peer asks only the departments it was given, whatever it asks.
    if (!peer.departments.includes(departmentId)) throw untrusted('PEER_NOT_ALLOWED', { gatewayId: peer.id, departmentId }, 'channel');
    const dep = this.ctx.config().departments.find((d) => d.id === departmentId)!;
    switch (e.kind) {
      case 'notification':
        return done(await this.cases.openMirror({
          caseId, originGateway: peer.id, originReference: text(b.reference, 64) || caseId, departmentId, level: dep.level,
          application: applicationOf(b), after: text((b.previous as Record<string, unknown> | undefined)?.departmentId, 64) || null, payload: b,
        }, actor, ref));
      case 'cancellation':
        return done(await this.cases.cancelMirror(caseId, peer.id, departmentId, text(b.reason) || 'cancelled by the origin', actor, ref));
      case 'deadline':
      case 'extension_ack': {
        const dueAt = Date.parse(text(b.dueAt, 40));
        if (!Number.isFinite(dueAt)) throw new GatewayError('VALIDATION_FAILED', { summary: '/body/dueAt must be an ISO-8601 instant' });
        return done(await this.cases.originDeadline(caseId, peer.id, departmentId, dueAt, b.provisional === true, actor, ref));
      }
      default:
        throw new GatewayError('VALIDATION_FAILED', { summary: `unknown peer message kind ${e.kind}` });
    }
  }

  /**
   * A department's opinion answered at the peer, each factor checked here on its own: the channel (this peer serves that
   * department), the department's own signature (a current key of that department registered here), and the reviewer
   * (an assertion by that same peer, for this gateway, unexpired, entitled to this review's department and level).
   */
  private async opinion(e: Envelope, peer: Peer): Promise<InboundResult> {
    const cfg = this.ctx.config();
    const b = e.body;
    const departmentId = text(b.departmentId, 64);
    const dep = cfg.departments.find((d) => d.id === departmentId);
    if (!dep) throw untrusted('UNKNOWN_DEPARTMENT', { departmentId }, 'channel');
    const via = cfg.adapters[dep.adapter];
    if (via?.kind !== 'gateway' || via.options.gateway !== peer.id) throw untrusted('CHANNEL_NOT_BOUND', { departmentId, channel: `peer ${peer.id}` }, 'channel');

    const wire = b.department as SignedWire | undefined;
    const badSignature = (reason: string) => untrusted('DEPARTMENT_SIGNATURE_INVALID', { departmentId, reason }, 'signature');
    if (!wire || typeof wire.raw !== 'string' || (wire.format !== 'jws' && wire.format !== 'xmldsig')) throw badSignature('no signed message of the department');
    let msg;
    try {
      // Addressed to the peer (the department answered the peer), and not held to the window: the peer's own signature,
      // fresh at each attempt, is; a copy that comes again is stopped by its message id below.
      msg = (await verifyIncoming(wire, this.ctx.keys, { receiver: peer.id, windowSeconds: this.ctx.windowSeconds, checkWindow: false })).msg;
    } catch (err) {
      if (err instanceof GatewayError) throw badSignature(`${err.code}: ${err.message}`);
      throw err;
    }
    if (msg.departmentId !== departmentId || msg.kind !== 'opinion' || msg.caseId !== e.caseId) {
      throw badSignature(`the signed message is a ${msg.kind} of ${msg.departmentId} about case ${msg.caseId}`);
    }
    const hash = wireHash(wire.raw);
    const stored = await this.storedHash(msg.messageId);
    if (stored !== undefined && stored !== hash) throw untrusted('MESSAGE_REPLAYED', { messageId: msg.messageId }, 'message', 'the message id was taken by other content');

    let facts;
    try {
      facts = await verifyAssertion(this.ctx.keys, b.assertion, peer.id, this.ctx.gatewayId);
    } catch (err) {
      throw untrusted('REVIEWER_ASSERTION_INVALID', { departmentId }, 'reviewer', (err as Error).message);
    }
    const review = (await this.cases.get(msg.caseId).catch(() => null))?.reviews.find((r) => r.departmentId === departmentId);
    const level: Level = review?.level ?? dep.level;
    const no = (why: string) => untrusted('REVIEWER_NOT_AUTHORISED', { departmentId }, 'reviewer', why);
    if (facts.role !== 'reviewer') throw no(`${facts.username} has role ${facts.role}, not reviewer`);
    if (facts.departmentId !== departmentId) throw no(`${facts.username} reviews for ${facts.departmentId}, not ${departmentId}`);
    if (facts.level !== level) throw no(`${facts.username} reviews at ${facts.level} level, this review is at ${level} level`);
    if (!facts.amr.includes('pwd') || !facts.amr.includes('otp')) throw no(`${facts.username} logged in without both password and one-time code`);

    if (stored === undefined) {
      await this.db.run('INSERT INTO inbox_hashes (message_id, message_hash, sender, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING', [msg.messageId, hash, departmentId, Date.now()]);
      if ((await this.storedHash(msg.messageId)) !== hash) throw untrusted('MESSAGE_REPLAYED', { messageId: msg.messageId }, 'message', 'a copy with other content raced this one');
    }
    if (!msg.decision) throw new GatewayError('VALIDATION_FAILED', { summary: 'an opinion needs a decision' });
    if (msg.decision !== 'approve' && !msg.reasons?.trim()) throw new GatewayError('VALIDATION_FAILED', { summary: `a ${msg.decision} opinion needs reasons` });
    // Named with the peer, so the timeline says who decided and which gateway vouched for them.
    const actor: Actor = { kind: 'user', id: `${facts.username}@${peer.id}`, role: 'reviewer', adapter: peer.adapter };
    const ref: InboundRef = { messageId: msg.messageId, kind: 'opinion' };
    if (await this.db.get('SELECT 1 AS x FROM inbox WHERE message_id = $1', [msg.messageId])) {
      const c = await this.cases.get(msg.caseId);
      return { ok: true, duplicate: true, caseId: c.id, caseStatus: c.status };
    }
    const c = await this.cases.opinion(msg.caseId, departmentId, msg.decision, msg.reasons ?? null, actor, ref);
    if (!ref.duplicate) this.ctx.committed();
    return { ok: true, duplicate: ref.duplicate === true, caseId: c.id, caseStatus: c.status };
  }

  private async storedHash(messageId: string): Promise<string | undefined> {
    return (await this.db.get<{ message_hash: string }>('SELECT message_hash FROM inbox_hashes WHERE message_id = $1', [messageId]))?.message_hash;
  }

  /** A refusal: a failed trust check is kept and audited (never touching a case); a refused effect is only answered. */
  private async refused(e: unknown, claims: Claims, raw: string): Promise<Refusal> {
    const channel = `peer:${claims.sender ?? 'unknown'}`;
    if (!(e instanceof Untrusted)) {
      if (e instanceof GatewayError) {
        this.log.info({ messageId: claims.messageId, kind: claims.kind, peer: claims.sender, code: e.code }, 'peer message refused');
        return refusal(e);
      }
      this.log.error({ messageId: claims.messageId, err: (e as Error).message }, 'peer message failed');
      return { ok: false, code: 'INTERNAL', httpStatus: 500, message: 'Internal error; try again.', retryable: true };
    }
    const code = e.error.code;
    const record = { channel, claimedSender: claims.sender ?? null, messageId: claims.messageId ?? null, kind: claims.kind ?? null, caseId: claims.caseId ?? null, code, factor: e.factor, reason: e.reason };
    this.log.warn(record, 'peer message refused');
    const at = Date.now();
    try {
      await this.db.tx((sql) => recordRefusal(sql, at, { kind: 'adapter', id: channel, adapter: channel }, record, raw));
      this.ctx.committed();
    } catch (err) {
      this.log.error({ err: (err as Error).message, code }, 'refused peer message not recorded');
    }
    return { ok: false, code, httpStatus: e.error.status, message: e.error.message, retryable: false };
  }
}

/** The application as a peer's notification carries it; identity numbers of investors never travel between gateways. */
function applicationOf(b: Record<string, unknown>): Application {
  const contact = (b.contact ?? {}) as Record<string, unknown>;
  return {
    enterpriseName: text(b.enterpriseName, 200),
    legalForm: text(b.legalForm, 64),
    registeredCapital: typeof b.registeredCapital === 'number' ? b.registeredCapital : 0,
    industry: text(b.industry, 64),
    businessScope: Array.isArray(b.businessScope) ? b.businessScope.map((x) => text(x, 64)).filter(Boolean) : [],
    address: text(b.address, 500),
    divisionCode: text(b.divisionCode, 6),
    investors: [],
    contact: { name: text(contact.name, 100), phone: text(contact.phone, 40) },
  };
}
