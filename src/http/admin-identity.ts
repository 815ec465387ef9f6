// Users and keys for administrators over the REST API: list, add users; list, rotate and revoke keys (changes need step-up).
import express, { type Request, type RequestHandler } from 'express';
import { fail } from '../domain/errors.js';
import type { Role } from '../domain/types.js';
import type { Gateway } from '../gateway.js';
import { appendEvents } from '../store/case-repo.js';
import type { KeyAlg, KeyEntry } from '../trust/keys.js';
import { actorOf, requireRole, requireStepUp } from './auth.js';

/** A key as administrators see it: never where its files are. */
const keyView = (k: KeyEntry) => ({ kid: k.kid, owner: k.owner, alg: k.alg, status: k.status, notBefore: k.notBefore, notAfter: k.notAfter, demo: k.demo, signsHere: k.privateKey !== undefined, revokedAt: k.revokedAt ?? null });

export function adminIdentityRouter(gw: Gateway, body: (schemaId: string) => RequestHandler): express.Router {
  const r = express.Router();
  const read = requireRole('admin', 'supervisor');
  const admin = requireRole('admin');
  const stepUp = requireStepUp(() => gw.config.gateway.stepUpSeconds);
  const param = (req: Request, name: string) => String(req.params[name]);
  /** Every change of users or keys is audited (who, what; never a secret). */
  const audit = async (req: Request, action: string, data: Record<string, unknown>) => {
    await gw.db.tx((sql) => appendEvents(sql, null, Date.now(), actorOf(req), [{ action, data }]));
    gw.hub.committed({ events: true });
  };

  r.get('/users', read, async (_req, res) => {
    res.json({ users: await gw.users.list() });
  });
  r.post('/users', admin, stepUp, body('api/user.schema.json'), async (req, res) => {
    const b = req.body as { username: string; password: string; role: Role; departmentId?: string };
    const { user, otpauth } = await gw.users.add({ username: b.username, password: b.password, role: b.role, ...(b.departmentId ? { departmentId: b.departmentId } : {}) });
    await audit(req, 'user.added', { username: user.username, role: user.role, departmentId: user.departmentId });
    // The one time the TOTP secret is shown: the new user enrols it in an authenticator app.
    res.status(201).json({ user, otpauth });
  });

  r.get('/keys', read, (_req, res) => {
    gw.keys.refresh();
    res.json({ keys: gw.keys.list().map(keyView) });
  });
  // Only keys whose private half this gateway holds are rotated here: its own, and its hosted departments'. A department
  // with its own system rotates its key there and the new public key is imported (`pag keys import`).
  r.post('/keys/:owner/rotate', admin, stepUp, body('api/key-rotate.schema.json'), async (req, res) => {
    const owner = param(req, 'owner');
    const dep = gw.config.departments.find((d) => d.id === owner);
    if (owner !== 'gateway' && !dep) fail('NOT_FOUND', { what: 'key owner' });
    if (dep && !dep.hosted) fail('KEY_NOT_HELD', { owner });
    const b = req.body as { alg?: KeyAlg; overlapDays?: number };
    const current = gw.keys.list(owner).find((k) => k.status === 'active');
    const { added, retiring } = gw.keys.rotate(owner, b.alg ?? current?.alg ?? 'EdDSA', { overlapDays: b.overlapDays, demo: gw.config.gateway.environment === 'demo' });
    await audit(req, 'key.rotated', { owner, added: added.kid, retiring: retiring.map((k) => k.kid) });
    res.json({ added: keyView(added), retiring: retiring.map(keyView) });
  });
  r.post('/keys/:kid/revoke', admin, stepUp, body('api/empty.schema.json'), async (req, res) => {
    const k = gw.keys.revoke(param(req, 'kid'));
    await audit(req, 'key.revoked', { kid: k.kid, owner: k.owner });
    res.json(keyView(k));
  });
  return r;
}
