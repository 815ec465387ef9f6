// Renders every failure as {error: {code, message, details}} from the one catalogue; never a stack trace.
import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { GatewayError } from '../domain/errors.js';

export const notFound: RequestHandler = (req, _res, next) => {
  next(new GatewayError('ROUTE_NOT_FOUND', { method: req.method, path: req.path }));
};

/**
 * An error the body parsers raise for a body they cannot read (a corrupt gzip or deflate stream, a length that does not
 * match): http-errors marks it with a 4xx status and expose. Without this it was answered INTERNAL (500).
 */
export const unreadableBody = (err: unknown): boolean => {
  const e = err as { status?: unknown; expose?: unknown } | null;
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true;
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: GatewayError;
    if (err instanceof GatewayError) e = err;
    // A path parameter that is not valid percent-encoding (/api/cases/%E0): the router throws a URIError marked 400.
    else if (err instanceof URIError && (err as { status?: number }).status === 400) e = new GatewayError('MALFORMED_PATH', { path: req.originalUrl.split('?')[0]!.slice(0, 200) });
    else if (err?.type === 'entity.parse.failed') e = new GatewayError('MALFORMED_JSON');
    else if (err?.type === 'entity.too.large') e = new GatewayError('BODY_TOO_LARGE', { limit: err.limit });
    else if (err?.type === 'charset.unsupported' || err?.type === 'encoding.unsupported') e = new GatewayError('UNSUPPORTED_MEDIA_TYPE', { expected: 'application/json in UTF-8' });
    else if (unreadableBody(err)) e = new GatewayError('MALFORMED_JSON');
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
