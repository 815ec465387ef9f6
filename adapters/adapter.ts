// The one adapter interface every department connection implements (fake, REST, XML over HTTP, SOAP, AMQP).
import type { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';

/** A message leaving the gateway for a department, as the outbox hands it to an adapter. */
export interface OutgoingMessage {
  id: string;
  /** notification (a case to review) or another kind of outgoing message. */
  kind: string;
  caseId: string | null;
  departmentId: string;
  /** The sending gateway's id. */
  sender: string;
  attempt: number;
  payload: Record<string, unknown>;
}

/**
 * `delivered`: the department's system acknowledged the message (its deadline may start).
 * `sent`: a store-and-forward channel (a broker) accepted it; delivery waits for the department's receipt,
 * and the message is sent again if no receipt arrives in time.
 */
export type SendOutcome = { status: 'delivered'; receipt?: string } | { status: 'sent' };

/** Thrown by `send` when a message was not delivered; `retryable` says whether the dispatcher should try again. */
export class AdapterError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'AdapterError';
  }
}

/** Health as an administrator sees it. */
export interface AdapterHealth {
  ok: boolean;
  detail: string;
}

/** Kinds of message a department sends the gateway. */
export type IncomingKind = 'opinion' | 'receipt' | 'permit' | 'inspection';

/** A message a department sent the gateway, as its adapter decoded it from the wire. */
export interface IncomingMessage {
  /** The sender's message id; a message id already seen changes nothing (inbox de-duplication). */
  messageId: string;
  kind: IncomingKind;
  /** The department that sends it. */
  departmentId: string;
  caseId: string;
  /** opinion: approve, refuse, or extend (superior review). */
  decision?: 'approve' | 'refuse' | 'extend';
  reasons?: string | null;
  /** permit: the permit's number. */
  permitNumber?: string;
  /** receipt: the id of the gateway's message that the department acknowledges. */
  ackOf?: string;
  /** inspection: which inspection, which stage (the visit's result or the re-inspection), its outcome and findings. */
  inspectionId?: string;
  stage?: 'result' | 'reinspection';
  outcome?: 'pass' | 'fail';
  findings?: string | null;
  /** An answer may quote the gateway's signed message it answers: SHA-256 of it as sent, base64url. */
  requestHash?: string;
}

/** How a message arrived: the adapter (channel) and the credentials it carried. */
export interface Channel {
  /** The adapter name from configuration, or the gateway's own endpoint ('soap', 'xml', 'rest'). */
  adapter: string;
  /** The reviewer's bearer token (a JWT this gateway issued); opinions and permits need one of the sending department. */
  token?: string;
  /** The department the channel itself stands for (an AMQP department's own queue); the sender must be that department. */
  department?: string;
  /** The client certificate of the HTTPS connection a message came over (the gateway's own endpoints); null: none. */
  peerCertificate?: X509Certificate | null;
}

/** A signed message as it came off the wire: a compact JWS (JSON channels) or an XML document with an enveloped XML-DSig signature. */
export interface SignedWire {
  format: 'jws' | 'xmldsig';
  raw: string;
}

/** What the transport around a signed message says about it (a REST path, a SOAP operation, AMQP properties); the signed content must agree. */
export interface WireExpectation {
  kind?: IncomingKind;
  messageId?: string;
  caseId?: string;
  departmentId?: string;
}

/** Signs what the gateway sends with its own key, and remembers each signed message's hash (an answer may quote it). */
export interface MessageSigner {
  /** The compact JWS of the message's envelope {messageId, sender, receiver, caseId, kind, body: payload} (REST webhook, AMQP). */
  json(msg: OutgoingMessage): Promise<string>;
  /** The XML document with an enveloped XML-DSig signature (XML over HTTP, SOAP). */
  xml(msg: OutgoingMessage, document: string): Promise<string>;
  /**
   * The compact JWS of a message to a peer gateway (receiver: the peer's id). An answer going back to the peer also gets
   * a reviewer assertion, minted at each attempt so that a retried answer carries a fresh, short-lived one.
   */
  peer?(msg: OutgoingMessage, receiver: string): Promise<string>;
}

/** The effect of an incoming message. A refusal carries a code from the error catalogue. */
export type InboundResult =
  | { ok: true; duplicate: boolean; caseId: string; caseStatus: string }
  | { ok: false; code: string; httpStatus: number; message: string; retryable: boolean };

/** A case's state as a department may see it (SOAP getCaseStatus and the like). */
export interface CaseStatusView {
  caseId: string;
  reference: string;
  status: string;
  reviews: { departmentId: string; state: string; dueAt: string | null; decision: string | null }[];
}

/** What the gateway does with incoming messages; every adapter and inbound endpoint hands messages to it. */
export interface Inbound {
  /** A signed message: channel, signature, replay and reviewer checks, then its effect once. */
  receive(wire: SignedWire, channel: Channel, expect?: WireExpectation): Promise<InboundResult>;
  /** A message without a signature: refused as MESSAGE_UNSIGNED unless the configuration lets unsigned messages in. */
  accept(msg: IncomingMessage, channel: Channel): Promise<InboundResult>;
  caseStatus(caseId: string, channel: Channel): Promise<{ ok: true; view: CaseStatusView } | Extract<InboundResult, { ok: false }>>;
}

/** What the gateway gives an adapter when it starts. */
export interface AdapterContext {
  gatewayId: string;
  logger: Logger;
  /** Where the adapter hands messages it receives from its department. */
  inbound: Inbound;
  /** Department ids that use this adapter. */
  departments: string[];
  /** Signs every message the adapter sends. */
  signer: MessageSigner;
  /** The certificates folder: TLS files in adapter options are named relative to it. */
  certsDir: string;
}

/** One department connection. `send` resolves only when the message was handed over; it never reports success for a message it did not hand over. */
export interface Adapter {
  readonly kind: string;
  readonly name: string;
  start(ctx: AdapterContext): Promise<void>;
  stop(): Promise<void>;
  send(msg: OutgoingMessage): Promise<SendOutcome>;
  health(): Promise<AdapterHealth>;
}

export type AdapterFactory = (name: string, options: Record<string, unknown>) => Adapter;
