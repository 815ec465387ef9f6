// The SOAP service departments call (schemas/soap/approval.wsdl at /soap/approval): hardened pre-check, then the soap package's server; signed documents go to the inbound service.
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import * as soap from 'soap';
import type { Channel, IncomingKind } from '../../adapters/adapter.js';
import { GatewayError } from '../domain/errors.js';
import type { Gateway } from '../gateway.js';
import { SCHEMAS_DIR } from '../paths.js';
import { APPROVAL_NS, caseStatusFields, IDENTIFIER, readIncoming } from '../xml/approval.js';
import { readXml, sequence, XML_LIMITS, type XmlElement } from '../xml/read.js';
import { httpChannel } from './auth.js';
import { unreadableBody } from './errors.js';

export const SOAP_PATH = '/soap/approval';
export const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
export const WSDL_FILE = join(SCHEMAS_DIR, 'soap/approval.wsdl');

/** Operations and the incoming kind each carries (GetCaseStatus carries none). */
const OPERATIONS: Record<string, IncomingKind | null> = { SubmitOpinion: 'opinion', AcknowledgeNotification: 'receipt', ReportPermit: 'permit', ReportInspection: 'inspection', GetCaseStatus: null };

/** What the pre-check read from the envelope; the service handlers use it rather than the soap package's looser parse. */
type Call = { operation: string; kind?: IncomingKind; document?: string; caseId?: string };

/** A refusal as a SOAP 1.1 fault: faultcode Client or Server (retryable), the catalogue code in faultstring and detail. */
interface Refusal {
  code: string;
  message: string;
  retryable: boolean;
}

function faultObject(r: Refusal) {
  return {
    Fault: {
      faultcode: r.retryable ? 'soap:Server' : 'soap:Client',
      faultstring: `${r.code}: ${r.message}`,
      detail: { GatewayFault: { attributes: { xmlns: APPROVAL_NS }, code: r.code, message: r.message, retryable: String(r.retryable) } },
      // SOAP 1.1 over HTTP (and WS-I Basic Profile R1126) answer every fault with 500.
      statusCode: 500,
    },
  };
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A fault written before the soap package saw the request (the pre-check refused it); same shape as the package writes. */
function faultEnvelope(r: Refusal): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP_ENV}"><soap:Body><soap:Fault>` +
    `<faultcode>${r.retryable ? 'soap:Server' : 'soap:Client'}</faultcode><faultstring>${escape(`${r.code}: ${r.message}`)}</faultstring>` +
    `<detail><GatewayFault xmlns="${APPROVAL_NS}"><code>${escape(r.code)}</code><message>${escape(r.message)}</message><retryable>${r.retryable}</retryable></GatewayFault></detail>` +
    `</soap:Fault></soap:Body></soap:Envelope>`
  );
}

const refusalOf = (e: GatewayError): Refusal => ({ code: e.code, message: e.message, retryable: e.retryable });

/** Reads and checks the envelope with the hardened reader: size, depth, no DOCTYPE, one known operation, its fields. */
function precheck(body: string): Call {
  const env = readXml(body, XML_LIMITS);
  const bad = (reason: string) => new GatewayError('MALFORMED_XML', { reason });
  if (env.name !== 'Envelope' || env.ns !== SOAP_ENV) throw bad('the root element must be a SOAP 1.1 Envelope');
  // No element of the envelope mixes text and elements (none does in the WSDL): the soap package's parser threw a
  // TypeError on text beside an element (in a Header block, say) and answered its message as a bare 500.
  const mixed = (el: XmlElement): XmlElement | undefined => (el.text !== '' && el.children.length > 0 ? el : el.children.map(mixed).find((m) => m));
  const m = mixed(env);
  if (m) throw bad(`element ${m.name} mixes text and elements`);
  const parts = env.children;
  const bodyEl = parts[parts.length - 1];
  if (!bodyEl || bodyEl.name !== 'Body' || bodyEl.ns !== SOAP_ENV || parts.length > 2 || (parts.length === 2 && parts[0]!.name !== 'Header')) {
    throw bad('an Envelope holds an optional Header and one Body');
  }
  if (bodyEl.children.length !== 1) throw bad('the Body holds exactly one operation element');
  const op = bodyEl.children[0]!;
  if (op.ns !== APPROVAL_NS || !(op.name in OPERATIONS)) throw bad(`unknown operation ${op.name}`);
  const kind = OPERATIONS[op.name];
  if (kind === null) {
    const f = sequence(op, APPROVAL_NS, [{ name: 'caseId', required: true, pattern: IDENTIFIER }]);
    return { operation: op.name, caseId: String(f.caseId) };
  }
  // The signed document travels as text: its signature is checked on the bytes the department signed.
  const document = String(sequence(op, APPROVAL_NS, [{ name: 'document', required: true }]).document);
  readIncoming(document);
  return { operation: op.name, kind: kind!, document };
}

/** The WSDL as served: its address is where the client fetched it from, so generated clients call this gateway. */
function wsdlFor(req: Request, wsdl: string): string {
  const host = req.get('host') ?? '';
  const base = /^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? `${req.protocol}://${host}` : 'http://localhost';
  return wsdl.replace(/(<soap:address location=")[^"]*(")/, `$1${base}${SOAP_PATH}$2`);
}

/** Mounts the SOAP service; call before any other body parser so that it reads its own bodies with its own limit. */
export function mountSoapEndpoint(app: express.Express, gw: Gateway, log: Logger): void {
  const wsdl = readFileSync(WSDL_FILE, 'utf8');
  const router = express.Router();
  const send = (res: Response, r: Refusal) => res.status(500).type('text/xml; charset=utf-8').send(faultEnvelope(r));

  router.get(SOAP_PATH, (req, res, next) => {
    if (!Object.keys(req.query).some((k) => k.toLowerCase() === 'wsdl')) return next();
    res.type('application/xml; charset=utf-8').send(wsdlFor(req, wsdl));
  });
  // Every body is read as text up to the limit whatever its media type, so the soap package never reads an unbounded stream.
  const check: RequestHandler = (req, res, next) => {
    if (typeof req.body !== 'string' || req.body === '') return send(res, refusalOf(new GatewayError('MALFORMED_XML', { reason: 'the request has no SOAP envelope' })));
    try {
      res.locals.soapCall = precheck(req.body);
    } catch (e) {
      if (e instanceof GatewayError) return send(res, refusalOf(e));
      return next(e);
    }
    next();
  };
  // The soap package answers every method on its path, other than POST, with an empty 200: leave those to the app's
  // ROUTE_NOT_FOUND (GET ?wsdl is answered above).
  router.all(SOAP_PATH, (req, _res, next) => next(req.method === 'POST' ? undefined : 'router'));
  router.post(SOAP_PATH, express.text({ type: () => true, limit: XML_LIMITS.maxBytes }), check);
  router.use(SOAP_PATH, ((err, _req, res, _next) => {
    let e: GatewayError;
    if (err?.type === 'entity.too.large') e = new GatewayError('XML_LIMIT_EXCEEDED', { reason: `the document is larger than ${XML_LIMITS.maxBytes} bytes` });
    else if (err?.type === 'charset.unsupported' || err?.type === 'encoding.unsupported' || err?.type === 'request.aborted' || unreadableBody(err)) e = new GatewayError('MALFORMED_XML', { reason: 'unreadable body' });
    else {
      const ref = randomUUID();
      log.error({ ref, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'SOAP endpoint failed');
      e = new GatewayError('INTERNAL', { ref });
    }
    if (!res.headersSent) send(res, refusalOf(e));
  }) as ErrorRequestHandler);

  /** Runs one operation; every failure becomes a fault with a catalogue code, and an unexpected one is logged, never echoed. */
  const operation = (run: (call: Call, channel: Channel) => Promise<Record<string, unknown>>) =>
    async (_args: unknown, _cb: unknown, _headers: unknown, req: Request, res: Response) => {
      try {
        return await run(res.locals.soapCall as Call, httpChannel(req, 'soap'));
      } catch (e) {
        if (e && typeof e === 'object' && 'Fault' in e) throw e;
        const ref = randomUUID();
        log.error({ ref, err: (e as Error).message, stack: (e as Error).stack }, 'SOAP operation failed');
        throw faultObject(refusalOf(new GatewayError('INTERNAL', { ref })));
      }
    };
  const accept = operation(async (call, channel) => {
    const r = await gw.inbound.receive({ format: 'xmldsig', raw: call.document! }, channel, { kind: call.kind });
    if (!r.ok) throw faultObject(r);
    return { duplicate: String(r.duplicate), caseId: r.caseId, caseStatus: r.caseStatus };
  });
  const services = {
    ApprovalService: {
      ApprovalPort: {
        SubmitOpinion: accept,
        AcknowledgeNotification: accept,
        ReportPermit: accept,
        ReportInspection: accept,
        GetCaseStatus: operation(async (call, channel) => {
          const r = await gw.inbound.caseStatus(call.caseId!, channel);
          if (!r.ok) throw faultObject(r);
          return caseStatusFields(r.view);
        }),
      },
    },
  };
  // A router (not the app) so that the route soap adds once the WSDL is ready sits here, ahead of the app's 404 handler.
  const server = soap.listen(router as unknown as express.Express, { path: SOAP_PATH, services, xml: wsdl, suppressStack: true });
  server.log = () => undefined;
  // Last line of defence: an error inside the soap package (not a fault of ours) is answered with its bare message as
  // text/500, and its XML parser's refusals as a fault without a catalogue code. Answer both as catalogued faults, and log
  // them. (_sendHttpResponse is the package's one writer of responses; should it be renamed, this does nothing and the
  // fuzz tests notice.)
  const writer = server as unknown as { _sendHttpResponse: (res: Response, status: number | undefined, result: unknown) => void };
  const sendHttp = writer._sendHttpResponse.bind(server);
  writer._sendHttpResponse = (res, status, result) => {
    const text = typeof result === 'string' ? result : '';
    const envelope = /^\s*(<\?xml[^>]*>\s*)?<([\w-]+:)?Envelope[\s>]/.test(text);
    const foreignFault = envelope && /<([\w-]+:)?Fault>/.test(text) && !text.includes('<GatewayFault');
    if (envelope && !foreignFault) return sendHttp(res, status, result);
    let e: GatewayError;
    if (foreignFault && text.includes('<faultstring>Invalid XML</faultstring>')) e = new GatewayError('MALFORMED_XML', { reason: 'the SOAP toolkit could not read the envelope' });
    else {
      const ref = randomUUID();
      log.error({ ref, err: String(result).slice(0, 500) }, 'SOAP package failed');
      e = new GatewayError('INTERNAL', { ref });
    }
    res.setHeader('content-type', 'text/xml; charset=utf-8');
    sendHttp(res, 500, faultEnvelope(refusalOf(e)));
  };
  app.use(router);
}
