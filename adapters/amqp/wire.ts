// AMQP message format: outgoing messages and results as properties plus a signed body (compact JWS); incoming messages decoded and checked.
import type { ConsumeMessage, Options } from 'amqplib';
import { validator } from '../../src/config/schemas.js';
import type { IncomingKind, IncomingMessage, InboundResult, OutgoingMessage, SignedWire, WireExpectation } from '../adapter.js';

/** The media type of a compact JWS (RFC 7515). */
export const JOSE = 'application/jose';

const KINDS: readonly IncomingKind[] = ['receipt', 'opinion', 'permit'];

/** The body of an incoming message, as schemas/adapters/amqp.schema.json#/$defs/incoming describes it. */
interface IncomingBody {
  departmentId: string;
  caseId?: string;
  decision?: 'approve' | 'refuse' | 'extend';
  reasons?: string | null;
  permitNumber?: string;
  ackOf?: string;
}

/** Properties every message the gateway publishes carries; `timestamp` is in seconds, as AMQP defines it. */
function common(messageId: string, type: string, appId: string, caseId: string | null): Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    messageId,
    type,
    appId,
    timestamp: Math.floor(Date.now() / 1000),
    ...(caseId ? { correlationId: caseId } : {}),
  };
}

/** An outbox message for the wire: the signed envelope (as the REST webhook's body), with AMQP properties for routing and tracing. */
export function encodeOutgoing(msg: OutgoingMessage, jws: string): { body: Buffer; options: Options.Publish } {
  return {
    body: Buffer.from(jws),
    options: { ...common(msg.id, msg.kind, msg.sender, msg.caseId), contentType: JOSE, headers: { 'x-pag-attempt': msg.attempt, 'x-pag-receiver': msg.departmentId } },
  };
}

/**
 * A result for the department: what became of the message it sent, as the outgoing message the adapter signs. Its id is
 * derived from the incoming id, so a result sent again after a redelivery has the same id and the department can drop the repeat.
 */
export function resultMessage(incomingId: string, departmentId: string, sender: string, caseId: string | null, result: InboundResult | { ok: false; code: string; message: string; retryable: false }): OutgoingMessage {
  const payload = result.ok
    ? { inReplyTo: incomingId, ok: true, duplicate: result.duplicate, caseId: result.caseId, caseStatus: result.caseStatus }
    : { inReplyTo: incomingId, ok: false, code: result.code, message: result.message };
  return { id: `result:${incomingId}`, kind: 'result', caseId, departmentId, sender, attempt: 1, payload };
}

/** A signed result for the wire. */
export function encodeResult(msg: OutgoingMessage, jws: string): { body: Buffer; options: Options.Publish } {
  const inReplyTo = String(msg.payload.inReplyTo);
  return {
    body: Buffer.from(jws),
    options: { ...common(msg.id, 'result', msg.sender, msg.caseId), contentType: JOSE, headers: { 'x-pag-in-reply-to': inReplyTo, 'x-pag-receiver': msg.departmentId } },
  };
}

export type Decoded =
  | { ok: true; msg: IncomingMessage; token?: string }
  | { ok: true; signed: SignedWire; expect: WireExpectation; token?: string }
  | { ok: false; reason: string; messageId?: string; caseId?: string };

/**
 * Reads a department's message from its own inbound queue. Anything that is not a well-formed message of that department
 * is refused here, before the inbound service sees it; the reason names the problem but never echoes a token.
 */
export function decodeIncoming(m: ConsumeMessage, queueDepartment: string): Decoded {
  const p = m.properties;
  const messageId = typeof p.messageId === 'string' && p.messageId.length > 0 && p.messageId.length <= 200 ? p.messageId : undefined;
  const caseId = typeof p.correlationId === 'string' && p.correlationId.length > 0 ? p.correlationId : undefined;
  const bad = (reason: string): Decoded => ({ ok: false, reason, messageId, caseId });
  if (!messageId) return bad('no message-id property (1 to 200 characters)');
  if (!KINDS.includes(p.type as IncomingKind)) return bad(`type property must be one of ${KINDS.join(', ')}`);
  const kind = p.type as IncomingKind;
  const auth = p.headers?.authorization;
  const token = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth)?.[1] : undefined;
  // A signed message: its envelope says who sent it about which case; the properties must agree (the inbound service checks).
  if (p.contentType === JOSE) return { ok: true, token, signed: { format: 'jws', raw: m.content.toString('utf8') }, expect: { messageId, kind, ...(caseId ? { caseId } : {}) } };
  if (p.contentType !== undefined && p.contentType !== 'application/json') return bad(`content-type must be ${JOSE} (or application/json where unsigned messages are let in)`);
  let body: unknown;
  try {
    body = JSON.parse(m.content.toString('utf8'));
  } catch {
    return bad('body is not JSON');
  }
  const v = validator<IncomingBody>('adapters/amqp.schema.json#/$defs/incoming');
  if (!v(body)) {
    const e = v.errors?.[0];
    return bad(`body does not match the message schema: ${e ? `${e.instancePath || '/'} ${e.message}` : 'invalid'}`);
  }
  // The broker put it in this department's queue; a body naming another department is forged or misrouted.
  if (body.departmentId !== queueDepartment) return bad(`message in the queue of ${queueDepartment} names department ${body.departmentId}`);
  if (body.caseId !== undefined && caseId !== undefined && body.caseId !== caseId) return bad('body caseId differs from the correlation-id');
  const theCase = caseId ?? body.caseId;
  if (kind !== 'receipt' && !theCase) return bad(`a message of type ${kind} needs the case id as correlation-id`);
  return {
    ok: true,
    token,
    msg: {
      messageId,
      kind,
      departmentId: body.departmentId,
      caseId: theCase ?? '',
      decision: body.decision,
      reasons: body.reasons,
      permitNumber: body.permitNumber,
      ackOf: body.ackOf,
    },
  };
}
