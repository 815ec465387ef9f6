// The express application: REST API, live streams, health and the OpenAPI document.
import express, { type Request, type RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { verifyChain } from '../bus/audit.js';
import { registryKeys } from '../bus/checkpoints.js';
import { calendarView, type DayKind } from '../calendar/calendar-store.js';
import { describeErrors, validator } from '../config/schemas.js';
import type { InboundResult, IncomingMessage } from '../../adapters/adapter.js';
import { ERRORS, fail, GatewayError, type ErrorCode } from '../domain/errors.js';
import type { Application, Case, Decision } from '../domain/types.js';
import type { Gateway } from '../gateway.js';
import { adminConfigRouter } from './admin-config.js';
import { adminIdentityRouter } from './admin-identity.js';
import { complaintRouter } from './complaints.js';
import { enterpriseRouter } from './enterprises.js';
import { followUpRouter } from './followups.js';
import { actorOf, authenticate, httpChannel, requireRole, requireStepUp } from './auth.js';
import { errorHandler, notFound } from './errors.js';
import { openApiDocument } from './openapi.js';
import { mountSoapEndpoint } from './soap-endpoint.js';
import { streamEvents } from './sse.js';
import { statsRouter } from './stats.js';
import { provinceStatus } from '../province/status.js';
import { caseView } from './views.js';
import { mountConsole } from './console.js';
import { mountXmlEndpoint } from './xml-endpoint.js';
import type { AfterEffect } from '../service/inbound.js';

function body<T>(schemaId: string): RequestHandler {
  const v = validator<T>(schemaId);
  return (req, _res, next) => {
    if (req.body === undefined) {
      // express.json leaves the body unset for other media types; an empty body is fine for routes without fields.
      if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding']) return next(new GatewayError('UNSUPPORTED_MEDIA_TYPE', { expected: 'application/json' }));
      req.body = {};
    }
    if (!v(req.body)) {
      const problems = describeErrors(v.errors);
      return next(new GatewayError('VALIDATION_FAILED', { summary: problems.map((p) => `${p.path} ${p.message}`).join('; ') }, { errors: problems }));
    }
    const nul = nulAt(req.body, '');
    if (nul !== null) return next(new GatewayError('VALIDATION_FAILED', { summary: `${nul || '/'} contains the NUL character` }));
    next();
  };
}

const param = (req: Request, name: string): string => String(req.params[name]);

/**
 * Where a JSON value holds the NUL character (U+0000), as a JSON pointer, or null. PostgreSQL text cannot hold it: a
 * name or filter with one failed in the store and was answered INTERNAL (500) there, while SQLite kept it.
 */
function nulAt(v: unknown, at: string): string | null {
  if (typeof v === 'string') return v.includes('\u0000') ? at : null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = nulAt(v[i], `${at}/${i}`);
      if (r !== null) return r;
    }
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k.includes('\u0000')) return at || '/';
      const r = nulAt(x, `${at}/${k}`);
      if (r !== null) return r;
    }
  }
  return null;
}

const JOSE = 'application/jose';
const isJose = (req: Request): boolean => typeof req.body === 'string' && req.is(JOSE) === JOSE;

/** An inbound refusal as the catalogue error it carries, with the message the inbound service wrote. */
function refusalError(r: Extract<InboundResult, { ok: false }>): GatewayError {
  const e = new GatewayError(r.code in ERRORS ? (r.code as ErrorCode) : 'INTERNAL');
  e.message = r.message;
  return e;
}

export function createApp(gw: Gateway, log: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // The path only: query strings may carry an access token (live streams).
      log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6, user: req.principal?.username }, 'request');
    });
    next();
  });
  // The NUL character in a path or query (%00) reaches no route: PostgreSQL text cannot hold it (see nulAt).
  app.use((req, _res, next) => next(/%00/.test(req.originalUrl) ? new GatewayError('VALIDATION_FAILED', { summary: 'the request path or query contains the NUL character (%00)' }) : undefined));
  // XML and SOAP read their own bodies with their own limits, ahead of the JSON parser.
  mountXmlEndpoint(app, gw, log);
  mountSoapEndpoint(app, gw, log);
  app.use(express.json({ limit: gw.config.gateway.bodyLimitBytes, strict: false }));
  // A department's signed answer: the compact JWS of its envelope.
  app.use(express.text({ type: JOSE, limit: gw.config.gateway.bodyLimitBytes }));

  app.get('/healthz', async (_req, res) => {
    const db = await gw.db.get('SELECT 1 AS ok').then(() => true, () => false);
    const adapters = await gw.adapterHealth();
    res.status(db ? 200 : 503).json({ status: db ? 'ok' : 'degraded', store: gw.db.dialect, clock: gw.clock.manual ? 'manual' : 'system', now: new Date(gw.clock.now()).toISOString(), adapters });
  });
  // Prometheus text format; like /healthz it carries no case data and needs no token (the gateway listens on loopback by default).
  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', gw.metrics.registry.contentType);
    res.send(await gw.metrics.registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument(gw.clock.manual));
  });

  app.post('/api/auth/login', body<{ username: string; password: string; otp: string }>('api/login.schema.json'), async (req, res) => {
    const { username, password, otp } = req.body;
    const { token, principal } = await gw.users.login(username, password, otp, req.socket.remoteAddress ?? 'unknown');
    res.json({ token, tokenType: 'Bearer', expiresIn: gw.config.gateway.tokenTtlSeconds, user: { username: principal.username, role: principal.role, departmentId: principal.departmentId ?? null } });
  });

  // Peer gateways authenticate by their signature (and the peers of the configuration), not by a user's token.
  app.post('/api/peer/messages', async (req, res) => {
    if (!isJose(req)) throw new GatewayError('UNSUPPORTED_MEDIA_TYPE', { expected: JOSE });
    const r = await gw.peers.receive(req.body as string);
    if (!r.ok) throw refusalError(r);
    res.json({ ok: true, duplicate: r.duplicate, caseId: r.caseId, caseStatus: r.caseStatus });
  });

  const api = express.Router();
  api.use(authenticate(gw.tokens));
  const stepUp = requireStepUp(() => gw.config.gateway.stepUpSeconds);

  api.post('/auth/step-up', body<{ otp: string }>('api/step-up.schema.json'), async (req, res) => {
    const { token, principal } = await gw.users.stepUp(req.principal!, req.body.otp, req.socket.remoteAddress ?? 'unknown');
    res.json({ token, tokenType: 'Bearer', expiresIn: gw.config.gateway.tokenTtlSeconds, stepUpAt: new Date(principal.stepUpAt! * 1000).toISOString(), stepUpSeconds: gw.config.gateway.stepUpSeconds });
  });

  api.get('/me', (req, res) => {
    const p = req.principal!;
    res.json({ username: p.username, role: p.role, departmentId: p.departmentId ?? null });
  });

  /** A reviewer sees only cases their department reviews; for them any other case simply does not exist. */
  const visibleCase = async (req: Request): Promise<Case> => {
    const c = await gw.cases.get(param(req, 'id'));
    const p = req.principal!;
    if (p.role === 'reviewer' && !c.reviews.some((r) => r.departmentId === p.departmentId)) fail('NOT_FOUND', { what: 'case' });
    return c;
  };
  const view = (req: Request, c: Case, timeline?: unknown[]) => caseView(c, req.principal!.role, (id) => gw.cases.department(id), timeline, (due) => gw.workingDaysLeft(due));

  api.post('/cases', requireRole('secretary', 'admin'), body<Application>('api/application.schema.json'), async (req, res) => {
    const key = req.header('idempotency-key');
    if (key !== undefined && !/^[\x21-\x7e]{8,128}$/.test(key)) fail('VALIDATION_FAILED', { summary: 'Idempotency-Key must be 8 to 128 visible ASCII characters' });
    const { case: c, replayed } = await gw.cases.submit(req.body as Application, actorOf(req), key);
    res.status(replayed ? 200 : 201).location(`/api/cases/${c.id}`).json(view(req, c));
  });

  api.get('/cases', async (req, res) => {
    const q = req.query;
    const p = req.principal!;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    // At most nine digits: a larger offset overflowed the stores' integers and was answered INTERNAL (500).
    const num = (v: unknown) => {
      if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
      if (v.length > 9) fail('VALIDATION_FAILED', { summary: 'limit and offset are whole numbers below 1000000000' });
      return Number(v);
    };
    const status = str(q.status);
    const STATUSES = ['submitted', 'returned', 'refused', 'in_review', 'terminated', 'awaiting_licence', 'licensed', 'operating', 'concluded'];
    if (status && !STATUSES.includes(status)) fail('VALIDATION_FAILED', { summary: `status must be one of ${STATUSES.join(', ')}` });
    const departmentId = p.role === 'reviewer' ? p.departmentId : str(q.departmentId);
    const { cases, total } = await gw.cases.list({
      status: status as Case['status'] | undefined,
      divisionCode: str(q.divisionCode),
      enterpriseName: str(q.enterpriseName),
      departmentId,
      limit: num(q.limit),
      offset: num(q.offset),
    });
    res.json({ total, cases: cases.map((c) => view(req, c)) });
  });

  api.get('/cases/:id', async (req, res) => {
    const c = await visibleCase(req);
    const timeline = (await gw.cases.timeline(c.id)).map((e) => ({ at: new Date(e.at).toISOString(), action: e.action, actor: e.actor, data: e.data }));
    res.json(view(req, c, timeline));
  });

  api.post('/cases/:id/accept', requireRole('secretary', 'admin'), body('api/empty.schema.json'), async (req, res) => {
    res.json(view(req, await gw.cases.accept(param(req, 'id'), actorOf(req))));
  });
  api.post('/cases/:id/return', requireRole('secretary', 'admin'), body<{ reason: string }>('api/reason.schema.json'), async (req, res) => {
    res.json(view(req, await gw.cases.returnForCorrection(param(req, 'id'), req.body.reason, actorOf(req))));
  });
  api.post('/cases/:id/resubmit', requireRole('secretary', 'admin'), body<Application>('api/application.schema.json'), async (req, res) => {
    res.json(view(req, await gw.cases.resubmit(param(req, 'id'), req.body as Application, actorOf(req))));
  });
  api.post('/cases/:id/terminate', requireRole('secretary', 'registrar', 'admin'), body<{ reason: string }>('api/reason.schema.json'), async (req, res) => {
    res.json(view(req, await gw.cases.terminate(param(req, 'id'), req.body.reason, actorOf(req))));
  });

  /**
   * A department's answer over the REST API goes through the inbound service like every channel's: a signed envelope
   * (application/jose) whose case and department must be the path's, or plain JSON: signed by the gateway for a hosted
   * department's own reviewer, otherwise accepted only where signatures are not required. The bearer token is the reviewer's.
   */
  const answer = (kind: 'opinion' | 'permit', schemaId: string): RequestHandler[] => [
    (req, res, next) => (isJose(req) ? next() : body(schemaId)(req, res, next)),
    async (req, res) => {
      const caseId = param(req, 'id');
      const departmentId = param(req, 'departmentId');
      await visibleCase(req);
      const channel = httpChannel(req, 'rest');
      const after: AfterEffect = {};
      let r: InboundResult;
      if (isJose(req)) {
        r = await gw.inbound.receive({ format: 'jws', raw: req.body as string }, channel, { kind, caseId, departmentId }, after);
      } else {
        const b = req.body as { decision?: Decision; reasons?: string; permitNumber?: string; messageId?: string };
        const messageId = b.messageId ?? req.header('message-id') ?? randomUUID();
        const msg: IncomingMessage = { messageId, kind, departmentId, caseId, ...(kind === 'opinion' ? { decision: b.decision, reasons: b.reasons ?? null } : { permitNumber: b.permitNumber }) };
        r = await gw.inbound.acceptPlain(msg, channel, req.principal!.departmentId, after);
      }
      if (!r.ok) throw refusalError(r);
      // The case as the answer left it, committed: reading it again would only cost the store another load.
      res.json(view(req, after.case?.id === caseId ? after.case : await gw.cases.get(caseId)));
    },
  ];

  api.post('/cases/:id/reviews/:departmentId/opinion', requireRole('reviewer'), ...answer('opinion', 'api/opinion.schema.json'));

  api.post('/cases/:id/licence', requireRole('registrar'), stepUp, body('api/empty.schema.json'), async (req, res) => {
    res.status(201).json(view(req, await gw.cases.issueLicence(param(req, 'id'), actorOf(req))));
  });

  const reviewerPermit = answer('permit', 'api/permit.schema.json');
  api.post('/cases/:id/permits/:departmentId', requireRole('reviewer', 'registrar'), (req, res, next) => {
    if (req.principal!.role === 'reviewer') return next();
    // The registrar records a permit shown at the counter: an action of this gateway's own user, not a department's message.
    return body('api/permit.schema.json')(req, res, (err?: unknown) => {
      if (err) return next(err);
      const messageId = (req.body as { messageId?: string }).messageId ?? req.header('message-id');
      gw.cases
        .reportPermit(param(req, 'id'), param(req, 'departmentId'), (req.body as { permitNumber: string }).permitNumber, actorOf(req), messageId ? { messageId, kind: 'permit' } : undefined)
        .then((c) => res.json(view(req, c)), next);
    });
  }, ...reviewerPermit);

  /** The pull from the provincial system: cursor, last runs, totals, recent warnings, quarantined records and refused pages. */
  api.get('/province/status', requireRole('supervisor', 'admin'), async (_req, res) => {
    res.json(await provinceStatus(gw.db, gw.config.province?.pull));
  });

  /** Messages refused for their channel, signature, replay or reviewer, newest first (the raw message truncated, never a token). */
  api.get('/refused-messages', requireRole('supervisor', 'admin'), async (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit) || 100, 1), 500);
    const code = typeof req.query.code === 'string' && /^[A-Z_]{1,64}$/.test(req.query.code) ? req.query.code : null;
    const rows = await gw.db.all(
      `SELECT id, at, channel, claimed_sender AS "claimedSender", message_id AS "messageId", kind, case_id AS "caseId", code, reason, raw
         FROM refused_messages ${code ? 'WHERE code = $2' : ''} ORDER BY id DESC LIMIT $1`,
      code ? [limit, code] : [limit],
    );
    res.json({ messages: rows.map((r: Record<string, unknown>) => ({ ...r, id: Number(r.id), at: new Date(Number(r.at)).toISOString() })) });
  });

  const reviewerSees = (req: Request) => {
    const p = req.principal!;
    if (p.role !== 'reviewer') return async () => true;
    // Only "visible" is remembered: a case's first events come before acceptance creates its reviews, so "not visible"
    // can turn into "visible" later, while a review, once written, is never removed.
    const visible = new Set<string>();
    return async (e: { caseId: string | null }) => {
      if (!e.caseId) return false;
      if (visible.has(e.caseId)) return true;
      const ok = !!(await gw.db.get('SELECT 1 AS x FROM reviews WHERE case_id = $1 AND department_id = $2', [e.caseId, p.departmentId]));
      if (ok) {
        if (visible.size > 5000) visible.clear();
        visible.add(e.caseId);
      }
      return ok;
    };
  };
  api.get('/events', (req, res) => streamEvents(gw.db, gw.hub, req, res, { visible: reviewerSees(req) }));
  api.get('/cases/:id/events', async (req, res) => {
    const c = await visibleCase(req);
    streamEvents(gw.db, gw.hub, req, res, { caseId: c.id, visible: async () => true });
  });

  api.get('/departments', (_req, res) => {
    res.json({ departments: gw.config.departments, scopeItems: gw.config.scopeItems, routes: gw.config.routes });
  });

  api.get('/supervision/overdue', requireRole('supervisor', 'admin'), async (_req, res) => {
    res.json(await gw.supervision());
  });

  api.get('/outbox', requireRole('supervisor', 'admin'), async (req, res) => {
    const state = typeof req.query.state === 'string' ? req.query.state : 'failed';
    const rows = await gw.db.all(
      'SELECT id, case_id AS "caseId", department_id AS "departmentId", adapter, kind, state, attempts, last_error AS "lastError", created_at AS "createdAt", delivered_at AS "deliveredAt" FROM outbox WHERE state = $1 ORDER BY created_at LIMIT 500',
      [state],
    );
    res.json({ messages: rows });
  });
  api.post('/outbox/:id/resend', requireRole('admin'), stepUp, body('api/empty.schema.json'), async (req, res) => {
    if (!(await gw.dispatcher.resend(param(req, 'id'), actorOf(req)))) fail('NOT_FOUND', { what: 'failed message' });
    res.json({ resent: true });
  });

  api.get('/audit/verify', requireRole('supervisor', 'admin'), async (_req, res) => {
    await gw.sealer.settled();
    res.json(await verifyChain(gw.db, { keys: registryKeys(gw.keys) }));
  });

  api.use('/admin', adminConfigRouter(gw, body));
  api.use('/admin', adminIdentityRouter(gw, body));
  api.use(followUpRouter(gw, body));
  api.use(complaintRouter(gw, body));
  api.use(statsRouter(gw));
  api.use(enterpriseRouter(gw));

  api.get('/admin/calendar', requireRole('admin', 'supervisor'), async (_req, res) => {
    res.json(await calendarView(gw.db));
  });
  api.put('/admin/calendar/days/:day', requireRole('admin'), stepUp, body<{ kind: DayKind }>('api/calendar-day.schema.json'), async (req, res) => {
    const day = param(req, 'day');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) fail('VALIDATION_FAILED', { summary: `${day} is not a date (YYYY-MM-DD)` });
    const cal = await gw.setCalendarDay(day, req.body.kind, actorOf(req));
    res.json({ version: cal.version, day, kind: req.body.kind });
  });
  api.put('/admin/calendar/years/:year', requireRole('admin'), stepUp, body<{ holidays: string[]; workdays: string[] }>('api/calendar-year.schema.json'), async (req, res) => {
    const year = Number(param(req, 'year'));
    if (!Number.isInteger(year) || year < 1991 || year > 9999) fail('VALIDATION_FAILED', { summary: 'year must be from 1991 to 9999' });
    const cal = await gw.setCalendarYear(year, req.body.holidays, req.body.workdays, actorOf(req));
    res.json({ version: cal.version, years: cal.years });
  });

  if (gw.clock.manual) {
    api.get('/admin/clock', requireRole('admin'), (_req, res) => {
      res.json({ now: new Date(gw.clock.now()).toISOString(), manual: true });
    });
    api.put('/admin/clock', requireRole('admin'), stepUp, body<{ now: string }>('api/clock.schema.json'), async (req, res) => {
      const ms = Date.parse(req.body.now);
      if (!Number.isFinite(ms)) fail('VALIDATION_FAILED', { summary: '/now is not an ISO-8601 instant' });
      await gw.setClock(ms, actorOf(req));
      res.json({ now: new Date(gw.clock.now()).toISOString(), manual: true });
    });
  }

  app.use('/api', api);
  mountConsole(app);
  app.use(notFound);
  app.use(errorHandler(log));
  return app;
}
