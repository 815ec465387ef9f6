// XML-over-HTTP adapter: POSTs each message as an approval document (schemas/xml/approval.xsd) with the gateway's XML-DSig signature; a 2xx answer acknowledges delivery.
import { outgoingDocument } from '../../src/xml/approval.js';
import { AdapterError, type Adapter, type AdapterContext, type AdapterHealth, type OutgoingMessage, type SendOutcome } from '../adapter.js';
import { HttpDelivery, type HttpPostOptions } from '../http-post.js';

/** Settings from schemas/adapters/xml.schema.json. */
export type XmlOptions = HttpPostOptions;

export class XmlAdapter implements Adapter {
  readonly kind = 'xml';
  private readonly http: HttpDelivery;
  private ctx: AdapterContext | null = null;

  constructor(
    readonly name: string,
    options: Record<string, unknown>,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.http = new HttpDelivery({ timeoutMs: 10_000, headers: {}, ...(options as Partial<XmlOptions>) } as XmlOptions, 'XML endpoint');
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.http.open(ctx.certsDir);
  }
  async stop(): Promise<void> {
    this.http.close();
  }

  async send(msg: OutgoingMessage): Promise<SendOutcome> {
    if (!this.ctx) throw new AdapterError('adapter not started', true);
    const doc = outgoingDocument(msg, this.now());
    // A kind the XSD has no document for cannot be sent by retrying; it needs a schema change first.
    if (doc === null) throw new AdapterError(`no XML document for message kind ${msg.kind}`, false);
    const body = await this.ctx.signer.xml(msg, doc);
    return this.http.post(msg.id, { 'content-type': 'application/xml; charset=utf-8', 'x-pag-sender': msg.sender, 'x-pag-kind': msg.kind }, body, this.ctx.logger, this.name);
  }

  async health(): Promise<AdapterHealth> {
    return this.http.health();
  }
}

export const createXmlAdapter = (name: string, options: Record<string, unknown>): XmlAdapter => new XmlAdapter(name, options);
