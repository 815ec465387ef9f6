// Enterprises known from the provincial pull, for every role; a department's reviewer sees only its own area.
import express, { type Request } from 'express';
import { creditCodeKey, parseEnterpriseFilter, viewerScope } from '../domain/enterprise-filter.js';
import { fail } from '../domain/errors.js';
import type { Gateway } from '../gateway.js';
import { getEnterprise, listEnterprises } from '../service/enterprises.js';
import { requireRole } from './auth.js';

export function enterpriseRouter(gw: Gateway): express.Router {
  const r = express.Router();
  // Read per request: the running configuration may change a department's division.
  const scope = (req: Request) => {
    const p = req.principal!;
    const dep = p.role === 'reviewer' ? gw.config.departments.find((d) => d.id === p.departmentId) : undefined;
    return viewerScope(p.role, dep?.divisionCode);
  };
  const readers = requireRole('secretary', 'registrar', 'reviewer', 'supervisor', 'admin');

  r.get('/enterprises', readers, async (req, res) => {
    const filter = parseEnterpriseFilter(req.query as Record<string, unknown>);
    res.json(await listEnterprises(gw.db, filter, scope(req)));
  });

  r.get('/enterprises/:creditCode', readers, async (req, res) => {
    const raw = String(req.params.creditCode);
    const code = creditCodeKey(raw);
    if (code === null) fail('INVALID_CREDIT_CODE', { reason: 'a credit code is 18 characters of 0-9 and A-Z without I, O, S, V, Z (or an old registration number of 15 digits)' });
    // Outside a reviewer's area is answered exactly as an unknown code: existence is not revealed.
    const e = await getEnterprise(gw.db, code, scope(req));
    if (!e) fail('NOT_FOUND', { what: 'enterprise' });
    res.json(e);
  });
  return r;
}
