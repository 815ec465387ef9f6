// Bearer-token authentication and role checks for the REST API.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { TLSSocket } from 'node:tls';
import type { Channel } from '../../adapters/adapter.js';
import { GatewayError } from '../domain/errors.js';
import type { Actor, Role } from '../domain/types.js';
import type { Principal, TokenService } from '../trust/tokens.js';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export function authenticate(tokens: TokenService): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const h = req.headers.authorization;
    // EventSource cannot send headers, so live streams may carry the token as ?access_token=.
    const token = h?.startsWith('Bearer ') ? h.slice(7) : typeof req.query.access_token === 'string' && req.path.endsWith('/events') ? req.query.access_token : null;
    if (!token) return next(new GatewayError('UNAUTHENTICATED'));
    try {
      req.principal = await tokens.verify(token);
      next();
    } catch (e) {
      next(e);
    }
  };
}

export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (!req.principal || !roles.includes(req.principal.role)) return next(new GatewayError('FORBIDDEN'));
    next();
  };
}

/**
 * Sensitive actions (changing configuration, the calendar or the clock, resending, issuing a licence) need a one-time
 * code checked within the last `seconds()`: at login or by POST /api/auth/step-up. Checked against real time.
 */
export function requireStepUp(seconds: () => number): RequestHandler {
  return (req, _res, next) => {
    const at = req.principal?.stepUpAt;
    if (at === undefined || Date.now() / 1000 - at > seconds()) return next(new GatewayError('STEP_UP_REQUIRED', {}, { maxAgeSeconds: seconds() }));
    next();
  };
}

export function actorOf(req: Request, adapter = 'rest-api'): Actor {
  const p = req.principal!;
  return { kind: 'user', id: p.username, role: p.role, adapter };
}

/** The bearer token of a request, if it carries one. */
export const bearer = (req: Request): string | undefined => {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
};

/** How a department message arrived at one of the gateway's HTTP endpoints: the reviewer's token and, over HTTPS, the client certificate. */
export function httpChannel(req: Request, adapter: 'rest' | 'xml' | 'soap'): Channel {
  const socket = req.socket as Partial<TLSSocket>;
  const token = bearer(req);
  return {
    adapter,
    ...(token !== undefined ? { token } : {}),
    peerCertificate: typeof socket.getPeerX509Certificate === 'function' ? (socket.getPeerX509Certificate() ?? null) : null,
  };
}
