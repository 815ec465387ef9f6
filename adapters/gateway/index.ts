// Peer gateway adapter: a department served by another gateway; each message goes signed (JWS, this gateway's key) to the peer's endpoint.
import { AdapterError, type Adapter, type AdapterContext, type AdapterHealth, type OutgoingMessage, type SendOutcome } from '../adapter.js';
import { HttpDelivery, type HttpPostOptions } from '../http-post.js';

/** Settings from schemas/adapters/gateway.schema.json. */
export interface GatewayPeerOptions extends HttpPostOptions {
  /** The peer gateway's id: receiver of every message, and owner of its keys in the registry. */
  gateway: string;
}

export class GatewayPeerAdapter implements Adapter {
  readonly kind = 'gateway';
  private readonly http: HttpDelivery;
  private ctx: AdapterContext | null = null;
  readonly peer: string;

  constructor(
    readonly name: string,
    options: Record<string, unknown>,
  ) {
    const o = { timeoutMs: 10_000, headers: {}, ...(options as Partial<GatewayPeerOptions>) } as GatewayPeerOptions;
    this.peer = o.gateway;
    const { gateway: _g, ...http } = o;
    this.http = new HttpDelivery(http, 'peer gateway');
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.http.open(ctx.certsDir);
  }
  async stop(): Promise<void> {
    this.http.close();
  }

  /** The peer's 2xx is its acknowledgement: it has committed the message's effect (a mirror case, an opinion) or knew it already. */
  async send(msg: OutgoingMessage): Promise<SendOutcome> {
    if (!this.ctx) throw new AdapterError('adapter not started', true);
    if (!this.ctx.signer.peer) throw new AdapterError('this gateway cannot sign peer messages', false);
    // Signed at each attempt, as every JSON channel: the envelope's issuedAt is when this attempt left.
    const jws = await this.ctx.signer.peer(msg, this.peer);
    return this.http.post(msg.id, { 'content-type': 'application/jose', 'x-pag-sender': msg.sender, 'x-pag-kind': msg.kind }, jws, this.ctx.logger, this.name);
  }

  async health(): Promise<AdapterHealth> {
    return this.http.health();
  }
}

export const createGatewayPeerAdapter = (name: string, options: Record<string, unknown>): GatewayPeerAdapter => new GatewayPeerAdapter(name, options);
