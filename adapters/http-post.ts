// One department delivery over HTTP POST, shared by the REST and XML adapters: a 2xx acknowledges, the rest is classified.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import { clientTlsOptions, type ClientTlsFiles } from '../src/trust/tls.js';
import { AdapterError, type AdapterHealth, type SendOutcome } from './adapter.js';

/** Settings both HTTP adapters take (schemas/adapters/rest.schema.json and xml.schema.json). */
export interface HttpPostOptions {
  url: string;
  timeoutMs: number;
  headers: Record<string, string>;
  /** HTTPS: the CA to trust for the department's server, and this gateway's client certificate for mutual TLS. */
  tls?: ClientTlsFiles;
}

/** Posts messages to one URL and remembers the last failure for health. */
export class HttpDelivery {
  private lastError: string | null = null;
  private readonly url: URL;
  private agent: HttpAgent | HttpsAgent | null = null;
  private setupError: string | null = null;

  constructor(
    readonly options: HttpPostOptions,
    /** How messages and logs name the peer: "webhook", "XML endpoint". */
    private readonly peer: string,
  ) {
    this.url = new URL(options.url);
  }

  /**
   * Builds the connection pool; TLS files are read here, at the adapter's start, so a missing file shows in its health
   * and its errors rather than stopping the gateway. Keep-alive: one connection carries many messages.
   */
  open(certsDir: string): void {
    try {
      this.agent = this.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, ...clientTlsOptions(certsDir, this.options.tls ?? {}) }) : new HttpAgent({ keepAlive: true });
      this.setupError = null;
    } catch (e) {
      this.agent = null;
      this.setupError = `TLS settings unusable: ${(e as Error).message}`;
    }
  }

  close(): void {
    this.agent?.destroy();
    this.agent = null;
  }

  async post(messageId: string, headers: Record<string, string>, body: string, log: Logger | undefined, adapter: string): Promise<SendOutcome> {
    // Retryable: an administrator can put the missing file in place, and the message then goes.
    if (this.setupError) throw new AdapterError(`${this.peer} ${this.setupError}`, true);
    if (!this.agent) throw new AdapterError('adapter not started', true);
    let res: { status: number; messageId: string | undefined };
    try {
      res = await this.send({ ...this.options.headers, ...headers, 'message-id': messageId, 'content-length': String(Buffer.byteLength(body)) }, body);
    } catch (e) {
      // The cause (ECONNREFUSED, a TLS error such as an unknown CA, a timeout) is what an administrator needs.
      const err = e as NodeJS.ErrnoException;
      const why = err.name === 'AbortError' || err.name === 'TimeoutError' ? `timeout after ${this.options.timeoutMs} ms` : err.code ?? err.message;
      this.lastError = why;
      throw new AdapterError(`${this.peer} unreachable: ${why}`, true);
    }
    if (res.status >= 200 && res.status < 300) {
      this.lastError = null;
      return { status: 'delivered', receipt: res.messageId };
    }
    this.lastError = `HTTP ${res.status}`;
    // A 4xx other than timeout or rate limiting means the department rejected this message; the same bytes again will not help.
    // Redirects are not followed (a signed message goes where it was configured to go), and count as refusals.
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    log?.warn({ adapter, status: res.status, messageId }, `${this.peer} refused message`);
    throw new AdapterError(`${this.peer} answered HTTP ${res.status}`, retryable);
  }

  private send(headers: Record<string, string>, body: string): Promise<{ status: number; messageId: string | undefined }> {
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(this.url, { method: 'POST', headers, agent: this.agent!, signal: AbortSignal.timeout(this.options.timeoutMs) }, (res) => {
        const id = res.headers['message-id'];
        // Drained, so the connection can carry the next message.
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, messageId: typeof id === 'string' ? id : undefined }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  health(): AdapterHealth {
    if (this.setupError) return { ok: false, detail: this.setupError };
    return this.lastError ? { ok: false, detail: `last delivery failed: ${this.lastError}` } : { ok: true, detail: `${this.peer} ${this.url.host}` };
  }
}
