// AMQP message format: outgoing messages and results as properties plus a JSON body; incoming messages decoded and checked.
import type { ConsumeMessage, Options } from 'amqplib';
import { validator } from '../../src/config/schemas.js';
import type { IncomingKind, IncomingMessage, InboundResult, OutgoingMessage } from '../adapter.js';

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

/** An outbox message for the wire: the same JSON body as the REST webhook's, with AMQP properties for routing and tracing. */
export function encodeOutgoing(msg: OutgoingMessage): { body: Buffer; options: Options.Publish } {
  const body = { messageId: msg.id, kind: msg.kind, sender: msg.sender, receiver: msg.departmentId, caseId: msg.caseId, attempt: msg.attempt, payload: msg.payload };
  return {
    body: Buffer.from(JSON.stringify(body)),
    options: { ...common(msg.id, msg.kind, msg.sender, msg.caseId), headers: { 'x-pag-attempt': msg.attempt, 'x-pag-receiver': msg.departmentId } },
  };
}

/**
 * A result for the department: what became of the message it sent. Its id is derived from the incoming id, so a result
 * sent again after a redelivery has the same id and the department can drop the repeat.
 */
export function encodeResult(incomingId: string, departmentId: string, sender: string, caseId: string | null, result: InboundResult | { ok: false; code: string; message: string; retryable: false }) {
  const body = result.ok
    ? { inReplyTo: incomingId, ok: true, duplicate: result.duplicate, caseId: result.caseId, caseStatus: result.caseStatus }
    : { inReplyTo: incomingId, ok: false, code: result.code, message: result.message };
  return {
    body: Buffer.from(JSON.stringify(body)),
    options: { ...common(`result:${incomingId}`, 'result', sender, caseId), headers: { 'x-pag-in-reply-to': incomingId, 'x-pag-receiver': departmentId } },
  };
}

export type Decoded = { ok: true; msg: IncomingMessage; token?: string } | { ok: false; reason: string; messageId?: string; caseId?: string };

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
  if (p.contentType !== undefined && p.contentType !== 'application/json') return bad('content-type must be application/json');
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
  const auth = p.headers?.authorization;
  const token = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth)?.[1] : undefined;
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
