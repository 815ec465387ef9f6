// The one adapter interface every department connection implements (fake, REST; SOAP, XML and AMQP join later).
import type { Logger } from 'pino';

/** A message leaving the gateway for a department, as the outbox hands it to an adapter. */
export interface OutgoingMessage {
  id: string;
  kind: string;
  caseId: string | null;
  departmentId: string;
  sender: string;
  attempt: number;
  payload: Record<string, unknown>;
}

/** `delivered`: the department's system acknowledged the message (its deadline may start). */
export interface SendOutcome {
  status: 'delivered';
  receipt?: string;
}

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

/** What the gateway gives an adapter when it starts. */
export interface AdapterContext {
  gatewayId: string;
  logger: Logger;
}

/** One department connection. `send` resolves only when delivery is acknowledged; it never reports success for a message it did not hand over. */
export interface Adapter {
  readonly kind: string;
  readonly name: string;
  start(ctx: AdapterContext): Promise<void>;
  stop(): Promise<void>;
  send(msg: OutgoingMessage): Promise<SendOutcome>;
  health(): Promise<AdapterHealth>;
}

export type AdapterFactory = (name: string, options: Record<string, unknown>) => Adapter;
