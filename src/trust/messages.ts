// The signing codec around every channel: the gateway signs what it sends and reads what departments signed (JWS or XML-DSig).
import { createHash } from 'node:crypto';
import type { IncomingKind, IncomingMessage, MessageSigner, OutgoingMessage, SignedWire } from '../../adapters/adapter.js';
import type { GatewayConfig } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';
import type { Db } from '../store/sql.js';
import { incomingElement } from '../xml/approval.js';
import { readXml } from '../xml/read.js';
import { signEnvelope, verifyEnvelope, type Envelope } from './envelope.js';
import type { KeyRegistry } from './keys.js';
import { signXml, verifyXml } from './xmldsig.js';
import { mintAssertion, type ReviewerFacts } from '../peer/assertion.js';

/** The registry owner of this gateway's own keys (its messages name the gateway's id as sender). */
export const GATEWAY_OWNER = 'gateway';

/** `gateway.signatures` of the configuration. */
export interface SignatureSettings {
  /** Every incoming message must be signed; false also lets unsigned ones in. */
  required: boolean;
  /** Accepted distance of issuedAt from the gateway's (real) clock, either way. */
  windowSeconds: number;
}

/** The configuration's signature settings; the schema fills the defaults (required, 300 seconds). */
export function signatureSettings(config: GatewayConfig): SignatureSettings {
  const s = (config.gateway as { signatures?: Partial<SignatureSettings> }).signatures ?? {};
  return { required: s.required ?? true, windowSeconds: s.windowSeconds ?? 300 };
}

/** SHA-256 of a signed message exactly as sent or received, base64url: what the inbox keeps and what an answer quotes. */
export function wireHash(raw: string): string {
  return createHash('sha256').update(raw).digest('base64url');
}

/** Signs the gateway's outgoing messages and records their hashes, before they leave, so an answer can name them at once. */
export class GatewaySigner implements MessageSigner {
  constructor(
    private readonly keys: KeyRegistry,
    private readonly gatewayId: string,
    private readonly db: Db,
  ) {}

  async json(msg: OutgoingMessage): Promise<string> {
    const jws = await signEnvelope(this.keys, GATEWAY_OWNER, { messageId: msg.id, sender: this.gatewayId, receiver: msg.departmentId, caseId: msg.caseId, kind: msg.kind, body: msg.payload });
    await this.remember(jws, msg);
    return jws;
  }

  async peer(msg: OutgoingMessage, receiver: string): Promise<string> {
    let body = msg.payload;
    if (msg.kind === 'opinion') {
      // An answer to a peer: the reviewer, as this gateway identified them, is asserted afresh for this attempt.
      const { reviewer, ...rest } = msg.payload as { reviewer: ReviewerFacts } & Record<string, unknown>;
      body = { ...rest, assertion: await mintAssertion(this.keys, this.gatewayId, receiver, reviewer) };
    }
    const jws = await signEnvelope(this.keys, GATEWAY_OWNER, { messageId: msg.id, sender: this.gatewayId, receiver, caseId: msg.caseId, kind: msg.kind, body });
    await this.remember(jws, msg);
    return jws;
  }

  async xml(msg: OutgoingMessage, document: string): Promise<string> {
    const signed = signXml(document, this.keys, GATEWAY_OWNER);
    await this.remember(signed, msg);
    return signed;
  }

  private async remember(raw: string, msg: OutgoingMessage): Promise<void> {
    await this.db.run('INSERT INTO sent_hashes (message_hash, message_id, department_id, case_id, sent_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_hash) DO NOTHING', [
      wireHash(raw), msg.id, msg.departmentId, msg.caseId, Date.now(),
    ]);
  }
}

/** What a signed message claims before its signature is checked: for the channel check and the refusal record only. */
export interface Claims {
  messageId?: string;
  sender?: string;
  kind?: string;
  caseId?: string;
}

// A claim with the NUL character is no claim: PostgreSQL text cannot hold it, and looking it up failed as INTERNAL (500).
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 200 && !v.includes('\u0000') ? v : undefined);

/** Reads the claims of a signed message without trusting them; never throws (a message too broken to read claims nothing). */
export function claimsOf(wire: SignedWire): Claims {
  try {
    if (wire.format === 'jws') {
      const e = JSON.parse(Buffer.from(wire.raw.trim().split('.')[1] ?? '', 'base64url').toString('utf8')) as Partial<Envelope>;
      return { messageId: str(e.messageId), sender: str(e.sender), kind: str(e.kind), caseId: str(e.caseId) };
    }
    const root = readXml(wire.raw);
    const text = (name: string) => str(root.children.find((c) => c.name === name)?.text);
    const kind = ({ opinion: 'opinion', receipt: 'receipt', permitReport: 'permit', inspectionReport: 'inspection' } as Record<string, string>)[root.name];
    return { messageId: text('messageId'), sender: text('departmentId'), kind, caseId: text('caseId') };
  } catch {
    return {};
  }
}

/** Whether an XML document carries a signature at all (an unsigned one may be let in when signatures are not required). */
export function xmlIsSigned(raw: string): boolean {
  return incomingElement(readXml(raw)).signed;
}

/** A verified incoming message: its content, as signed, and its hash. */
export interface VerifiedIncoming {
  msg: IncomingMessage;
  hash: string;
  kid: string;
}

const KINDS: readonly IncomingKind[] = ['opinion', 'receipt', 'permit', 'inspection'];
const invalid = (reason: string) => new GatewayError('SIGNATURE_INVALID', { reason });

/**
 * Verifies a department's signed message: a current key of the sender it names, a valid signature, this gateway as
 * receiver, issued within the window (unless `checkWindow` is false: these exact bytes were accepted before). The message
 * is read from what the signature covers, never from the unsigned rest.
 */
export async function verifyIncoming(wire: SignedWire, keys: KeyRegistry, o: { receiver: string; windowSeconds: number; checkWindow: boolean }): Promise<VerifiedIncoming> {
  const hash = wireHash(wire.raw);
  if (wire.format === 'jws') {
    const v = await verifyEnvelope(keys, wire.raw, { receiver: o.receiver, windowSeconds: o.windowSeconds, checkWindow: o.checkWindow });
    return { msg: fromEnvelope(v.envelope), hash, kid: v.kid };
  }
  const claimed = incomingElement(readXml(wire.raw));
  if (!claimed.signed) throw new GatewayError('MESSAGE_UNSIGNED');
  const v = verifyXml(wire.raw, keys, claimed.msg.departmentId);
  // The signed references are what the signature covers; the document is read again from them.
  const doc = incomingElement(readXml(v.signedXml));
  if (doc.receiver !== o.receiver) throw new GatewayError('MESSAGE_MISADDRESSED', { receiver: doc.receiver });
  const issued = Date.parse(doc.issuedAt);
  if (!Number.isFinite(issued) || (o.checkWindow && Math.abs(Date.now() - issued) > o.windowSeconds * 1000)) {
    throw new GatewayError('MESSAGE_EXPIRED', { issuedAt: doc.issuedAt, windowSeconds: o.windowSeconds });
  }
  return { msg: doc.msg, hash, kid: v.kid };
}

/** An envelope's body as an incoming message; every field is checked here, as the XSD checks the XML form. */
function fromEnvelope(e: Envelope): IncomingMessage {
  if (!KINDS.includes(e.kind as IncomingKind)) throw invalid(`kind ${e.kind} is not one of ${KINDS.join(', ')}`);
  const kind = e.kind as IncomingKind;
  const b = e.body;
  const bad = (summary: string) => new GatewayError('VALIDATION_FAILED', { summary });
  // A receipt may acknowledge a message about no case (an administrator's test message).
  if (kind !== 'receipt' && (typeof e.caseId !== 'string' || !e.caseId)) throw bad('the envelope names no case');
  const msg: IncomingMessage = { messageId: e.messageId, kind, departmentId: e.sender, caseId: e.caseId ?? '' };
  if (e.requestHash !== undefined) {
    if (typeof e.requestHash !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(e.requestHash)) throw bad('requestHash is not a base64url SHA-256');
    msg.requestHash = e.requestHash;
  }
  const allowed = { opinion: ['decision', 'reasons'], permit: ['permitNumber'], receipt: ['ackOf'], inspection: ['inspectionId', 'stage', 'outcome', 'findings'] }[kind];
  const extra = Object.keys(b).find((k) => !allowed.includes(k));
  if (extra) throw bad(`/body/${extra} is not a field of a ${kind}`);
  if (kind === 'opinion') {
    if (b.decision !== 'approve' && b.decision !== 'refuse' && b.decision !== 'extend') throw bad('/body/decision must be approve, refuse or extend');
    if (b.reasons !== undefined && b.reasons !== null && (typeof b.reasons !== 'string' || b.reasons.length > 2000)) throw bad('/body/reasons must be a text of at most 2000 characters');
    msg.decision = b.decision;
    msg.reasons = (b.reasons as string | null | undefined) ?? null;
  } else if (kind === 'permit') {
    if (typeof b.permitNumber !== 'string' || b.permitNumber.length < 1 || b.permitNumber.length > 64) throw bad('/body/permitNumber must be 1 to 64 characters');
    msg.permitNumber = b.permitNumber;
  } else if (kind === 'inspection') {
    if (typeof b.inspectionId !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(b.inspectionId)) throw bad('/body/inspectionId must name the inspection');
    if (b.stage !== 'result' && b.stage !== 'reinspection') throw bad('/body/stage must be result or reinspection');
    if (b.outcome !== 'pass' && b.outcome !== 'fail') throw bad('/body/outcome must be pass or fail');
    if (b.findings !== undefined && b.findings !== null && (typeof b.findings !== 'string' || b.findings.length > 2000)) throw bad('/body/findings must be a text of at most 2000 characters');
    Object.assign(msg, { inspectionId: b.inspectionId, stage: b.stage, outcome: b.outcome, findings: (b.findings as string | null | undefined) ?? null });
  } else {
    if (typeof b.ackOf !== 'string' || !b.ackOf) throw bad('/body/ackOf must name the acknowledged message');
    msg.ackOf = b.ackOf;
  }
  return msg;
}
