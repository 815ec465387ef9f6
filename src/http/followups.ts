// Follow-up visits over the REST API: departments plan inspections and report results; supervisors and the registrar follow them.
import express, { type Request, type RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, InboundResult } from '../../adapters/adapter.js';
import { ERRORS, fail, GatewayError, type ErrorCode } from '../domain/errors.js';
import type { InspectionState } from '../domain/followup.js';
import type { Gateway } from '../gateway.js';
import { inspectionView } from '../service/followups.js';
import { actorOf, httpChannel, requireRole } from './auth.js';

const JOSE = 'application/jose';
const STATES: InspectionState[] = ['planned', 'passed', 'rectifying', 'rectified', 'revoked'];

export function followUpRouter(gw: Gateway, body: (schemaId: string) => RequestHandler): express.Router {
  const r = express.Router();
  const param = (req: Request, name: string) => String(req.params[name]);

  /** A reviewer sees only inspections of their own department; a case without a review of theirs does not exist to them. */
  const visibleCase = async (req: Request) => {
    const c = await gw.cases.get(param(req, 'id'));
    const p = req.principal!;
    if (p.role === 'reviewer' && !c.reviews.some((x) => x.departmentId === p.departmentId)) fail('NOT_FOUND', { what: 'case' });
    return c;
  };
  const ownDepartment = (req: Request) => (req.principal!.role === 'reviewer' ? (req.principal!.departmentId ?? '') : undefined);

  r.post('/cases/:id/inspections', requireRole('reviewer'), body('api/inspection-plan.schema.json'), async (req, res) => {
    const c = await visibleCase(req);
    const b = req.body as { departmentId: string; plannedFor: string };
    // A department plans its own visits only.
    if (b.departmentId !== req.principal!.departmentId) fail('FORBIDDEN');
    const i = await gw.followUps.plan(c.id, b.departmentId, Date.parse(b.plannedFor), actorOf(req));
    res.status(201).location(`/api/cases/${c.id}/inspections/${i.id}`).json(inspectionView(i));
  });

  r.get('/cases/:id/inspections', requireRole('reviewer', 'registrar', 'secretary', 'supervisor', 'admin'), async (req, res) => {
    const c = await visibleCase(req);
    res.json({ inspections: (await gw.followUps.list({ caseId: c.id, departmentId: ownDepartment(req) })).map(inspectionView) });
  });

  r.get('/inspections', requireRole('reviewer', 'registrar', 'supervisor', 'admin'), async (req, res) => {
    const q = req.query;
    const state = typeof q.state === 'string' ? q.state : undefined;
    if (state !== undefined && !STATES.includes(state as InspectionState)) fail('VALIDATION_FAILED', { summary: `state must be one of ${STATES.join(', ')}` });
    const asked = typeof q.departmentId === 'string' ? q.departmentId : undefined;
    const own = ownDepartment(req);
    const list = await gw.followUps.list({
      departmentId: own ?? asked,
      state: state as InspectionState | undefined,
      reinspectionDue: q.reinspectionDue === 'true',
      limit: Number(q.limit) || undefined,
    });
    res.json({ inspections: list.map(inspectionView) });
  });

  /**
   * The department's result or re-inspection goes through the inbound service like every message: a signed envelope
   * (application/jose, kind inspection) or, where signatures are not required, plain JSON. The bearer token is the reviewer's.
   */
  const report = (stage: 'result' | 'reinspection'): RequestHandler[] => [
    (req, res, next) => (typeof req.body === 'string' && req.is(JOSE) === JOSE ? next() : body('api/inspection-report.schema.json')(req, res, next)),
    async (req, res) => {
      await visibleCase(req);
      const caseId = param(req, 'id');
      const inspection = await gw.followUps.get(param(req, 'inspectionId'));
      const own = ownDepartment(req);
      if (!inspection || inspection.caseId !== caseId || (own !== undefined && inspection.departmentId !== own)) fail('NOT_FOUND', { what: 'inspection' });
      const channel = httpChannel(req, 'rest');
      let result: InboundResult;
      if (typeof req.body === 'string') {
        result = await gw.inbound.receive({ format: 'jws', raw: req.body }, channel, { kind: 'inspection', caseId, departmentId: inspection.departmentId });
      } else {
        const b = req.body as { outcome: 'pass' | 'fail'; findings?: string; messageId?: string };
        const msg: IncomingMessage = {
          messageId: b.messageId ?? req.header('message-id') ?? randomUUID(), kind: 'inspection', departmentId: inspection.departmentId, caseId,
          inspectionId: inspection.id, stage, outcome: b.outcome, findings: b.findings ?? null,
        };
        result = await gw.inbound.acceptPlain(msg, channel, req.principal!.departmentId);
      }
      if (!result.ok) {
        const e = new GatewayError(result.code in ERRORS ? (result.code as ErrorCode) : 'INTERNAL');
        e.message = result.message;
        throw e;
      }
      res.json(inspectionView((await gw.followUps.get(inspection.id))!));
    },
  ];
  r.post('/cases/:id/inspections/:inspectionId/result', requireRole('reviewer'), ...report('result'));
  r.post('/cases/:id/inspections/:inspectionId/reinspection', requireRole('reviewer'), ...report('reinspection'));
  return r;
}
