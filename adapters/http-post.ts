// One department delivery over HTTP POST, shared by the REST and XML adapters: a 2xx acknowledges, the rest is classified.
import type { Logger } from 'pino';
import { AdapterError, type AdapterHealth, type SendOutcome } from './adapter.js';

/** Settings both HTTP adapters take (schemas/adapters/rest.schema.json and xml.schema.json). */
export interface HttpPostOptions {
  url: string;
  timeoutMs: number;
  headers: Record<string, string>;
}

/** Posts messages to one URL and remembers the last failure for health. */
export class HttpDelivery {
  private lastError: string | null = null;

  constructor(
    readonly options: HttpPostOptions,
    /** How messages and logs name the peer: "webhook", "XML endpoint". */
    private readonly peer: string,
  ) {}

  async post(messageId: string, headers: Record<string, string>, body: string, log: Logger | undefined, adapter: string): Promise<SendOutcome> {
    let res: Response;
    try {
      res = await fetch(this.options.url, {
        method: 'POST',
        headers: { ...this.options.headers, ...headers, 'message-id': messageId },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await res.arrayBuffer(); // drain, so the connection can be reused
    } catch (e) {
      // fetch reports "fetch failed"; the cause (ECONNREFUSED, a TLS error, a timeout) is what an administrator needs.
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = (e as Error).name === 'TimeoutError' ? `timeout after ${this.options.timeoutMs} ms` : cause?.code ?? cause?.message ?? (e as Error).message;
      this.lastError = why;
      throw new AdapterError(`${this.peer} unreachable: ${why}`, true);
    }
    if (res.ok) {
      this.lastError = null;
      return { status: 'delivered', receipt: res.headers.get('message-id') ?? undefined };
    }
    this.lastError = `HTTP ${res.status}`;
    // A 4xx other than timeout or rate limiting means the department rejected this message; the same bytes again will not help.
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    log?.warn({ adapter, status: res.status, messageId }, `${this.peer} refused message`);
    throw new AdapterError(`${this.peer} answered HTTP ${res.status}`, retryable);
  }

  health(): AdapterHealth {
    return this.lastError ? { ok: false, detail: `last delivery failed: ${this.lastError}` } : { ok: true, detail: `${this.peer} ${new URL(this.options.url).host}` };
  }
}
