// JSON/REST webhook adapter: POSTs each message, signed as a compact JWS, to the department's URL; a 2xx answer acknowledges delivery.
import { AdapterError, type Adapter, type AdapterContext, type AdapterHealth, type OutgoingMessage, type SendOutcome } from '../adapter.js';

/** Settings from schemas/adapters/rest.schema.json. */
export interface RestOptions {
  url: string;
  timeoutMs: number;
  headers: Record<string, string>;
}

export class RestAdapter implements Adapter {
  readonly kind = 'rest';
  private readonly options: RestOptions;
  private ctx: AdapterContext | null = null;
  private lastError: string | null = null;

  constructor(
    readonly name: string,
    options: Record<string, unknown>,
  ) {
    this.options = { timeoutMs: 10_000, headers: {}, ...(options as Partial<RestOptions>) } as RestOptions;
  }

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {}

  async send(msg: OutgoingMessage): Promise<SendOutcome> {
    if (!this.ctx) throw new AdapterError('adapter not started', true);
    // Signed at each attempt: the envelope's issuedAt is when this attempt left, so the department's window check holds.
    const jws = await this.ctx.signer.json(msg);
    let res: Response;
    try {
      res = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          ...this.options.headers,
          'content-type': 'application/jose',
          'message-id': msg.id,
          'x-pag-sender': msg.sender,
          'x-pag-kind': msg.kind,
        },
        body: jws,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await res.arrayBuffer(); // drain, so the connection can be reused
    } catch (e) {
      // fetch reports "fetch failed"; the cause (ECONNREFUSED, a TLS error, a timeout) is what an administrator needs.
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = (e as Error).name === 'TimeoutError' ? `timeout after ${this.options.timeoutMs} ms` : cause?.code ?? cause?.message ?? (e as Error).message;
      this.lastError = why;
      throw new AdapterError(`webhook unreachable: ${why}`, true);
    }
    if (res.ok) {
      this.lastError = null;
      return { status: 'delivered', receipt: res.headers.get('message-id') ?? undefined };
    }
    this.lastError = `HTTP ${res.status}`;
    // A 4xx other than timeout/rate limiting means the department rejected this message; resending the same bytes will not help.
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    this.ctx?.logger.warn({ adapter: this.name, status: res.status, messageId: msg.id }, 'webhook refused message');
    throw new AdapterError(`webhook answered HTTP ${res.status}`, retryable);
  }

  async health(): Promise<AdapterHealth> {
    return this.lastError ? { ok: false, detail: `last delivery failed: ${this.lastError}` } : { ok: true, detail: `webhook ${new URL(this.options.url).host}` };
  }
}

export const createRestAdapter = (name: string, options: Record<string, unknown>): RestAdapter => new RestAdapter(name, options);
