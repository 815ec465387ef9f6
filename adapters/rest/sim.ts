// A simulated department behind a JSON webhook that checks the gateway's signature and answers, signed, through the gateway's REST API as its own reviewer.
import { createServer, type Server } from 'node:http';
import type { InboundResult, IncomingMessage } from '../adapter.js';
import { Answers, type DepartmentBehaviour, type GatewayAccess } from '../xml/sim.js';

/** The XML and SOAP departments' behaviours (including `twice`: every answer sent again with the same message id). */
export type RestBehaviour = DepartmentBehaviour;

/** A department's webhook on loopback. */
export interface RestDepartment {
  url: string;
  behaviour: RestBehaviour;
  /** Webhook messages received (the verified envelope, as the gateway's signature covers it), with their headers and the raw JWS. */
  received: { body: Record<string, any>; headers: Record<string, unknown>; raw: string }[];
  /** Webhook bodies refused because the gateway's signature did not verify (answered 401). */
  badSignatures: { raw: string; code: string }[];
  answers: Answers;
  /** Answers posted to the gateway, repeats included. */
  posts: number;
  close(): Promise<void>;
}

/** The REST API's answer as an InboundResult: the case's status, or the catalogue code of the refusal. */
async function asResult(res: Response): Promise<InboundResult> {
  const body = (await res.json().catch(() => null)) as { id?: string; status?: string; error?: { code: string; message: string } } | null;
  if (res.ok && body?.id) return { ok: true, duplicate: false, caseId: body.id, caseStatus: String(body.status) };
  return { ok: false, code: body?.error?.code ?? `HTTP_${res.status}`, message: body?.error?.message ?? '', httpStatus: res.status, retryable: res.status >= 500 };
}

/** Starts a department receiving notifications at http://127.0.0.1:<port>/notify; it answers with POST /api/cases/{id}/reviews/... */
export async function startRestDepartment(access: GatewayAccess, behaviour: RestBehaviour = {}): Promise<RestDepartment> {
  const received: RestDepartment['received'] = [];
  let failures = 0;
  const dep: RestDepartment = { url: '', behaviour, received, badSignatures: [], answers: null as unknown as Answers, posts: 0, close: async () => undefined };
  const post = async (msg: IncomingMessage, token: string): Promise<InboundResult> => {
    const path =
      msg.kind === 'opinion'
        ? `/api/cases/${msg.caseId}/reviews/${msg.departmentId}/opinion`
        : msg.kind === 'permit'
          ? `/api/cases/${msg.caseId}/permits/${msg.departmentId}`
          : null;
    // Over a webhook the 2xx answer is the receipt; the REST API takes no separate one.
    if (!path) throw new Error(`a REST department sends no ${msg.kind}`);
    // Signed once: the repeat of `twice` is the same message, byte for byte.
    const body = await dep.answers.signed(msg, (m) => dep.answers.signer.jws(m));
    dep.posts++;
    return asResult(await fetch(`${access.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/jose', authorization: `Bearer ${token}` }, body }));
  };
  dep.answers = new Answers(access, async (msg, token) => {
    if (typeof msg === 'string') {
      const res = await fetch(`${access.base}/api/cases/x/reviews/${access.departmentId}/opinion`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: msg });
      return asResult(res);
    }
    return post(msg, token);
  });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const b = dep.behaviour;
      if (b.refuse) return void res.writeHead(422, { 'content-type': 'application/json' }).end('{"error":"refused"}');
      if ((b.failTimes ?? 0) > failures) {
        failures += 1;
        return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"busy"}');
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      void dep.answers.signer.openJson(raw).then(
        ({ envelope, hash }) => {
          // The webhook's fields as the gateway signed them: the envelope with its body as the payload.
          const body: Record<string, any> = { messageId: envelope.messageId, kind: envelope.kind, sender: envelope.sender, receiver: envelope.receiver, caseId: envelope.caseId, issuedAt: envelope.issuedAt, payload: envelope.body };
          received.push({ body, headers: req.headers, raw });
          res.writeHead(200, { 'content-type': 'application/json', 'message-id': `ack-${String(body.messageId)}` }).end(b.malformedResponse ? 'not json' : '{"ok":true}');
          // The answer follows the acknowledgement, as a department's desk would work.
          if (body.kind === 'notification' && typeof body.caseId === 'string') dep.answers.schedule({ ...b, receipt: false }, { messageId: String(body.messageId), caseId: body.caseId, hash });
        },
        (e: unknown) => {
          // Not signed by the gateway's key, or not for this department: refused, and a resend of the same bytes will not help.
          const code = String((e as { code?: string }).code ?? 'SIGNATURE_INVALID');
          dep.badSignatures.push({ raw, code });
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: code }));
        },
      );
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
