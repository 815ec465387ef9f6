// Authorisation: every role against every route of the API, reviewers confined to their own department's cases, and
// step-up (a fresh one-time code) for sensitive actions, with refusals audited without naming the failed factor.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { signingClient } from '../support/signing.js';
import { application, client, freshOtp, freshStore, login, startGateway, STORES, type Running } from '../support/harness.js';

type Role = 'secretary' | 'registrar' | 'reviewer' | 'supervisor' | 'admin';
const ROLES: Role[] = ['secretary', 'registrar', 'reviewer', 'supervisor', 'admin'];
const ALL = ROLES;
const READERS: Role[] = ['supervisor', 'admin'];

/**
 * The expected matrix, written out here rather than read from the application, so that a route whose roles change
 * by mistake fails this test. Writes use a case id nobody has (an allowed role then gets 404 after the role check
 * passed, and nothing changes) or a body that fails validation (422).
 */
interface Op { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; roles: Role[]; body?: unknown }
const OPS: Op[] = [
  { method: 'POST', path: '/api/auth/step-up', roles: ALL, body: { otp: 'x' } },
  { method: 'GET', path: '/api/me', roles: ALL },
  { method: 'GET', path: '/api/departments', roles: ALL },
  { method: 'POST', path: '/api/cases', roles: ['secretary', 'admin'], body: {} },
  { method: 'GET', path: '/api/cases', roles: ALL },
  { method: 'GET', path: '/api/cases/{id}', roles: ALL },
  { method: 'POST', path: '/api/cases/{none}/accept', roles: ['secretary', 'admin'] },
  { method: 'POST', path: '/api/cases/{none}/return', roles: ['secretary', 'admin'], body: { reason: '材料不全' } },
  { method: 'POST', path: '/api/cases/{none}/resubmit', roles: ['secretary', 'admin'], body: {} },
  { method: 'POST', path: '/api/cases/{none}/terminate', roles: ['secretary', 'registrar', 'admin'], body: { reason: '申请人撤回' } },
  { method: 'POST', path: '/api/cases/{none}/reviews/xw-health/opinion', roles: ['reviewer'], body: { decision: 'approve' } },
  { method: 'POST', path: '/api/cases/{none}/licence', roles: ['registrar'] },
  { method: 'POST', path: '/api/cases/{none}/permits/xw-health', roles: ['reviewer', 'registrar'], body: { permitNumber: 'P-1' } },
  { method: 'GET', path: '/api/cases/{id}/events', roles: ALL },
  { method: 'GET', path: '/api/events', roles: ALL },
  { method: 'POST', path: '/api/cases/{none}/inspections', roles: ['reviewer'], body: {} },
  { method: 'GET', path: '/api/cases/{id}/inspections', roles: ALL },
  { method: 'GET', path: '/api/inspections', roles: ['reviewer', 'registrar', 'supervisor', 'admin'] },
  { method: 'POST', path: '/api/cases/{none}/inspections/{none}/result', roles: ['reviewer'], body: {} },
  { method: 'POST', path: '/api/cases/{none}/inspections/{none}/reinspection', roles: ['reviewer'], body: {} },
  { method: 'POST', path: '/api/cases/{none}/complaints', roles: ['secretary', 'registrar'], body: {} },
  { method: 'GET', path: '/api/cases/{id}/complaints', roles: ALL },
  { method: 'GET', path: '/api/complaints', roles: ALL },
  { method: 'GET', path: '/api/complaints/{none}', roles: ALL },
  { method: 'POST', path: '/api/complaints/{none}/answer', roles: ['reviewer', 'supervisor', 'registrar'], body: {} },
  { method: 'POST', path: '/api/complaints/{none}/resolve', roles: ['supervisor'], body: {} },
  { method: 'POST', path: '/api/complaints/{none}/reopen', roles: ['supervisor'], body: {} },
  { method: 'GET', path: '/api/supervision/report', roles: READERS },
  { method: 'GET', path: '/api/refused-messages', roles: READERS },
  { method: 'GET', path: '/api/province/status', roles: READERS },
  { method: 'GET', path: '/api/enterprises', roles: ALL },
  { method: 'GET', path: '/api/enterprises/{none}', roles: ALL },
  { method: 'GET', path: '/api/supervision/overdue', roles: READERS },
  { method: 'GET', path: '/api/stats', roles: READERS },
  { method: 'GET', path: '/api/stats.csv', roles: READERS },
  { method: 'GET', path: '/api/outbox', roles: READERS },
  { method: 'POST', path: '/api/outbox/{none}/resend', roles: ['admin'] },
  { method: 'GET', path: '/api/audit/verify', roles: READERS },
  { method: 'GET', path: '/api/admin/calendar', roles: READERS },
  { method: 'PUT', path: '/api/admin/calendar/days/2030-01-02', roles: ['admin'], body: {} },
  { method: 'PUT', path: '/api/admin/calendar/years/2031', roles: ['admin'], body: {} },
  { method: 'GET', path: '/api/admin/clock', roles: ['admin'] },
  { method: 'PUT', path: '/api/admin/clock', roles: ['admin'], body: {} },
  { method: 'GET', path: '/api/admin/config', roles: READERS },
  { method: 'PUT', path: '/api/admin/config', roles: ['admin'], body: {} },
  { method: 'POST', path: '/api/admin/config/reload', roles: ['admin'], body: { unexpected: true } },
  { method: 'GET', path: '/api/admin/adapters', roles: READERS },
  { method: 'GET', path: '/api/admin/adapters/{name}', roles: READERS },
  { method: 'PUT', path: '/api/admin/adapters/{name}', roles: ['admin'], body: {} },
  { method: 'DELETE', path: '/api/admin/adapters/{nothing}', roles: ['admin'] },
  { method: 'POST', path: '/api/admin/adapters/{nothing}/enable', roles: ['admin'] },
  { method: 'POST', path: '/api/admin/adapters/{nothing}/disable', roles: ['admin'] },
  { method: 'POST', path: '/api/admin/adapters/{nothing}/test', roles: ['admin'] },
  { method: 'GET', path: '/api/admin/departments', roles: READERS },
  { method: 'GET', path: '/api/admin/departments/xw-health', roles: READERS },
  { method: 'PUT', path: '/api/admin/departments/xw-health', roles: ['admin'], body: {} },
  { method: 'DELETE', path: '/api/admin/departments/{nothing}', roles: ['admin'] },
  { method: 'GET', path: '/api/admin/routes', roles: READERS },
  { method: 'PUT', path: '/api/admin/routes', roles: ['admin'], body: {} },
  { method: 'GET', path: '/api/admin/eligibility', roles: READERS },
  { method: 'GET', path: '/api/admin/users', roles: READERS },
  { method: 'POST', path: '/api/admin/users', roles: ['admin'], body: {} },
  { method: 'GET', path: '/api/admin/keys', roles: READERS },
  { method: 'POST', path: '/api/admin/keys/{nothing}/rotate', roles: ['admin'], body: { alg: 'none' } },
  { method: 'POST', path: '/api/admin/keys/{nothing}/revoke', roles: ['admin'] },
  { method: 'PUT', path: '/api/admin/eligibility', roles: ['admin'], body: {} },
];

/** The OpenAPI path an op stands for, to check that the matrix covers every documented route. */
const templateOf = (path: string) =>
  path
    .replace(/\/cases\/\{(id|none)\}/, '/cases/{id}')
    .replace(/\/inspections\/\{none\}/, '/inspections/{inspectionId}')
    .replace(/\/outbox\/\{none\}/, '/outbox/{id}')
    .replace(/\/complaints\/\{none\}/, '/complaints/{id}')
    .replace(/\/enterprises\/\{none\}/, '/enterprises/{creditCode}')
    .replace(/\/(reviews|permits)\/xw-health/, '/$1/{departmentId}')
    .replace(/\/adapters\/\{(name|nothing)\}/, '/adapters/{name}')
    .replace(/\/departments\/(xw-health|\{nothing\})/, '/departments/{id}')
    .replace(/\/keys\/\{nothing\}\/rotate/, '/keys/{owner}/rotate')
    .replace(/\/keys\/\{nothing\}\/revoke/, '/keys/{kid}/revoke')
    .replace(/\/days\/[0-9-]+/, '/days/{day}')
    .replace(/\/years\/[0-9]+/, '/years/{year}');

/** One request; an event stream is closed as soon as its status is known. */
async function call(base: string, token: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; code?: string; body?: any }> {
  const ctl = new AbortController();
  const res = await fetch(`${base}${path}`, {
    method,
    signal: ctl.signal,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(method !== 'GET' && method !== 'DELETE' ? { 'content-type': 'application/json' } : {}) },
    body: method !== 'GET' && method !== 'DELETE' ? JSON.stringify(body ?? {}) : undefined,
  });
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    ctl.abort();
    return { status: res.status };
  }
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, code: json?.error?.code, body: json };
}

for (const kind of STORES) {
  describe(`authorisation by role and route (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    const token: Partial<Record<Role | 'otherReviewer', string>> = {};
    let caseId = '';
    let adapterName = '';
    const realm = `authz-${kind}`; // one user store across restarts: each one-time code is good once in it

    before(async function () {
      store = await freshStore(kind, 'authz');
      run = await startGateway(store.db());
      for (const r of ROLES) token[r] = await login(run.base, r === 'reviewer' ? 'reviewer-xw-health' : r, realm);
      token.otherReviewer = await login(run.base, 'reviewer-xw-police', realm);
      const sec = client(run.base, token.secretary!);
      const created = await sec.post('/api/cases', application());
      expect(created.status).to.equal(201);
      caseId = created.body.id;
      expect((await sec.post(`/api/cases/${caseId}/accept`)).status).to.equal(200);
      adapterName = Object.keys(run.gw.config.adapters)[0]!;
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    const concrete = (path: string) => path.replace(/\{id\}/g, caseId).replace(/\{none\}/g, randomUUID()).replace(/\{name\}/g, adapterName).replace(/\{nothing\}/g, 'no-such-thing');

    it('covers every route the OpenAPI document lists, and lists nothing it does not cover', async function () {
      const doc = (await call(run.base, null, 'GET', '/openapi.json')).body;
      const documented = new Set<string>();
      for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
        // Public by design; the peer endpoint authenticates gateways by signature (see the test of it below).
        if (['/api/auth/login', '/healthz', '/metrics', '/api/peer/messages'].includes(p)) continue;
        for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p}`);
      }
      const covered = new Set(OPS.map((o) => `${o.method} ${templateOf(o.path)}`));
      expect([...documented].filter((k) => !covered.has(k)), 'documented but not in the matrix').to.deep.equal([]);
      expect([...covered].filter((k) => !documented.has(k)), 'in the matrix but not documented').to.deep.equal([]);
    });

    it("answers the peer endpoint alike whatever user token comes with it: only a peer gateway's signature counts", async function () {
      const doc = (await call(run.base, null, 'GET', '/openapi.json')).body;
      expect(doc.paths['/api/peer/messages'].post.security).to.deep.equal([]);
      const unsigned = (t: string | null) => fetch(`${run.base}/api/peer/messages`, { method: 'POST', headers: { 'content-type': 'application/jose', ...(t ? { authorization: `Bearer ${t}` } : {}) }, body: 'a.b.c' });
      for (const t of [null, ...ROLES.map((r) => token[r]!)]) {
        const r = await unsigned(t);
        expect(r.status).to.equal(403);
        expect(((await r.json()) as { error: { code: string } }).error.code).to.equal('PEER_UNKNOWN');
        const plain = await call(run.base, t, 'POST', '/api/peer/messages', { kind: 'opinion' });
        expect([plain.status, plain.code]).to.deep.equal([415, 'UNSUPPORTED_MEDIA_TYPE']);
      }
    });

    it('refuses every route without a token (401) and with a forged one', async function () {
      const forged = token.admin!.replace(/\.[^.]+$/, '.' + Buffer.alloc(32, 1).toString('base64url'));
      for (const op of OPS) {
        for (const t of [null, forged]) {
          const r = await call(run.base, t, op.method, concrete(op.path), op.body);
          expect(r.status, `${op.method} ${op.path}`).to.equal(401);
          expect(r.code).to.equal('UNAUTHENTICATED');
        }
      }
    });

    it('lets each role through exactly the routes the matrix gives it', async function () {
      const wrong: string[] = [];
      for (const op of OPS) {
        for (const role of ROLES) {
          const r = await call(run.base, token[role]!, op.method, concrete(op.path), op.body);
          const allowed = op.roles.includes(role);
          const passed = r.status !== 401 && r.status !== 403;
          if (allowed !== passed || (!allowed && r.code !== 'FORBIDDEN')) wrong.push(`${role} ${op.method} ${op.path}: ${r.status} ${r.code ?? ''}`);
        }
      }
      expect(wrong).to.deep.equal([]);
    });

    // Complaints are the supervision bureau's own records: tracking them to resolution is the one thing it writes.
    const supervisorsOwn = (path: string) => path.startsWith('/api/complaints/');

    it('a supervisor reads everything and changes nothing but the complaints it tracks', async function () {
      for (const op of OPS.filter((o) => o.method === 'GET' && !o.path.includes('{none}'))) {
        if (!op.roles.includes('supervisor')) continue;
        const query = op.path === '/api/supervision/report' ? '?from=2026-01-01&to=2026-12-31' : '';
        expect((await call(run.base, token.supervisor!, 'GET', concrete(op.path) + query)).status, op.path).to.equal(200);
      }
      const changes = OPS.filter((o) => o.method !== 'GET' && o.path !== '/api/auth/step-up' && !supervisorsOwn(o.path));
      expect(changes.length).to.be.greaterThan(20);
      for (const op of changes) expect((await call(run.base, token.supervisor!, op.method, concrete(op.path), op.body)).code, op.path).to.equal('FORBIDDEN');
    });

    it("a reviewer reaches only their own department's cases; another department's look like ids that do not exist", async function () {
      const own = await call(run.base, token.reviewer!, 'GET', `/api/cases/${caseId}`);
      expect(own.status).to.equal(200);
      const other = token.otherReviewer!;
      const unknown = randomUUID();
      for (const path of [`/api/cases/${caseId}`, `/api/cases/${caseId}/events`, `/api/cases/${caseId}/inspections`]) {
        const theirs = await call(run.base, other, 'GET', path);
        const guessed = await call(run.base, other, 'GET', path.replace(caseId, unknown));
        expect(theirs.status, path).to.equal(404);
        expect([theirs.status, theirs.code]).to.deep.equal([guessed.status, guessed.code]);
      }
      const list = await call(run.base, other, 'GET', '/api/cases');
      expect(list.body.cases.map((c: any) => c.id)).to.not.include(caseId);
      // Answering for another department, even on a case one's own department reviews, is refused and changes nothing.
      const before = (await call(run.base, token.reviewer!, 'GET', `/api/cases/${caseId}`)).body;
      // Even signed with the other department's own key, the reviewer factor refuses it: this reviewer is not theirs.
      const cross = await signingClient(run.base, token.reviewer!).post(`/api/cases/${caseId}/reviews/xw-fire/opinion`, { decision: 'approve' });
      expect([cross.status, cross.body.error.code]).to.deep.equal([403, 'REVIEWER_NOT_AUTHORISED']);
      const after = (await call(run.base, token.reviewer!, 'GET', `/api/cases/${caseId}`)).body;
      expect(after.reviews).to.deep.equal(before.reviews);
    });

    describe('step-up for sensitive actions', function () {
      // Login throttling counts attempts per client address, and every request here comes from 127.0.0.1: a restarted
      // gateway (same store, same users and token key) starts with fresh counters, so each test sees only its own.
      beforeEach(async function () {
        await run.stop();
        run = await startGateway(store.db());
      });
      const stale = async (username: string) => {
        const u = (await run.gw.users.list()).find((x) => x.username === username)!;
        const stepUpAt = Math.floor(Date.now() / 1000) - run.gw.config.gateway.stepUpSeconds - 5;
        return run.gw.tokens.issue({ sub: u.id, username: u.username, role: u.role, amr: ['pwd', 'otp'], stepUpAt });
      };

      it('a session whose last one-time code is older than stepUpSeconds must confirm again; reading still works', async function () {
        const admin = await stale('admin');
        expect((await call(run.base, admin, 'GET', '/api/admin/eligibility')).status).to.equal(200);
        for (const [method, path] of [['PUT', '/api/admin/eligibility'], ['PUT', '/api/admin/routes'], ['PUT', `/api/admin/adapters/${adapterName}`], ['PUT', '/api/admin/calendar/days/2030-01-02'], ['POST', `/api/outbox/${randomUUID()}/resend`], ['PUT', '/api/admin/clock']] as const) {
          const r = await call(run.base, admin, method, path, {});
          expect([r.status, r.code], path).to.deep.equal([403, 'STEP_UP_REQUIRED']);
        }
        const registrar = await stale('registrar');
        const lic = await call(run.base, registrar, 'POST', `/api/cases/${caseId}/licence`, {});
        expect([lic.status, lic.code]).to.deep.equal([403, 'STEP_UP_REQUIRED']);

        const wrong = await call(run.base, admin, 'POST', '/api/auth/step-up', { otp: '000000' });
        expect([wrong.status, wrong.code]).to.deep.equal([401, 'STEP_UP_FAILED']);
        const otp = freshOtp(realm, 'admin');
        const ok = await call(run.base, admin, 'POST', '/api/auth/step-up', { otp });
        expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
        // The new token covers sensitive actions: the request now reaches validation (422), past the step-up check.
        const after = await call(run.base, ok.body.token, 'PUT', '/api/admin/eligibility', {});
        expect([after.status, after.code]).to.deep.equal([422, 'VALIDATION_FAILED']);
        // A code is good once.
        const replay = await call(run.base, admin, 'POST', '/api/auth/step-up', { otp });
        expect(replay.code).to.equal('STEP_UP_FAILED');
      });

      it('refused logins and step-ups are audited with who and where, never which factor failed', async function () {
        const before = await run.gw.db.all<{ data: string }>("SELECT data FROM events WHERE action = 'auth.refused'");
        const badPassword = await call(run.base, null, 'POST', '/api/auth/login', { username: 'registrar', password: 'wrong-password', otp: '123456' });
        const badCode = await call(run.base, null, 'POST', '/api/auth/login', { username: 'registrar', password: 'demo-password', otp: '000000' });
        expect([badPassword.status, badPassword.code, badPassword.body.error.message]).to.deep.equal([badCode.status, badCode.code, badCode.body.error.message]);
        const rows = (await run.gw.db.all<{ data: string }>("SELECT data FROM events WHERE action = 'auth.refused' ORDER BY seq")).slice(before.length).map((r) => JSON.parse(r.data));
        expect(rows).to.have.length(2);
        for (const d of rows) {
          expect(Object.keys(d).sort()).to.deep.equal(['code', 'ip', 'stage', 'username']);
          expect(d).to.include({ stage: 'login', username: 'registrar', code: 'LOGIN_FAILED' });
        }
        const stepUps = (await run.gw.db.all<{ data: string }>("SELECT data FROM events WHERE action = 'auth.refused'")).map((r) => JSON.parse(r.data)).filter((d) => d.stage === 'step-up');
        expect(stepUps.length).to.be.greaterThan(0);
      });

      it('audits a flood of logins from one address once it is rate-limited, not once per request', async function () {
        const before = (await run.gw.db.all<{ data: string }>("SELECT data FROM events WHERE action = 'auth.refused'")).length;
        const codes: string[] = [];
        for (let i = 0; i < 25; i++) codes.push((await call(run.base, null, 'POST', '/api/auth/login', { username: `nobody-${i}`, password: 'x', otp: '000000' })).code!);
        expect(codes.filter((c) => c === 'LOGIN_FAILED')).to.have.length(10);
        expect(codes.filter((c) => c === 'LOGIN_RATE_LIMITED')).to.have.length(15);
        const rows = (await run.gw.db.all<{ data: string }>("SELECT data FROM events WHERE action = 'auth.refused'")).slice(before).map((r) => JSON.parse(r.data));
        expect(rows.filter((d) => d.code === 'LOGIN_FAILED')).to.have.length(10);
        expect(rows.filter((d) => d.code === 'LOGIN_RATE_LIMITED')).to.have.length(1);
      });

      it('repeated wrong codes at step-up lock the account, for login too', async function () {
        const sup = await stale('supervisor');
        for (let i = 0; i < 5; i++) expect((await call(run.base, sup, 'POST', '/api/auth/step-up', { otp: '000000' })).code).to.equal('STEP_UP_FAILED');
        const locked = await call(run.base, sup, 'POST', '/api/auth/step-up', { otp: freshOtp(realm, 'supervisor') });
        expect(locked.code).to.equal('STEP_UP_FAILED');
        let err = '';
        try {
          await login(run.base, 'supervisor', realm);
        } catch (e) {
          err = String(e);
        }
        expect(err).to.match(/401.*LOGIN_FAILED/);
      });
    });
  });
}
