// A department's side of signed messages, for hosted departments (signed by the gateway for them), the simulated departments, the demo and the tests.
import type { IncomingMessage } from '../../adapters/adapter.js';
import { GatewayError } from '../domain/errors.js';
import { incomingDocument, readOutgoing, type ReadOutgoing } from '../xml/approval.js';
import { signEnvelope, verifyEnvelope, type Envelope } from './envelope.js';
import type { KeyRegistry } from './keys.js';
import { GATEWAY_OWNER, wireHash } from './messages.js';
import { signXml, verifyXml } from './xmldsig.js';

/** Options of one signed answer: when it says it was issued (tests back-date it), and which key owner signs (tests forge). */
export interface SignOptions {
  issuedAt?: string;
  /** Sign with another owner's key (an impostor in a test); the message still names its own department. */
  signAs?: string;
  /** Address it elsewhere (a test of MESSAGE_MISADDRESSED). */
  receiver?: string;
}

/** What a department needs to sign its messages and check the gateway's: the shared key registry and the gateway's id. */
export class DepartmentSigner {
  constructor(
    readonly keys: KeyRegistry,
    readonly departmentId: string,
    readonly gatewayId: string,
  ) {}

  /** The compact JWS of an answer's envelope (REST API, AMQP). */
  jws(msg: IncomingMessage, o: SignOptions = {}): string {
    const body: Record<string, unknown> =
      msg.kind === 'opinion'
        ? { decision: msg.decision, reasons: msg.reasons ?? null }
        : msg.kind === 'permit'
          ? { permitNumber: msg.permitNumber }
          : msg.kind === 'inspection'
            ? { inspectionId: msg.inspectionId, stage: msg.stage, outcome: msg.outcome, findings: msg.findings ?? null }
            : { ackOf: msg.ackOf };
    return signEnvelope(this.keys, o.signAs ?? msg.departmentId, {
      messageId: msg.messageId,
      sender: msg.departmentId,
      receiver: o.receiver ?? this.gatewayId,
      caseId: msg.caseId,
      kind: msg.kind,
      body,
      ...(msg.requestHash ? { requestHash: msg.requestHash } : {}),
      ...(o.issuedAt ? { issuedAt: o.issuedAt } : {}),
    });
  }

  /** The answer as an XML document with an enveloped XML-DSig signature (XML over HTTP, SOAP). */
  xml(msg: IncomingMessage, o: SignOptions = {}): string {
    const doc = incomingDocument(msg, { receiver: o.receiver ?? this.gatewayId, issuedAt: o.issuedAt ?? new Date().toISOString() });
    return signXml(doc, this.keys, o.signAs ?? msg.departmentId);
  }

  /** Checks a JSON message from the gateway: the gateway's key, addressed to this department, within five minutes. */
  async openJson(jws: string): Promise<{ envelope: Envelope; hash: string }> {
    const v = await verifyEnvelope(this.keys, jws, { receiver: this.departmentId, windowSeconds: 300, keyOwner: (s) => (s === this.gatewayId ? GATEWAY_OWNER : s) });
    if (v.envelope.sender !== this.gatewayId) throw new GatewayError('SIGNATURE_INVALID', { reason: `sent by ${v.envelope.sender}, not the gateway` });
    return { envelope: v.envelope, hash: wireHash(jws) };
  }

  /** Checks an XML document from the gateway: its signature by the gateway's key, and that it is addressed to this department. */
  openXml(xml: string): { doc: ReadOutgoing; hash: string } {
    const v = verifyXml(xml, this.keys, GATEWAY_OWNER);
    const doc = readOutgoing(v.signedXml);
    if (doc.receiver !== this.departmentId) throw new GatewayError('MESSAGE_MISADDRESSED', { receiver: doc.receiver });
    return { doc, hash: wireHash(xml) };
  }
}
