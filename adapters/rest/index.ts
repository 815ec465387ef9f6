// JSON/REST webhook adapter: POSTs each message, signed as a compact JWS, to the department's URL; a 2xx answer acknowledges delivery.
import { AdapterError, type Adapter, type AdapterContext, type AdapterHealth, type OutgoingMessage, type SendOutcome } from '../adapter.js';
import { HttpDelivery, type HttpPostOptions } from '../http-post.js';

/** Settings from schemas/adapters/rest.schema.json. */
export type RestOptions = HttpPostOptions;

export class RestAdapter implements Adapter {
  readonly kind = 'rest';
  private readonly http: HttpDelivery;
  private ctx: AdapterContext | null = null;

  constructor(
    readonly name: string,
    options: Record<string, unknown>,
  ) {
    this.http = new HttpDelivery({ timeoutMs: 10_000, headers: {}, ...(options as Partial<RestOptions>) } as RestOptions, 'webhook');
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
    // Signed at each attempt: the envelope's issuedAt is when this attempt left, so the department's window check holds.
    const jws = await this.ctx.signer.json(msg);
    return this.http.post(msg.id, { 'content-type': 'application/jose', 'x-pag-sender': msg.sender, 'x-pag-kind': msg.kind }, jws, this.ctx.logger, this.name);
  }

  async health(): Promise<AdapterHealth> {
    return this.http.health();
  }
}

export const createRestAdapter = (name: string, options: Record<string, unknown>): RestAdapter => new RestAdapter(name, options);
