// XML-over-HTTP adapter: POSTs each message as an approval document (schemas/xml/approval.xsd) with the gateway's XML-DSig signature; a 2xx answer acknowledges delivery.
import { outgoingDocument } from '../../src/xml/approval.js';
import { AdapterError, type Adapter, type AdapterContext, type AdapterHealth, type OutgoingMessage, type SendOutcome } from '../adapter.js';

/** Settings from schemas/adapters/xml.schema.json. */
export interface XmlOptions {
  url: string;
  timeoutMs: number;
  headers: Record<string, string>;
}

export class XmlAdapter implements Adapter {
  readonly kind = 'xml';
  private readonly options: XmlOptions;
  private ctx: AdapterContext | null = null;
  private lastError: string | null = null;

  constructor(
    readonly name: string,
    options: Record<string, unknown>,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.options = { timeoutMs: 10_000, headers: {}, ...(options as Partial<XmlOptions>) } as XmlOptions;
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {}

  async send(msg: OutgoingMessage): Promise<SendOutcome> {
    if (!this.ctx) throw new AdapterError('adapter not started', true);
    const doc = outgoingDocument(msg, this.now());
    // A kind the XSD has no document for cannot be sent by retrying; it needs a schema change first.
    if (doc === null) throw new AdapterError(`no XML document for message kind ${msg.kind}`, false);
    const body = await this.ctx.signer.xml(msg, doc);
    let res: Response;
    try {
      res = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          ...this.options.headers,
          'content-type': 'application/xml; charset=utf-8',
          'message-id': msg.id,
          'x-pag-sender': msg.sender,
          'x-pag-kind': msg.kind,
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await res.arrayBuffer(); // drain, so the connection can be reused
    } catch (e) {
      this.lastError = (e as Error).message;
      throw new AdapterError(`XML endpoint unreachable: ${(e as Error).message}`, true);
    }
    if (res.ok) {
      this.lastError = null;
      return { status: 'delivered', receipt: res.headers.get('message-id') ?? undefined };
    }
    this.lastError = `HTTP ${res.status}`;
    // Other 4xx answers mean the department rejected this document; sending the same bytes again will not help.
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    this.ctx?.logger.warn({ adapter: this.name, status: res.status, messageId: msg.id }, 'XML endpoint refused message');
    throw new AdapterError(`XML endpoint answered HTTP ${res.status}`, retryable);
  }

  async health(): Promise<AdapterHealth> {
    return this.lastError ? { ok: false, detail: `last delivery failed: ${this.lastError}` } : { ok: true, detail: `XML endpoint ${new URL(this.options.url).host}` };
  }
}

export const createXmlAdapter = (name: string, options: Record<string, unknown>): XmlAdapter => new XmlAdapter(name, options);
