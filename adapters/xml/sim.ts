// A simulated department that receives the gateway's XML documents over HTTP and answers through POST /xml/messages.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage as HttpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { CERTS_DIR, CONFIG_DIR } from '../../src/paths.js';
import { DepartmentSigner } from '../../src/trust/department.js';
import { KeyRegistry } from '../../src/trust/keys.js';
import { currentTotp } from '../../src/trust/totp.js';
import { readResult, type ReadOutgoing } from '../../src/xml/approval.js';
import type { IncomingMessage, InboundResult } from '../adapter.js';

/**
 * How a simulated department behaves. Delivery: `failTimes` answers with a server error (retryable) that many times,
 * `refuse` rejects every message (non-retryable), `malformedResponse` answers with something that is not the expected form.
 * Answer to a notification: `answer` is a decision sent `delayMs` after delivery (0: at once; a large delay answers late),
 * 'silent' never answers, 'manual' waits for `answerNow`; `malformedAnswer` sends a document that is not well-formed.
 */
export interface DepartmentBehaviour {
  failTimes?: number;
  refuse?: boolean;
  malformedResponse?: boolean;
  answer?: { decision: 'approve' | 'refuse' | 'extend'; reasons?: string; delayMs?: number } | 'silent' | 'manual';
  malformedAnswer?: boolean;
  /** Also acknowledge each notification with a receipt before answering. */
  receipt?: boolean;
  /** Send every answer a second time, the same message (same id, same signed bytes): the gateway must apply it once. */
  twice?: boolean;
}

/** Where and as whom a simulated department answers the gateway. */
export interface GatewayAccess {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  base: string;
  departmentId: string;
  /** A reviewer token of the department; by default the department's demo reviewer logs in (password and TOTP). */
  token?: () => Promise<string>;
  /** The key registry holding the department's signing key and the gateway's public keys; default: the package's certs/ (demo keys). */
  keys?: KeyRegistry;
  /** The gateway's id, the receiver of every answer; default: the one in config/default.json. */
  gatewayId?: string;
}

/** The department's signer: its own key for answers, the gateway's public keys for what it receives. */
export function departmentSigner(access: GatewayAccess): DepartmentSigner {
  const gatewayId = access.gatewayId ?? (JSON.parse(readFileSync(join(CONFIG_DIR, 'default.json'), 'utf8')) as { gateway: { id: string } }).gateway.id;
  return new DepartmentSigner(access.keys ?? new KeyRegistry(CERTS_DIR, false), access.departmentId, gatewayId);
}

/** Logs a demo reviewer in (POST /api/auth/login) with config/demo-users.json's password and the current TOTP code. */
export async function demoLogin(base: string, username: string): Promise<string> {
  const users = JSON.parse(readFileSync(join(CONFIG_DIR, 'demo-users.json'), 'utf8')) as { users: { username: string; password: string; totpSecret: string }[] };
  const u = users.users.find((x) => x.username === username);
  if (!u) throw new Error(`no demo user ${username}`);
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: u.password, otp: currentTotp(u.totpSecret) }),
  });
  if (res.status !== 200) throw new Error(`login ${username}: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/** Shared by the XML and SOAP departments: the token, the scheduled answers, and a way to wait until they are sent. */
export class Answers {
  private token: Promise<string> | null = null;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly waiting = new Map<string, () => Promise<unknown>>();
  /** Every answer sent and the gateway's reply. */
  readonly sent: { msg: IncomingMessage | string; result: InboundResult | string }[] = [];
  /** Signed bytes per message id: a message sent again is the same message, byte for byte (otherwise it would be a replay). */
  private readonly signedBytes = new Map<string, string>();
  /** The department's signer. */
  readonly signer: DepartmentSigner;

  constructor(
    private readonly access: GatewayAccess,
    private readonly transmit: (msg: IncomingMessage | string, token: string) => Promise<InboundResult | string>,
  ) {
    this.signer = departmentSigner(access);
  }

  /** The message signed once; every later send of the same message id reuses these bytes. */
  async signed(msg: IncomingMessage, sign: (m: IncomingMessage) => string | Promise<string>): Promise<string> {
    let bytes = this.signedBytes.get(msg.messageId);
    if (bytes === undefined) {
      bytes = await sign(msg);
      // Bounded: a long demo must not grow without limit.
      if (this.signedBytes.size > 10_000) this.signedBytes.clear();
      this.signedBytes.set(msg.messageId, bytes);
    }
    return bytes;
  }

  auth(): Promise<string> {
    this.token ??= (this.access.token ?? (() => demoLogin(this.access.base, `reviewer-${this.access.departmentId}`)))().catch((e: unknown) => {
      this.token = null;
      throw e;
    });
    return this.token;
  }

  /** Sends one message now (or a malformed document, given as a string). */
  async send(msg: IncomingMessage | string): Promise<InboundResult | string> {
    const result = await this.transmit(msg, await this.auth());
    this.sent.push({ msg, result });
    return result;
  }

  /** What the department does after it took a notification: maybe a receipt, then its answer as the behaviour says. */
  schedule(b: DepartmentBehaviour, notice: { messageId: string; caseId: string; hash?: string }): void {
    const dep = this.access.departmentId;
    const quote = notice.hash ? { requestHash: notice.hash } : {};
    const respond = async () => {
      if (b.malformedAnswer) return this.send(`<opinion xmlns="urn:pag:approval:1"><messageId>${randomUUID()}</messageId><caseId>${notice.caseId}</opinion>`);
      const a = b.answer;
      if (!a || typeof a === 'string') return undefined;
      // The answer quotes the notification it answers (its hash as received).
      const msg: IncomingMessage = { messageId: randomUUID(), kind: 'opinion', departmentId: dep, caseId: notice.caseId, decision: a.decision, reasons: a.reasons ?? null, ...quote };
      // An answer sent at once can overtake the gateway's record of the delivery; like a real department, try again shortly.
      for (let i = 0; ; i++) {
        const r = await this.send(msg);
        if (typeof r === 'string' || r.ok || r.code !== 'REVIEW_NOT_DELIVERED' || i >= 20) return b.twice ? this.send(msg) : r;
        await new Promise((done) => setTimeout(done, 50).unref());
      }
    };
    const run = async () => {
      if (b.receipt) await this.send({ messageId: randomUUID(), kind: 'receipt', departmentId: dep, caseId: notice.caseId, ackOf: notice.messageId, ...quote });
      if (b.answer === 'manual') {
        this.waiting.set(notice.caseId, respond);
        return;
      }
      const delay = typeof b.answer === 'object' ? (b.answer.delayMs ?? 0) : 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay).unref());
      await respond();
    };
    const p: Promise<unknown> = run()
      .catch(() => undefined) // a failed answer is visible in the gateway (no opinion) and in `sent`
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Sends the answer a 'manual' department holds for a case, with the given decision (twice, the same message, if asked). */
  async answerNow(caseId: string, decision: 'approve' | 'refuse' | 'extend', reasons?: string, messageId: string = randomUUID(), twice = false): Promise<InboundResult | string> {
    this.waiting.delete(caseId);
    const msg: IncomingMessage = { messageId, kind: 'opinion', departmentId: this.access.departmentId, caseId, decision, reasons: reasons ?? null };
    const first = await this.send(msg);
    return twice ? this.send(msg) : first;
  }

  /** Resolves when every scheduled answer has been sent. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}

const readBody = (req: HttpRequest, limit: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

/** A department's XML endpoint on loopback. */
export interface XmlDepartment {
  url: string;
  behaviour: DepartmentBehaviour;
  /** Documents received, as read with the hardened reader from what the gateway's signature covers, with their HTTP headers and the raw document. */
  received: { doc: ReadOutgoing; headers: Record<string, unknown>; raw: string }[];
  /** Documents refused because the gateway's signature did not verify (the department answered 401). */
  badSignatures: { raw: string; code: string }[];
  answers: Answers;
  close(): Promise<void>;
}

/** Starts a simulated department receiving documents at http://127.0.0.1:<port>/notify and answering over POST /xml/messages. */
export async function startXmlDepartment(access: GatewayAccess, behaviour: DepartmentBehaviour = {}): Promise<XmlDepartment> {
  const received: XmlDepartment['received'] = [];
  let failures = 0;
  const answers: Answers = new Answers(access, async (msg, token) => {
    const res = await fetch(`${access.base}/xml/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml', authorization: `Bearer ${token}` },
      body: typeof msg === 'string' ? msg : await answers.signed(msg, (m) => answers.signer.xml(m)),
    });
    const text = await res.text();
    try {
      return readResult(text);
    } catch {
      return text;
    }
  });
  const dep: XmlDepartment = { url: '', behaviour, received, badSignatures: [], answers, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req, 1_048_576);
      const b = dep.behaviour;
      if (b.refuse) return res.writeHead(422, { 'content-type': 'text/plain' }).end('refused');
      if ((b.failTimes ?? 0) > failures) {
        failures += 1;
        return res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
      }
      let doc: ReadOutgoing;
      let hash: string;
      try {
        ({ doc, hash } = answers.signer.openXml(body));
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (!code || code === 'MALFORMED_XML' || code === 'XML_LIMIT_EXCEEDED') return res.writeHead(400, { 'content-type': 'text/plain' }).end('not a gateway document');
        // A document the gateway's key did not sign is refused: retrying the same bytes will not help.
        dep.badSignatures.push({ raw: body, code });
        return res.writeHead(401, { 'content-type': 'text/plain' }).end(code);
      }
      received.push({ doc, headers: req.headers, raw: body });
      if (b.malformedResponse) return res.writeHead(200, { 'content-type': 'application/xml' }).end('<ok');
      res.writeHead(200, { 'content-type': 'application/xml', 'message-id': `rcpt-${doc.messageId}` }).end('<received xmlns="urn:pag:approval:1"/>');
      if (doc.kind === 'notification' && doc.caseId) answers.schedule(b, { messageId: doc.messageId, caseId: doc.caseId, hash });
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  dep.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/notify`;
  dep.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return dep;
}
