// Renders every failure as {error: {code, message, details}} from the one catalogue; never a stack trace.
import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.js';

export const notFound: RequestHandler = (req, _res, next) => {
  next(new GatewayError('ROUTE_NOT_FOUND', { method: req.method, path: req.path }));
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    let e: GatewayError;
    if (err instanceof GatewayError) e = err;
    else if (err?.type === 'entity.parse.failed') e = new GatewayError('MALFORMED_JSON');
    else if (err?.type === 'entity.too.large') e = new GatewayError('BODY_TOO_LARGE', { limit: err.limit });
    else if (err?.type === 'charset.unsupported' || err?.type === 'encoding.unsupported') e = new GatewayError('UNSUPPORTED_MEDIA_TYPE', { expected: 'application/json in UTF-8' });
    else {
      const ref = randomUUID();
      log.error({ ref, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unhandled error');
      e = new GatewayError('INTERNAL', { ref });
    }
    if (res.headersSent) return;
    if (e.code === 'LOGIN_RATE_LIMITED' && typeof e.details.seconds === 'number') res.setHeader('retry-after', String(e.details.seconds));
    res.status(e.status).json({ error: e.toJSON() });
  };
}
