// Complaints and the period report over the REST API: filed at the counter, answered by departments, closed by the supervisor.
import express, { type Request, type RequestHandler } from 'express';
import { endOfShanghaiDay } from '../calendar/working-days.js';
import { BUREAU, COMPLAINT_STATES, type Complaint, type ComplaintState } from '../domain/complaint.js';
import { fail } from '../domain/errors.js';
import type { Gateway } from '../gateway.js';
import { complaintView } from '../service/complaints.js';
import { actorOf, requireRole } from './auth.js';

const DAY_MS = 86_400_000;

export function complaintRouter(gw: Gateway, body: (schemaId: string) => RequestHandler): express.Router {
  const r = express.Router();
  const param = (req: Request, name: string) => String(req.params[name]);
  const view = (k: Complaint) => complaintView(k, gw.clock.now());
  /** A reviewer sees only complaints about their own department; the counter and the supervisor see all. */
  const ownDepartment = (req: Request) => (req.principal!.role === 'reviewer' ? (req.principal!.departmentId ?? '') : undefined);
  const visible = (req: Request) => (k: Complaint) => {
    const own = ownDepartment(req);
    return own === undefined || k.departmentId === own;
  };

  // Applicants have no account of their own: the counter (secretary or registrar) files on their behalf.
  r.post('/cases/:id/complaints', requireRole('secretary', 'registrar'), body('api/complaint.schema.json'), async (req, res) => {
    const b = req.body as { departmentId: string; text: string; contact: string };
    const k = await gw.complaints.file(param(req, 'id'), b.departmentId, b.text, b.contact, actorOf(req));
    res.status(201).location(`/api/complaints/${k.id}`).json(view(k));
  });

  r.get('/cases/:id/complaints', requireRole('secretary', 'registrar', 'supervisor', 'admin', 'reviewer'), async (req, res) => {
    const c = await gw.cases.get(param(req, 'id'));
    const own = ownDepartment(req);
    // As elsewhere, a case without a review of the reviewer's department does not exist to them.
    if (own !== undefined && !c.reviews.some((x) => x.departmentId === own)) fail('NOT_FOUND', { what: 'case' });
    res.json({ complaints: (await gw.complaints.list({ caseId: c.id, departmentId: ownDepartment(req) })).map(view) });
  });

  r.get('/complaints', requireRole('secretary', 'registrar', 'supervisor', 'admin', 'reviewer'), async (req, res) => {
    const q = req.query;
    const state = typeof q.state === 'string' ? q.state : undefined;
    if (state !== undefined && !COMPLAINT_STATES.includes(state as ComplaintState)) fail('VALIDATION_FAILED', { summary: `state must be one of ${COMPLAINT_STATES.join(', ')}` });
    const list = await gw.complaints.list({
      departmentId: ownDepartment(req) ?? (typeof q.departmentId === 'string' ? q.departmentId : undefined),
      caseId: typeof q.caseId === 'string' ? q.caseId : undefined,
      state: state as ComplaintState | undefined,
      overdue: q.overdue === 'true',
      limit: Number(q.limit) || undefined,
    });
    res.json({ complaints: list.map(view) });
  });

  r.get('/complaints/:id', requireRole('secretary', 'registrar', 'supervisor', 'admin', 'reviewer'), async (req, res) => {
    const k = await gw.complaints.get(param(req, 'id'));
    if (!k || !visible(req)(k)) fail('NOT_FOUND', { what: 'complaint' });
    res.json(view(k));
  });

  // The department concerned answers its own complaints; the supervisor may answer any, the registrar those about the bureau.
  r.post('/complaints/:id/answer', requireRole('reviewer', 'supervisor', 'registrar'), body('api/complaint-answer.schema.json'), async (req, res) => {
    const p = req.principal!;
    const may = (k: Complaint) => p.role === 'supervisor' || (p.role === 'reviewer' && k.departmentId === p.departmentId) || (p.role === 'registrar' && k.departmentId === BUREAU);
    const k = await gw.complaints.answer(param(req, 'id'), (req.body as { response: string }).response, may, actorOf(req));
    res.json(view(k));
  });
  r.post('/complaints/:id/resolve', requireRole('supervisor'), body('api/complaint-resolve.schema.json'), async (req, res) => {
    res.json(view(await gw.complaints.resolve(param(req, 'id'), (req.body as { note?: string }).note ?? null, actorOf(req))));
  });
  r.post('/complaints/:id/reopen', requireRole('supervisor'), body('api/reason.schema.json'), async (req, res) => {
    res.json(view(await gw.complaints.reopen(param(req, 'id'), (req.body as { reason: string }).reason, actorOf(req))));
  });

  /** Dates are Asia/Shanghai calendar dates, both included: the period is [start of `from`, end of `to`]. */
  r.get('/supervision/report', requireRole('supervisor', 'admin'), async (req, res) => {
    const date = (name: string) => {
      const v = req.query[name];
      if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) fail('VALIDATION_FAILED', { summary: `${name} must be a date (YYYY-MM-DD)` });
      return v;
    };
    const from = endOfShanghaiDay(date('from')).getTime() + 1 - DAY_MS;
    const to = endOfShanghaiDay(date('to')).getTime() + 1;
    if (to <= from) fail('VALIDATION_FAILED', { summary: 'to must not be before from' });
    const dep = typeof req.query.department === 'string' && req.query.department !== '' ? req.query.department : undefined;
    if (dep !== undefined && dep !== BUREAU && !gw.config.departments.some((d) => d.id === dep)) fail('UNKNOWN_DEPARTMENT', { departmentId: dep });
    res.json(await gw.supervisionPeriod(from, to, dep));
  });
  return r;
}
