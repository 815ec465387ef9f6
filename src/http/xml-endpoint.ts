// POST /xml/messages: departments' signed opinions, receipts and permit reports as XML documents, answered with a result document.
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { InboundResult } from '../../adapters/adapter.js';
import { GatewayError } from '../domain/errors.js';
import type { Gateway } from '../gateway.js';
import { httpChannel } from './auth.js';
import { unreadableBody } from './errors.js';
import { readIncoming, resultDocument } from '../xml/approval.js';
import { XML_LIMITS } from '../xml/read.js';

export const XML_PATH = '/xml/messages';

const XML_TYPES = /^(application|text)\/xml\s*(;|$)/i;

const refusal = (e: GatewayError): InboundResult => ({ ok: false, code: e.code, httpStatus: e.status, message: e.message, retryable: e.retryable });

function answer(res: Response, r: InboundResult): void {
  res.status(r.ok ? 200 : r.httpStatus).type('application/xml; charset=utf-8').send(resultDocument(r));
}

/** Mounts the endpoint; call before any other body parser so that it reads its own bodies with its own limit. */
export function mountXmlEndpoint(app: express.Express, gw: Gateway, log: Logger): void {
  const router = express.Router();
  // Any media type is read as text up to the limit, so nothing reaches the parser unbounded; the type is checked after.
  router.post(XML_PATH, express.text({ type: () => true, limit: XML_LIMITS.maxBytes }), async (req, res) => {
    const type = req.headers['content-type'] ?? '';
    if (!XML_TYPES.test(type)) return answer(res, refusal(new GatewayError('UNSUPPORTED_MEDIA_TYPE', { expected: 'application/xml or text/xml' })));
    const body = typeof req.body === 'string' ? req.body : '';
    try {
      // Only a document of the XSD's form reaches the signature check; anything else is malformed, not a forgery.
      readIncoming(body);
    } catch (e) {
      if (e instanceof GatewayError) return answer(res, refusal(e));
      throw e;
    }
    answer(res, await gw.inbound.receive({ format: 'xmldsig', raw: body }, httpChannel(req, 'xml')));
  });
  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    let e: GatewayError;
    if (err instanceof GatewayError) e = err;
    else if (err?.type === 'entity.too.large') e = new GatewayError('XML_LIMIT_EXCEEDED', { reason: `the document is larger than ${XML_LIMITS.maxBytes} bytes` });
    else if (err?.type === 'charset.unsupported' || err?.type === 'encoding.unsupported' || err?.type === 'request.aborted' || unreadableBody(err)) e = new GatewayError('MALFORMED_XML', { reason: 'unreadable body' });
    else {
      const ref = randomUUID();
      log.error({ ref, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'XML endpoint failed');
      e = new GatewayError('INTERNAL', { ref });
    }
    if (!res.headersSent) answer(res, refusal(e));
  };
  router.use(XML_PATH, errors);
  app.use(router);
}
