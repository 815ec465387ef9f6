// Admin API for the running configuration: adapters, departments, routes and rules, changed without a restart and audited.
import express, { type Request, type RequestHandler } from 'express';
import type { AdapterConfig } from '../config/load.js';
import { latestVersion, listVersions } from '../config/runtime.js';
import { fail } from '../domain/errors.js';
import type { Department } from '../domain/routing.js';
import type { Gateway } from '../gateway.js';
import { actorOf, requireRole, requireStepUp } from './auth.js';

const SECRET_KEY = /pass(word)?|secret|token|authori[sz]ation|api[-_]?key|cookie/i;

/** Settings as an administrator may see them: header values, credentials in URLs and secret-named fields are hidden. */
export function redact(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return SECRET_KEY.test(key) ? '***' : value.replace(/(\/\/[^:/@\s]+:)[^@\s]*@/g, '$1***@');
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, key === 'headers' ? '***' : redact(v, k)]));
  }
  return value;
}

const param = (req: Request, name: string): string => String(req.params[name]);

/** The If-Match header (or ?version=), when given: the configuration version the change was based on. */
function expectedVersion(req: Request): number | undefined {
  const raw = req.header('if-match') ?? (typeof req.query.version === 'string' ? req.query.version : undefined);
  if (raw === undefined) return undefined;
  const n = Number(String(raw).replace(/"/g, ''));
  if (!Number.isInteger(n) || n < 1) fail('VALIDATION_FAILED', { summary: 'If-Match must be a configuration version number' });
  return n;
}

export function adminConfigRouter(gw: Gateway, body: (schemaId: string) => RequestHandler): express.Router {
  const r = express.Router();
  const read = requireRole('admin', 'supervisor');
  const admin = requireRole('admin');
  // Every change of configuration is a sensitive action: it needs a fresh one-time code (step-up).
  const stepUp = requireStepUp(() => gw.config.gateway.stepUpSeconds);
  const write: RequestHandler = (req, res, next) => admin(req, res, (err?: unknown) => (err ? next(err) : stepUp(req, res, next)));

  const adapterView = async (name: string, a: AdapterConfig) => {
    const running = gw.adapters.get(name);
    const health = running ? await running.health().catch((e: Error) => ({ ok: false, detail: e.message })) : { ok: false, detail: a.enabled ? 'not running' : 'disabled' };
    return {
      name,
      kind: a.kind,
      enabled: a.enabled,
      departments: gw.config.departments.filter((d) => d.adapter === name).map((d) => d.id),
      retry: a.retry,
      options: redact(a.options),
      health,
    };
  };
  const changed = (res: express.Response, v: { version: number }, result: unknown) => {
    res.setHeader('etag', `"${v.version}"`);
    res.json({ version: v.version, ...(result as object) });
  };

  r.get('/config', read, async (_req, res) => {
    res.setHeader('etag', `"${gw.configVersion}"`);
    res.json({ version: gw.configVersion, versions: await listVersions(gw.db), document: redact(await currentDocument(gw)) });
  });
  r.put('/config', write, body('api/config-document.schema.json'), async (req, res) => {
    const next = req.body as Record<string, unknown>;
    const v = await gw.changeConfig(actorOf(req), 'configuration replaced', (doc) => {
      for (const k of Object.keys(doc)) delete doc[k];
      Object.assign(doc, next);
    }, expectedVersion(req));
    changed(res, v, { summary: v.summary });
  });
  r.post('/config/reload', write, body('api/empty.schema.json'), async (req, res) => {
    const v = await gw.reloadConfigFile(actorOf(req));
    changed(res, v, { summary: v.summary });
  });

  r.get('/adapters', read, async (_req, res) => {
    res.json({ version: gw.configVersion, adapters: await Promise.all(Object.entries(gw.config.adapters).map(([n, a]) => adapterView(n, a))) });
  });
  r.get('/adapters/:name', read, async (req, res) => {
    const a = gw.config.adapters[param(req, 'name')];
    if (!a) fail('NOT_FOUND', { what: 'adapter' });
    res.json(await adapterView(param(req, 'name'), a));
  });
  r.put('/adapters/:name', write, body('api/config-adapter.schema.json'), async (req, res) => {
    const name = param(req, 'name');
    const v = await gw.putAdapter(name, req.body, actorOf(req), expectedVersion(req));
    changed(res, v, { adapter: await adapterView(name, gw.config.adapters[name]!) });
  });
  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    r.post(`/adapters/:name/${verb}`, write, body('api/empty.schema.json'), async (req, res) => {
      const name = param(req, 'name');
      const v = await gw.setAdapterEnabled(name, enabled, actorOf(req), expectedVersion(req));
      changed(res, v, { adapter: await adapterView(name, gw.config.adapters[name]!) });
    });
  }
  r.delete('/adapters/:name', write, async (req, res) => {
    const v = await gw.removeAdapter(param(req, 'name'), actorOf(req), expectedVersion(req));
    changed(res, v, { removed: param(req, 'name') });
  });
  r.post('/adapters/:name/test', admin, body('api/empty.schema.json'), async (req, res) => {
    const dep = typeof req.query.department === 'string' ? req.query.department : undefined;
    res.json(await gw.testAdapter(param(req, 'name'), dep));
  });

  r.get('/departments', read, (_req, res) => {
    res.json({ version: gw.configVersion, departments: gw.config.departments });
  });
  r.get('/departments/:id', read, (req, res) => {
    const d = gw.config.departments.find((x) => x.id === param(req, 'id'));
    if (!d) fail('NOT_FOUND', { what: 'department' });
    res.json(d);
  });
  r.put('/departments/:id', write, body('api/config-department.schema.json'), async (req, res) => {
    const id = param(req, 'id');
    const dep = req.body as Department;
    if (dep.id !== id) fail('CONFIG_CHANGE_INVALID', { path: '/id', reason: `the body names department ${dep.id}, the path ${id}` });
    const v = await gw.putDepartment(dep, actorOf(req), expectedVersion(req));
    changed(res, v, { department: gw.config.departments.find((d) => d.id === id) });
  });
  r.delete('/departments/:id', write, async (req, res) => {
    const v = await gw.removeDepartment(param(req, 'id'), actorOf(req), expectedVersion(req));
    changed(res, v, { removed: param(req, 'id') });
  });

  r.get('/routes', read, (_req, res) => {
    res.json({ version: gw.configVersion, routes: gw.config.routes, scopeItems: gw.config.scopeItems });
  });
  r.put('/routes', write, body('api/config-routes.schema.json'), async (req, res) => {
    const v = await gw.changeConfig(actorOf(req), 'changed routes', (doc) => {
      doc.routes = req.body;
    }, expectedVersion(req));
    changed(res, v, { routes: gw.config.routes });
  });
  r.get('/eligibility', read, (_req, res) => {
    res.json({ version: gw.configVersion, eligibility: gw.config.eligibility });
  });
  r.put('/eligibility', write, body('api/config-eligibility.schema.json'), async (req, res) => {
    const v = await gw.changeConfig(actorOf(req), 'changed eligibility rules', (doc) => {
      doc.eligibility = req.body;
    }, expectedVersion(req));
    changed(res, v, { eligibility: gw.config.eligibility });
  });
  return r;
}

async function currentDocument(gw: Gateway): Promise<Record<string, unknown>> {
  return (await latestVersion(gw.db))?.document ?? {};
}
