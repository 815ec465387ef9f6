// Incoming department messages from every channel (SOAP, XML, AMQP, REST): channel, signature, replay and reviewer checks, then one effect per message id.
import type { Logger } from 'pino';
import type { CaseStatusView, Channel, Inbound, IncomingMessage, InboundResult, SignedWire, WireExpectation } from '../../adapters/adapter.js';
import type { Dispatcher } from '../bus/dispatcher.js';
import type { GatewayConfig } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';
import type { Actor, Case } from '../domain/types.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Db } from '../store/sql.js';
import { DepartmentSigner } from '../trust/department.js';
import type { KeyRegistry } from '../trust/keys.js';
import { claimsOf, verifyIncoming, wireHash, xmlIsSigned, type Claims, type SignatureSettings } from '../trust/messages.js';
import { certificateProblem, loadBinding, type LoadedBinding } from '../trust/tls.js';
import type { Principal, TokenService } from '../trust/tokens.js';
import { readIncoming } from '../xml/approval.js';
import type { CaseService, InboundRef } from './cases.js';
import type { FollowUpService } from './followups.js';
import { recordRefusal, refusal, Untrusted, type Factor, type Refusal } from './refusals.js';

/** Endpoints the gateway itself serves; a message arriving there is bound to its department by the reviewer's token. */
export const GATEWAY_ENDPOINTS = new Set(['rest', 'soap', 'xml']);




/** Runs a check and labels a catalogued failure with its factor. */
async function factor<T>(f: Factor, check: () => Promise<T> | T): Promise<T> {
  try {
    return await check();
  } catch (e) {
    if (e instanceof GatewayError) throw new Untrusted(e, f, e.message);
    throw e;
  }
}

/** What the inbound service needs to check signatures. */
export interface TrustContext {
  keys: KeyRegistry;
  gatewayId: string;
  signatures: SignatureSettings;
  /** Tells the audit sealer and live streams that events were committed. */
  committed: () => void;
  /** The certificates folder, where departments' client-certificate CAs are. */
  certsDir: string;
}

/**
 * Each department's client-certificate binding, or why it cannot be used (an unreadable CA file): such a department's
 * messages over the gateway's endpoints are then refused rather than accepted without the certificate check.
 */
export function loadBindings(certsDir: string, config: GatewayConfig): Map<string, LoadedBinding | string> {
  const out = new Map<string, LoadedBinding | string>();
  for (const d of config.departments) {
    if (!d.clientCertificate) continue;
    try {
      out.set(d.id, loadBinding(certsDir, d.id, d.clientCertificate));
    } catch (e) {
      out.set(d.id, `client certificate CA unusable: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Departments served by a peer gateway (their adapter is of kind gateway). */
export function peeredDepartments(config: GatewayConfig): Set<string> {
  return new Set(config.departments.filter((d) => config.adapters[d.adapter]?.kind === 'gateway').map((d) => d.id));
}

/** Filled by the inbound service with what a message's effect left behind. */
export interface AfterEffect {
  /** The case after an opinion, permit report or inspection report (after the effect's commit, or as stored for a repeat). */
  case?: Case;
}

export class InboundService implements Inbound {
  private adapterOf: Map<string, string>;
  private bindings: Map<string, LoadedBinding | string>;
  private hosted: Set<string>;
  /** Departments another gateway serves: their answers come only through that peer (src/peer), never over this gateway's channels. */
  private peered: Set<string>;
  private readonly cases: CaseService;
  private readonly followUps: FollowUpService;

  constructor(
    private readonly db: Db,
    config: GatewayConfig,
    services: { cases: CaseService; followUps: FollowUpService },
    private readonly dispatcher: Dispatcher,
    private readonly tokens: TokenService,
    private readonly log: Logger,
    private readonly trust: TrustContext,
    private readonly metrics?: GatewayMetrics,
  ) {
    this.cases = services.cases;
    this.followUps = services.followUps;
    this.adapterOf = new Map(config.departments.map((d) => [d.id, d.adapter]));
    this.bindings = loadBindings(trust.certsDir, config);
    this.hosted = new Set(config.departments.filter((d) => d.hosted).map((d) => d.id));
    this.peered = peeredDepartments(config);
  }

  /** Departments and their channels after an administrator's change. */
  reconfigure(config: GatewayConfig): void {
    this.adapterOf = new Map(config.departments.map((d) => [d.id, d.adapter]));
    this.bindings = loadBindings(this.trust.certsDir, config);
    this.hosted = new Set(config.departments.filter((d) => d.hosted).map((d) => d.id));
    this.peered = peeredDepartments(config);
  }

  /**
   * A plain answer typed in the console or sent as plain JSON by a reviewer. For a hosted department (no system of its
   * own; its key is kept by this gateway) the gateway signs it with the department's key, for its own reviewer only, and
   * it then goes through every check a signed message from a department's system goes through; otherwise it is
   * accepted as plain, which succeeds only where signatures are not required.
   */
  async acceptPlain(msg: IncomingMessage, channel: Channel, reviewerDepartment: string | undefined, out?: AfterEffect): Promise<InboundResult> {
    if (!this.hosted.has(msg.departmentId) || reviewerDepartment !== msg.departmentId) return this.accept(msg, channel, out);
    const raw = await new DepartmentSigner(this.trust.keys, msg.departmentId, this.trust.gatewayId).jws(msg);
    // Each signing has its own issuedAt, so the message id is claimed by the answer's content rather than by its bytes:
    // the same answer sent again (a retried request) is a duplicate, another answer under the same id a replay.
    const content = JSON.stringify([msg.messageId, msg.kind, msg.departmentId, msg.caseId, msg.decision, msg.reasons, msg.permitNumber, msg.inspectionId, msg.stage, msg.outcome, msg.findings]);
    return this.receiveWire({ format: 'jws', raw }, channel, { kind: msg.kind, caseId: msg.caseId ?? undefined, departmentId: msg.departmentId }, out, `hosted:${wireHash(content)}`);
  }

  /** `out`, when given, receives the case as the message's effect left it (the REST API answers with it rather than reading it again). */
  receive(wire: SignedWire, channel: Channel, expect: WireExpectation = {}, out?: AfterEffect): Promise<InboundResult> {
    return this.receiveWire(wire, channel, expect, out);
  }

  /** `contentHash` replaces the hash of the bytes as what claims the message id (hosted departments' answers). */
  private async receiveWire(wire: SignedWire, channel: Channel, expect: WireExpectation, out?: AfterEffect, contentHash?: string): Promise<InboundResult> {
    const claims = claimsOf(wire);
    let r: InboundResult;
    try {
      if (wire.format === 'xmldsig' && !this.trust.signatures.required && !xmlIsSigned(wire.raw)) return await this.accept(readIncoming(wire.raw).msg, channel, out);
      const { msg, actor, claimed } = await this.check(wire, claims, channel, expect, contentHash);
      r = await this.effect(msg, channel, actor, { wire, claimed, out });
    } catch (e) {
      r = await this.refused(e, channel, claims, wire.raw);
    }
    this.count(channel, claims.kind, r);
    return r;
  }

  async accept(msg: IncomingMessage, channel: Channel, out?: AfterEffect): Promise<InboundResult> {
    const claims: Claims = { messageId: msg.messageId, sender: msg.departmentId, kind: msg.kind, caseId: msg.caseId };
    let r: InboundResult;
    try {
      if (this.trust.signatures.required) throw new Untrusted(new GatewayError('MESSAGE_UNSIGNED'), 'signature', 'no signature');
      await factor('channel', () => this.checkChannel(msg.departmentId, channel));
      const actor = await this.reviewer(msg, channel);
      r = await this.effect(msg, channel, actor, { out });
    } catch (e) {
      r = await this.refused(e, channel, claims, JSON.stringify(msg));
    }
    this.count(channel, msg.kind, r);
    return r;
  }

  private count(channel: Channel, kind: string | undefined, r: InboundResult): void {
    this.metrics?.inbound.inc({ channel: channel.adapter, kind: String(kind ?? 'unknown'), result: r.ok ? (r.duplicate ? 'duplicate' : 'ok') : r.code });
  }

  /**
   * The checks before any effect, each on its own and refused with its own code: the channel is the claimed sender's,
   * the signature is a current key's of that sender over a message to this gateway within the window, the message id is
   * new or these are its very bytes again, a quoted request is one this gateway sent, and the reviewer is entitled.
   */
  private async check(wire: SignedWire, claims: Claims, channel: Channel, expect: WireExpectation, contentHash?: string): Promise<{ msg: IncomingMessage; actor: Actor; claimed: boolean }> {
    if (claims.sender) {
      const sender = claims.sender;
      await factor('channel', () => this.checkChannel(sender, channel));
    }
    const hash = contentHash ?? wireHash(wire.raw);
    // These exact bytes accepted before, within the window then: a resend (a redelivery after a broker restart) is no replay.
    const storedBefore = claims.messageId !== undefined ? await this.storedHash(claims.messageId) : undefined;
    const known = storedBefore === hash;
    const v = await factor('signature', () => verifyIncoming(wire, this.trust.keys, { receiver: this.trust.gatewayId, windowSeconds: this.trust.signatures.windowSeconds, checkWindow: !known }));
    const msg = v.msg;
    await factor('signature', () => {
      // The signed content decides; the transport around it (path, operation, properties) must say the same.
      const differs = (what: string, signed: string, said: string | undefined) => {
        if (said !== undefined && said !== signed) throw new GatewayError('SIGNATURE_INVALID', { reason: `the signed message names ${what} ${signed}, the request ${said}` });
      };
      differs('message id', msg.messageId, claims.messageId);
      differs('message id', msg.messageId, expect.messageId);
      differs('kind', msg.kind, expect.kind);
      differs('case', msg.caseId, expect.caseId);
      differs('department', msg.departmentId, expect.departmentId);
    });
    if (!claims.sender) await factor('channel', () => this.checkChannel(msg.departmentId, channel));
    const replayed = () => new GatewayError('MESSAGE_REPLAYED', { messageId: msg.messageId });
    // The id the transport claimed is the signed one (checked above), so the hash read for it stands.
    const stored = claims.messageId !== undefined ? storedBefore : await this.storedHash(msg.messageId);
    if (stored !== undefined && stored !== hash) throw new Untrusted(replayed(), 'message', 'the message id was taken by other content');
    if (msg.requestHash) await factor('message', () => this.checkRequest(msg));
    const actor = await this.reviewer(msg, channel);
    // Claimed only once every check passed, so a message refused for its reviewer may be sent again, corrected, under its id.
    const claimed = stored === undefined && (await factor('message', () => this.claim(msg, hash, replayed)));
    return { msg, actor, claimed };
  }

  /**
   * The message id is taken by its first accepted signed content; a copy with other content that raced it in is a replay.
   * True when this call took the id: the message is then new, and no effect of it can have been applied yet.
   */
  private async claim(msg: IncomingMessage, hash: string, replayed: () => GatewayError): Promise<boolean> {
    const inserted = await this.db.run('INSERT INTO inbox_hashes (message_id, message_hash, sender, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING', [msg.messageId, hash, msg.departmentId, Date.now()]);
    if (inserted === 1) return true;
    // A copy raced this one in: whichever was stored first owns the id; the same bytes are that copy again.
    if ((await this.storedHash(msg.messageId)) !== hash) throw replayed();
    return false;
  }

  private async storedHash(messageId: string): Promise<string | undefined> {
    return (await this.db.get<{ message_hash: string }>('SELECT message_hash FROM inbox_hashes WHERE message_id = $1', [messageId]))?.message_hash;
  }

  /** A quoted request must be a signed message this gateway sent to the sender: for a receipt the one it acknowledges, otherwise one of the same case. */
  private async checkRequest(msg: IncomingMessage): Promise<void> {
    const row = await this.db.get<{ message_id: string; department_id: string; case_id: string | null }>('SELECT message_id, department_id, case_id FROM sent_hashes WHERE message_hash = $1', [msg.requestHash]);
    const ok = !!row && row.department_id === msg.departmentId && (msg.kind === 'receipt' ? row.message_id === msg.ackOf : row.case_id === msg.caseId);
    if (!ok) throw new GatewayError('REQUEST_HASH_UNKNOWN', { departmentId: msg.departmentId });
  }

  /** A configured adapter carries only its own departments' messages; a department's own queue only that department's. */
  private checkChannel(departmentId: string, channel: Channel): void {
    if (!this.adapterOf.has(departmentId)) throw new GatewayError('UNKNOWN_DEPARTMENT', { departmentId });
    if (this.peered.has(departmentId)) throw new GatewayError('CHANNEL_NOT_BOUND', { departmentId, channel: channel.adapter });
    const endpoint = GATEWAY_ENDPOINTS.has(channel.adapter);
    if (!endpoint && this.adapterOf.get(departmentId) !== channel.adapter) throw new GatewayError('CHANNEL_NOT_BOUND', { departmentId, channel: channel.adapter });
    if (channel.department !== undefined && channel.department !== departmentId) throw new GatewayError('CHANNEL_NOT_BOUND', { departmentId, channel: channel.adapter });
    // A department bound to client certificates speaks over the gateway's HTTP endpoints only through a TLS connection
    // with a certificate its own CA issued to it (mutual TLS); its reviewer's token alone is not enough.
    const binding = this.bindings.get(departmentId);
    if (endpoint && binding !== undefined) {
      const problem = typeof binding === 'string' ? binding : certificateProblem(channel.peerCertificate ?? undefined, binding, Date.now());
      if (problem) throw new Untrusted(new GatewayError('CHANNEL_NOT_BOUND', { departmentId, channel: `${channel.adapter} (client certificate)` }), 'channel', problem);
    }
  }

  /**
   * Who decided. Opinions and permit reports, and everything over the gateway's own endpoints, need the token of a reviewer
   * of the sending department who logged in with password and one-time code, for this gateway, unexpired. The caller
   * learns only that the reviewer was not accepted; the record says why.
   */
  private async reviewer(msg: IncomingMessage, channel: Channel): Promise<Actor> {
    const endpoint = GATEWAY_ENDPOINTS.has(channel.adapter);
    if (msg.kind === 'receipt' && !endpoint) return { kind: 'adapter', id: msg.departmentId, adapter: channel.adapter };
    if (!channel.token) throw new Untrusted(new GatewayError('UNAUTHENTICATED'), 'reviewer', 'no reviewer token');
    const no = (reason: string) => new Untrusted(new GatewayError('REVIEWER_NOT_AUTHORISED', { departmentId: msg.departmentId }), 'reviewer', reason);
    let p: Principal;
    try {
      // Issuer, audience, expiry and signature are the token service's checks.
      p = await this.tokens.verify(channel.token);
    } catch {
      throw no('token not valid: bad signature, expired, or for another issuer or audience');
    }
    if (!p.amr.includes('pwd') || !p.amr.includes('otp')) throw no(`login by ${p.username} without both password and one-time code (amr ${p.amr.join(',') || 'empty'})`);
    if (p.role !== 'reviewer') throw no(`${p.username} has role ${p.role}, not reviewer`);
    // One department, one level: a city department's reviewer answers only the city department's reviews.
    if (p.departmentId !== msg.departmentId) throw no(`${p.username} reviews for ${p.departmentId ?? 'no department'}, not ${msg.departmentId}`);
    return { kind: 'user', id: p.username, role: p.role, adapter: channel.adapter };
  }

  /** A refused message: kept (without credentials: tokens travel outside the message) and audited in one transaction, never touching a case. */
  private async refused(e: unknown, channel: Channel, claims: Claims, raw: string): Promise<Refusal> {
    if (!(e instanceof Untrusted)) {
      if (e instanceof GatewayError) {
        // The message was trusted; its effect was refused (a closed review, an unknown case, ...).
        this.log.info({ messageId: claims.messageId, kind: claims.kind, departmentId: claims.sender, channel: channel.adapter, code: e.code }, 'incoming message refused');
        return refusal(e);
      }
      this.log.error({ messageId: claims.messageId, err: (e as Error).message }, 'incoming message failed');
      return { ok: false, code: 'INTERNAL', httpStatus: 500, message: 'Internal error; try again.', retryable: true };
    }
    const at = Date.now();
    const code = e.error.code;
    const record = { channel: channel.adapter, claimedSender: claims.sender ?? null, messageId: claims.messageId ?? null, kind: claims.kind ?? null, caseId: claims.caseId ?? null, code, factor: e.factor, reason: e.reason };
    this.log.warn(record, 'incoming message refused');
    try {
      await this.db.tx((sql) => recordRefusal(sql, at, { kind: 'adapter', id: channel.adapter, adapter: channel.adapter }, record, raw));
      this.trust.committed();
    } catch (err) {
      this.log.error({ err: (err as Error).message, code }, 'refused message not recorded');
    }
    return refusal(e.error);
  }

  /** The message's effect, once per message id. */
  private async effect(msg: IncomingMessage, channel: Channel, actor: Actor, o: { wire?: SignedWire; claimed?: boolean; out?: AfterEffect }): Promise<InboundResult> {
    const { wire, out } = o;
    // Kept with the effect: an answer about a mirror case goes back to its origin gateway with the signed message as received.
    const forward = wire && actor.kind === 'user' ? { wire, reviewer: { username: actor.id, role: actor.role ?? 'reviewer', amr: ['pwd', 'otp'] } } : {};
    switch (msg.kind) {
      case 'opinion': {
        if (!msg.decision) throw new GatewayError('VALIDATION_FAILED', { summary: 'an opinion needs a decision' });
        if (msg.decision !== 'approve' && !msg.reasons?.trim()) throw new GatewayError('VALIDATION_FAILED', { summary: `a ${msg.decision} opinion needs reasons` });
        const decision = msg.decision;
        const { duplicate, c } = await this.once(msg, o.claimed === true, (ref) => this.cases.opinion(msg.caseId, msg.departmentId, decision, msg.reasons ?? null, actor, ref), forward);
        if (out) out.case = c;
        return { ok: true, duplicate, caseId: c.id, caseStatus: c.status };
      }
      case 'permit': {
        if (!msg.permitNumber) throw new GatewayError('VALIDATION_FAILED', { summary: 'a permit report needs a permit number' });
        const permitNumber = msg.permitNumber;
        const { duplicate, c } = await this.once(msg, o.claimed === true, (ref) => this.cases.reportPermit(msg.caseId, msg.departmentId, permitNumber, actor, ref));
        if (out) out.case = c;
        return { ok: true, duplicate, caseId: c.id, caseStatus: c.status };
      }
      case 'inspection': {
        const { inspectionId, stage, outcome } = msg;
        if (!inspectionId || !stage || !outcome) throw new GatewayError('VALIDATION_FAILED', { summary: 'an inspection report names the inspection, its stage and its outcome' });
        const ref: InboundRef = { messageId: msg.messageId, kind: msg.kind };
        await this.followUps.report(inspectionId, msg.caseId, msg.departmentId, stage, outcome, msg.findings ?? null, actor, ref);
        const c = await this.cases.get(msg.caseId);
        if (out) out.case = c;
        return { ok: true, duplicate: ref.duplicate === true, caseId: c.id, caseStatus: c.status };
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
  private async once(msg: IncomingMessage, claimed: boolean, effect: (ref: InboundRef) => Promise<Case>, extra: Partial<InboundRef> = {}): Promise<{ duplicate: boolean; c: Case }> {
    // A message whose id this call has just claimed cannot have had its effect yet: no need to look.
    if (!claimed && (await this.seen(msg.messageId))) return { duplicate: true, c: await this.cases.get(msg.caseId) };
    const ref: InboundRef = { messageId: msg.messageId, kind: msg.kind, ...extra };
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
}
