// SOAP adapter: calls the department's own SOAP service (its WSDL), mapping message fields, and the signed XML document, onto the operation's input.
import { Agent as HttpsAgent } from 'node:https';
import * as soap from 'soap';
import { clientTlsOptions, type ClientTlsFiles } from '../../src/trust/tls.js';
import { outgoingDocument } from '../../src/xml/approval.js';
import { AdapterError, type Adapter, type AdapterContext, type AdapterHealth, type OutgoingMessage, type SendOutcome } from '../adapter.js';

/** Settings from schemas/adapters/soap.schema.json. */
export interface SoapOptions {
  /** The department's WSDL: an http(s) URL or a file path. */
  wsdl: string;
  /** Overrides the WSDL's service address. */
  endpoint?: string;
  /** The operation that receives notifications (and any kind without its own entry in `operations`). */
  operation: string;
  /** Operation per message kind, e.g. {"cancellation": "CancelCase"}. */
  operations: Record<string, string>;
  /**
   * Input field (dots for nesting) -> message field: messageId, kind, sender, receiver, caseId, issuedAt, attempt,
   * payload.<path>, or signedDocument: the message's XML document (schemas/xml/approval.xsd) with the gateway's enveloped
   * XML-DSig signature, as text, which the department verifies as it would over XML over HTTP.
   */
  fields: Record<string, string>;
  timeoutMs: number;
  headers: Record<string, string>;
  /** HTTPS to the department's service (and WSDL): the CA to trust and the gateway's client certificate for mutual TLS. */
  tls?: ClientTlsFiles;
}

/** Bounds what a department's answer may make the gateway read. */
const MAX_RESPONSE_BYTES = 1_048_576;

type SoapFailure = { root?: { Envelope?: { Body?: { Fault?: Record<string, unknown> } } }; response?: { status?: number }; message?: string };

/** The mapping source that carries the signed document. */
export const SIGNED_DOCUMENT = 'signedDocument';

/** The value a mapping names, taken from the message as the XML documents describe it. */
export function pick(msg: OutgoingMessage, issuedAt: Date, path: string, signed?: string): unknown {
  const header: Record<string, unknown> = { messageId: msg.id, kind: msg.kind, sender: msg.sender, receiver: msg.departmentId, caseId: msg.caseId, issuedAt: issuedAt.toISOString(), attempt: msg.attempt, [SIGNED_DOCUMENT]: signed };
  if (!path.startsWith('payload.')) return header[path];
  let v: unknown = msg.payload;
  for (const k of path.slice('payload.'.length).split('.')) v = v && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** Builds the operation's input from the field mapping; scalars become strings, lists stay lists (repeated elements). */
export function mapInput(msg: OutgoingMessage, issuedAt: Date, fields: Record<string, string>, signed?: string): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [target, source] of Object.entries(fields)) {
    const v = pick(msg, issuedAt, source, signed);
    if (v === undefined || v === null) continue;
    const value = Array.isArray(v) ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))) : typeof v === 'object' ? JSON.stringify(v) : String(v);
    const keys = target.split('.');
    let at = input;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[keys[keys.length - 1]!] = value;
  }
  return input;
}

/** Whether a failed call may succeed later: a fault says so by its code (Server/Receiver), otherwise the HTTP status does. */
export function classify(e: unknown): { retryable: boolean; detail: string } {
  const err = (e ?? {}) as SoapFailure;
  const fault = err.root?.Envelope?.Body?.Fault;
  if (fault) {
    const code = String((fault.faultcode as string | undefined) ?? (fault.Code as { Value?: string } | undefined)?.Value ?? '');
    const text = String((fault.faultstring as string | undefined) ?? '');
    return { retryable: /(^|:)(Server|Receiver)(\.|$)/.test(code), detail: `SOAP fault ${code}${text ? `: ${text.slice(0, 200)}` : ''}` };
  }
  const status = err.response?.status;
  if (typeof status === 'number' && status >= 400) return { retryable: status >= 500 || status === 408 || status === 429, detail: `HTTP ${status}` };
  // Network errors, timeouts and answers that are not SOAP: the department may not have the message; try again.
  return { retryable: true, detail: (err.message ?? String(e)).slice(0, 200) };
}

export class SoapAdapter implements Adapter {
  readonly kind = 'soap';
  private readonly options: SoapOptions;
  private ctx: AdapterContext | null = null;
  private client: Promise<soap.Client> | null = null;
  private lastError: string | null = null;
  private agent: HttpsAgent | undefined;
  private setupError: string | null = null;

  constructor(
    readonly name: string,
    options: Record<string, unknown>,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.options = { timeoutMs: 10_000, headers: {}, operations: {}, ...(options as Partial<SoapOptions>) } as SoapOptions;
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    try {
      this.agent = this.options.tls ? new HttpsAgent({ keepAlive: true, ...clientTlsOptions(ctx.certsDir, this.options.tls) }) : undefined;
      this.setupError = null;
    } catch (e) {
      // Unreadable TLS files: each message fails retryably with the reason (shown in health) until they are fixed.
      this.setupError = `TLS settings unusable: ${(e as Error).message}`;
    }
  }
  async stop(): Promise<void> {
    this.agent?.destroy();
    this.client = null;
  }

  /** The client is made on first use, so a department whose WSDL is unreachable at start-up only delays its own messages. */
  private getClient(): Promise<soap.Client> {
    if (!this.client) {
      this.client = soap
        .createClientAsync(this.options.wsdl, {
          endpoint: this.options.endpoint,
          wsdl_options: { timeout: this.options.timeoutMs, maxContentLength: MAX_RESPONSE_BYTES, maxRedirects: 0, ...(this.agent ? { httpsAgent: this.agent } : {}) },
          wsdl_headers: this.options.headers,
        })
        .catch((e: unknown) => {
          this.client = null;
          throw new AdapterError(`WSDL ${this.options.wsdl} unavailable: ${(e as Error).message}`, true);
        });
    }
    return this.client;
  }

  async send(msg: OutgoingMessage): Promise<SendOutcome> {
    const operation = this.options.operations[msg.kind] ?? this.options.operation;
    if (this.setupError) {
      this.lastError = this.setupError;
      throw new AdapterError(`SOAP ${this.setupError}`, true);
    }
    let client: soap.Client;
    try {
      client = await this.getClient();
    } catch (e) {
      this.lastError = (e as Error).message;
      throw e;
    }
    const call = (client as unknown as Record<string, unknown>)[`${operation}Async`];
    if (typeof call !== 'function') throw new AdapterError(`the department's WSDL has no operation ${operation}`, false);
    const issuedAt = this.now();
    let signed: string | undefined;
    if (Object.values(this.options.fields).includes(SIGNED_DOCUMENT)) {
      const doc = outgoingDocument(msg, issuedAt);
      // As over XML over HTTP: a kind the XSD has no document for cannot be signed, and retrying will not change that.
      if (doc === null) throw new AdapterError(`no XML document for message kind ${msg.kind}`, false);
      signed = await this.ctx!.signer.xml(msg, doc);
    }
    const input = mapInput(msg, issuedAt, this.options.fields, signed);
    try {
      await (call as (args: unknown, options: unknown, headers: unknown) => Promise<unknown[]>).call(
        client,
        input,
        { timeout: this.options.timeoutMs, maxContentLength: MAX_RESPONSE_BYTES, maxRedirects: 0, ...(this.agent ? { httpsAgent: this.agent } : {}) },
        { ...this.options.headers, 'message-id': msg.id, 'x-pag-sender': msg.sender, 'x-pag-kind': msg.kind },
      );
    } catch (e) {
      const { retryable, detail } = classify(e);
      this.lastError = detail;
      this.ctx?.logger.warn({ adapter: this.name, messageId: msg.id, detail, retryable }, 'SOAP call failed');
      throw new AdapterError(`SOAP ${operation} failed: ${detail}`, retryable);
    }
    this.lastError = null;
    return { status: 'delivered' };
  }

  async health(): Promise<AdapterHealth> {
    if (this.setupError) return { ok: false, detail: this.setupError };
    return this.lastError ? { ok: false, detail: `last delivery failed: ${this.lastError}` } : { ok: true, detail: `SOAP ${this.options.operation}` };
  }
}

export const createSoapAdapter = (name: string, options: Record<string, unknown>): SoapAdapter => new SoapAdapter(name, options);
