// A simulated department with its own SOAP service (schemas/soap/department-sample.wsdl) that checks the gateway's signed notices and answers, signed, through the gateway's SOAP service.
import express from 'express';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import * as soap from 'soap';
import { SCHEMAS_DIR } from '../../src/paths.js';
import { APPROVAL_NS, type ReadOutgoing } from '../../src/xml/approval.js';
import { readXml } from '../../src/xml/read.js';
import { Answers, type DepartmentBehaviour, type GatewayAccess } from '../xml/sim.js';
import type { InboundResult, IncomingMessage } from '../adapter.js';

export const DEPARTMENT_WSDL = join(SCHEMAS_DIR, 'soap/department-sample.wsdl');

/** The SOAP adapter settings that fit the sample department WSDL (its operation names and fields). */
export const SAMPLE_MAPPING = {
  operation: 'ReceiveCase',
  operations: { cancellation: 'CancelCase' },
  fields: { noticeId: 'messageId', caseNo: 'caseId', fromSystem: 'sender', toDept: 'receiver', issued: 'issuedAt', enterpriseName: 'payload.enterpriseName', scope: 'payload.businessScope', reason: 'payload.reason', signedNotice: 'signedDocument' },
};

const OPERATION_OF: Record<IncomingMessage['kind'], string> = { opinion: 'SubmitOpinion', receipt: 'AcknowledgeNotification', permit: 'ReportPermit', inspection: 'ReportInspection' };

/** The gateway's answer as an InboundResult: the operation's output, or the catalogue code of its fault. */
function fromFault(e: unknown): InboundResult {
  const fault = (e as { root?: { Envelope?: { Body?: { Fault?: { detail?: { GatewayFault?: Record<string, string> } } } } } }).root?.Envelope?.Body?.Fault;
  const g = fault?.detail?.GatewayFault;
  if (!g) throw e;
  return { ok: false, code: String(g.code), message: String(g.message), retryable: String(g.retryable) === 'true', httpStatus: 500 };
}

/** Reads the catalogue code out of a fault envelope the gateway wrote (for raw, deliberately malformed calls). */
export function faultOf(xml: string): InboundResult {
  const env = readXml(xml);
  const fault = env.children.find((c) => c.name === 'Body')?.children.find((c) => c.name === 'Fault');
  const g = fault?.children.find((c) => c.name === 'detail')?.children.find((c) => c.name === 'GatewayFault' && c.ns === APPROVAL_NS);
  if (!g) throw new Error('not a gateway fault');
  const text = (n: string) => g.children.find((c) => c.name === n)?.text ?? '';
  return { ok: false, code: text('code'), message: text('message'), retryable: text('retryable') === 'true', httpStatus: 500 };
}

/** A client generated from the gateway's served WSDL, calling with the reviewer's bearer token. */
export async function gatewayClient(base: string): Promise<soap.Client> {
  return soap.createClientAsync(`${base}/soap/approval?wsdl`, { disableCache: true });
}

/** Calls one operation of the gateway's SOAP service; a fault comes back as a refusal. */
export async function callGateway(client: soap.Client, operation: string, args: Record<string, unknown>, token: string | null): Promise<InboundResult | Record<string, unknown>> {
  const fn = (client as unknown as Record<string, (a: unknown, o: unknown, h: unknown) => Promise<unknown[]>>)[`${operation}Async`]!;
  try {
    const [result] = await fn.call(client, args, {}, token ? { Authorization: `Bearer ${token}` } : {});
    return result as Record<string, unknown>;
  } catch (e) {
    return fromFault(e);
  }
}

export interface SoapDepartment {
  /** The department's WSDL URL (its service address is this server). */
  wsdl: string;
  /** The service address (the sample WSDL names a placeholder; configure it as the adapter's endpoint). */
  endpoint: string;
  behaviour: DepartmentBehaviour;
  /** Operation inputs received, as the soap package read them, with the HTTP headers and the verified signed document. */
  received: { operation: string; args: Record<string, unknown>; headers: Record<string, unknown>; doc: ReadOutgoing; clientCertificate: string | null }[];
  /** Calls refused because their signed notice was missing or did not verify (answered with a Client fault). */
  badSignatures: { operation: string; code: string }[];
  answers: Answers;
  close(): Promise<void>;
}

/** Starts a simulated SOAP department on loopback (WSDL at /department?wsdl) that answers through the gateway's /soap/approval. */
export async function startSoapDepartment(access: GatewayAccess, behaviour: DepartmentBehaviour = {}, tls?: ServerOptions): Promise<SoapDepartment> {
  let client: Promise<soap.Client> | null = null;
  const answers: Answers = new Answers(access, async (msg, token) => {
    if (typeof msg === 'string') {
      const res = await fetch(`${access.base}/soap/approval`, { method: 'POST', headers: { 'content-type': 'text/xml', authorization: `Bearer ${token}` }, body: msg });
      const text = await res.text();
      try {
        return faultOf(text);
      } catch {
        return text;
      }
    }
    client ??= gatewayClient(access.base);
    // The same signed document as over XML over HTTP, carried as text.
    const document = await answers.signed(msg, (m) => answers.signer.xml(m));
    const r = await callGateway(await client, OPERATION_OF[msg.kind], { document }, token);
    if ('ok' in r) return r as InboundResult;
    return { ok: true, duplicate: String(r.duplicate) === 'true', caseId: String(r.caseId), caseStatus: String(r.caseStatus) };
  });
  const dep: SoapDepartment = { wsdl: '', endpoint: '', behaviour, received: [], badSignatures: [], answers, close: async () => undefined };
  let failures = 0;
  const fault = (code: string, text: string) => ({ Fault: { faultcode: code, faultstring: text, statusCode: 500 } });
  const take = (operation: string) => (args: Record<string, unknown>, _cb: unknown, _h: unknown, req: express.Request) => {
    const b = dep.behaviour;
    if (b.refuse) throw fault('soap:Client', 'notice rejected');
    if ((b.failTimes ?? 0) > failures) {
      failures += 1;
      throw fault('soap:Server', 'department system busy');
    }
    let opened: { doc: ReadOutgoing; hash: string };
    try {
      if (typeof args.signedNotice !== 'string') throw Object.assign(new Error('unsigned'), { code: 'MESSAGE_UNSIGNED' });
      opened = answers.signer.openXml(args.signedNotice);
      // The mapped fields are a convenience; the signed document decides, and they must agree with it.
      if (opened.doc.messageId !== String(args.noticeId)) throw Object.assign(new Error('mismatch'), { code: 'SIGNATURE_INVALID' });
    } catch (e) {
      const code = String((e as { code?: string }).code ?? 'SIGNATURE_INVALID');
      dep.badSignatures.push({ operation, code });
      throw fault('soap:Client', `${code}: the notice is not signed by the gateway`);
    }
    dep.received.push({ operation, args, headers: req.headers, doc: opened.doc, clientCertificate: (req.socket as TLSSocket).getPeerX509Certificate?.()?.subject ?? null });
    if (operation === 'ReceiveCase') answers.schedule(b, { messageId: opened.doc.messageId, caseId: String(opened.doc.caseId), hash: opened.hash });
    return { receiptNo: `rcpt-${String(args.noticeId)}` };
  };
  const app = express();
  const router = express.Router();
  // A department answering with something that is not SOAP at all.
  router.post('/department', (_req, res, next) => (dep.behaviour.malformedResponse ? res.type('text/xml').send('<soap:Envelope') : next()));
  soap.listen(router as unknown as express.Express, {
    path: '/department',
    services: { DepartmentService: { DepartmentPort: { ReceiveCase: take('ReceiveCase'), CancelCase: take('CancelCase') } } },
    xml: readFileSync(DEPARTMENT_WSDL, 'utf8'),
    suppressStack: true,
  });
  app.use(router);
  // With `tls`, an HTTPS service (requiring client certificates if the options say so), as a department behind mutual TLS.
  const server: Server = tls ? createHttpsServer(tls, app) : createHttpServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  dep.endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/department`;
  dep.wsdl = `${dep.endpoint}?wsdl`;
  dep.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return dep;
}
