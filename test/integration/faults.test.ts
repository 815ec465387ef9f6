// Fault tests: SIGKILL in the middle of firing deadlines and of sending notifications, and two gateways sharing one PostgreSQL.
import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import type { FakeAdapter } from '../../adapters/fake/index.js';
import { Gateway } from '../../src/gateway.js';
import { application, client, freshStore, login, silentLogger, STORES, testSettings, writeConfig } from '../support/harness.js';
import { spawnGateway } from '../support/process.js';
import { openGatewayJson } from '../support/signing.js';

const CASES = 30;

for (const kind of STORES) {
  describe(`faults (${kind})`, function () {
    this.timeout(120_000);

    it('fires every overdue deadline exactly once across a SIGKILL and a restart', async function () {
      const store = await freshStore(kind, 'sigkill');
      const env: Record<string, string> = { PAG_CLOCK: 'manual', DATA_DIR: store.dir, PAG_TIMEKEEPER_BATCH: '2' };
      if (kind === 'postgres') env.DATABASE_URL = `${store.url}?options=${encodeURIComponent(`-c search_path=${store.schema}`)}`;
      let gp = await spawnGateway(env);
      try {
        let admin = client(gp.base, await login(gp.base, 'admin', store.dir));
        const sec = client(gp.base, await login(gp.base, 'secretary', store.dir));
        await admin.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        const ids: string[] = [];
        for (let i = 0; i < CASES; i++) {
          const c = await sec.post('/api/cases', application());
          expect(c.status, JSON.stringify(c.body)).to.equal(201);
          await sec.post(`/api/cases/${c.body.id}/accept`);
          ids.push(c.body.id);
        }
        // Wait until every notification is delivered (the dispatcher runs in the child).
        for (let i = 0; i < 400; i++) {
          const list = (await sec.get('/api/cases?status=in_review&limit=500')).body.cases;
          if (list.length === CASES && list.every((c: any) => c.reviews.every((r: any) => r.state === 'delivered'))) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        // Move the clock past every deadline and kill the gateway while it is firing them.
        // Firing two deadlines per transaction, the gateway is killed as soon as the first ones are visible.
        const watcher = store.db();
        const deemedCount = async () => Number((await watcher.get<{ n: number }>(`SELECT COUNT(*) AS n FROM events WHERE action = 'review.deemed_approved'`))!.n);
        const moving = admin.put('/api/admin/clock', { now: '2025-11-03T00:00:00Z' }).catch(() => null);
        for (let i = 0; i < 20_000 && (await deemedCount()) === 0; i++);
        await gp.kill('SIGKILL');
        await moving;
        const firedBeforeKill = await deemedCount();
        await watcher.close();
        this.test!.title += ` (killed after ${firedBeforeKill} of ${CASES * 3})`;

        gp = await spawnGateway(env);
        admin = client(gp.base, await login(gp.base, 'admin', store.dir));
        const sup = client(gp.base, await login(gp.base, 'supervisor', store.dir));
        // Whether or not the clock change committed before the kill, setting it again fires what is left.
        expect((await admin.put('/api/admin/clock', { now: '2025-11-03T00:00:01Z' })).status).to.equal(200);
        for (const id of ids) {
          const c = (await sup.get(`/api/cases/${id}`)).body;
          expect(c.status).to.equal('awaiting_licence');
          expect(c.reviews.map((r: any) => r.state)).to.deep.equal(['deemed_approved', 'deemed_approved', 'deemed_approved']);
          const deemed = c.timeline.filter((e: any) => e.action === 'review.deemed_approved').map((e: any) => e.data.departmentId);
          expect(deemed.sort()).to.deep.equal(['xw-environment', 'xw-fire', 'xw-health']);
          expect(c.timeline.filter((e: any) => e.action === 'case.awaiting_licence')).to.have.length(1);
        }
        const audit = await sup.get('/api/audit/verify');
        expect(audit.body.ok, JSON.stringify(audit.body)).to.equal(true);
      } finally {
        await gp.kill('SIGKILL');
        await store.cleanup();
      }
    });
  });
}

/** A department webhook that takes a little while to answer, so that a gateway can be killed with sends in flight; it opens each signed envelope as its department. */
async function slowWebhook(delayMs: number) {
  const received: { messageId: string; caseId: string; departmentId: string; at: number }[] = [];
  const app = express();
  app.use(express.text({ type: 'application/jose' }));
  app.post('/notify', async (req, res) => {
    // One webhook serves three departments here: it opens each envelope as the department the envelope is addressed to.
    // Recorded as it arrives, before the signature check (which is asynchronous), so that a message's arrival is on
    // record before its connection's close is seen; a message that fails the check is struck off again.
    const claimed = JSON.parse(Buffer.from(String(req.body).split('.')[1] ?? '', 'base64url').toString());
    const entry = { messageId: String(claimed.messageId), caseId: String(claimed.caseId), departmentId: String(claimed.receiver), at: Date.now() };
    received.push(entry);
    try {
      const body = await openGatewayJson(String(req.body), entry.departmentId);
      if (body.messageId !== entry.messageId) throw new Error('payload changed');
    } catch {
      received.splice(received.indexOf(entry), 1);
      return void res.status(401).json({ ok: false });
    }
    setTimeout(() => res.status(200).json({ ok: true }), delayMs);
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/notify`,
    received,
    /** Open connections: a killed gateway's are closed by the kernel, and their requests have been read by then. */
    connections: () => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n)))),
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

for (const kind of STORES) {
  describe(`faults while sending (${kind})`, function () {
    this.timeout(120_000);

    it('delivers every notification, each taking effect once, across a SIGKILL in the middle of a batch', async function () {
      const store = await freshStore(kind, 'sigkill_send');
      const peer = await slowWebhook(30);
      const file = writeConfig(store.dir, 'sending.json', (cfg) => {
        cfg.adapters.simulated = { kind: 'rest', options: { url: peer.url, timeoutMs: 5000 }, retry: { maxAttempts: 20, baseDelayMs: 50, maxDelayMs: 200 } };
      });
      // A short lease, so that what the killed gateway had in flight goes out again within the test rather than after a minute.
      const env: Record<string, string> = { PAG_CLOCK: 'manual', DATA_DIR: store.dir, PAG_CONFIG: file, PAG_DISPATCH_LEASE_MS: '1500' };
      if (kind === 'postgres') env.DATABASE_URL = `${store.url}?options=${encodeURIComponent(`-c search_path=${store.schema}`)}`;
      let gp = await spawnGateway(env);
      try {
        const sec = client(gp.base, await login(gp.base, 'secretary', store.dir));
        const ids: string[] = [];
        for (let i = 0; i < CASES; i++) {
          const c = await sec.post('/api/cases', application());
          expect(c.status, JSON.stringify(c.body)).to.equal(201);
          ids.push(c.body.id);
        }
        // Accept them all at once, and kill the gateway as soon as its department has seen a few notifications.
        const accepting = Promise.all(ids.map((id) => sec.post(`/api/cases/${id}/accept`).catch(() => null)));
        for (let i = 0; i < 2000 && peer.received.length < 10; i++) await new Promise((r) => setTimeout(r, 5));
        await gp.kill('SIGKILL');
        await accepting;
        this.test!.title += ` (killed after ${new Set(peer.received.map((r) => r.messageId)).size} sends)`;

        // Anything the department received before this instant was sent by the killed gateway, so only such messages may
        // arrive a second time. Its last bytes are read a moment after the kill: wait until its connections are closed.
        for (let i = 0; i < 400 && (await peer.connections()) > 0; i++) await new Promise((r) => setTimeout(r, 5));
        const restartedAt = Date.now();
        gp = await spawnGateway(env);
        const sup = client(gp.base, await login(gp.base, 'supervisor', store.dir));
        const sec2 = client(gp.base, await login(gp.base, 'secretary', store.dir));
        // Cases whose acceptance did not commit before the kill are still submitted; the secretary accepts them again.
        for (const id of ids) {
          if ((await sup.get(`/api/cases/${id}`)).body.status === 'submitted') expect((await sec2.post(`/api/cases/${id}/accept`)).status).to.equal(200);
        }
        let cases: any[] = [];
        for (let i = 0; i < 600; i++) {
          cases = await Promise.all(ids.map(async (id) => (await sup.get(`/api/cases/${id}`)).body));
          if (cases.every((c) => c.reviews.every((r: any) => r.state === 'delivered'))) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        const messages = store.db();
        const rows = await messages.all<{ id: string; state: string; case_id: string; department_id: string }>('SELECT id, state, case_id, department_id FROM outbox');
        await messages.close();
        expect(rows).to.have.length(CASES * 3);
        expect(rows.filter((r) => r.state !== 'delivered')).to.deep.equal([]);
        for (const c of cases) {
          expect(c.status).to.equal('in_review');
          expect(c.reviews.map((r: any) => r.state)).to.deep.equal(['delivered', 'delivered', 'delivered']);
          const delivered = c.timeline.filter((e: any) => e.action === 'review.delivered').map((e: any) => e.data.departmentId);
          expect(delivered.sort(), c.id).to.deep.equal(['xw-environment', 'xw-fire', 'xw-health']);
        }
        // Every message reached the department; only those in flight at the kill may have reached it twice.
        const times = new Map<string, number>();
        for (const r of peer.received) times.set(r.messageId, (times.get(r.messageId) ?? 0) + 1);
        expect([...times.keys()].sort()).to.deep.equal(rows.map((r) => r.id).sort());
        const twice = [...times].filter(([, n]) => n > 1).map(([id]) => id);
        const sentByKilled = new Set(peer.received.filter((r) => r.at < restartedAt).map((r) => r.messageId));
        for (const id of twice) expect(sentByKilled.has(id), `message ${id} sent twice but not sent by the killed gateway`).to.equal(true);
        expect(peer.received.filter((r) => r.at >= restartedAt && sentByKilled.has(r.messageId)).length).to.equal(twice.length);
        const audit = await sup.get('/api/audit/verify');
        expect(audit.body.ok, JSON.stringify(audit.body)).to.equal(true);
      } finally {
        await gp.kill('SIGKILL');
        await peer.close();
        await store.cleanup();
      }
    });
  });
}

if (STORES.includes('postgres')) {
  describe('two gateways on one PostgreSQL', function () {
    this.timeout(120_000);

    it('as two processes, never both fire one deadline', async function () {
      const store = await freshStore('postgres', 'twoproc');
      const env = { PAG_CLOCK: 'manual', DATA_DIR: store.dir, PAG_TIMEKEEPER_BATCH: '3', DATABASE_URL: `${store.url}?options=${encodeURIComponent(`-c search_path=${store.schema}`)}` };
      const a = await spawnGateway(env);
      const b = await spawnGateway(env);
      try {
        const adminA = client(a.base, await login(a.base, 'admin', store.dir));
        const adminB = client(b.base, await login(b.base, 'admin', store.dir));
        const sec = client(a.base, await login(a.base, 'secretary', store.dir));
        await adminA.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        await adminB.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        for (let i = 0; i < CASES; i++) {
          const c = (await sec.post('/api/cases', application())).body;
          await sec.post(`/api/cases/${c.id}/accept`);
        }
        const watcher = store.db();
        try {
          const count = async (q: string) => Number((await watcher.get<{ n: number }>(q))!.n);
          for (let i = 0; i < 2000 && (await count(`SELECT COUNT(*) AS n FROM reviews WHERE state = 'delivered'`)) < CASES * 3; i++) await new Promise((r) => setTimeout(r, 10));
          expect(await count(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'delivered'`)).to.equal(CASES * 3);
          // Both gateways see their clocks pass every deadline at once and race to fire them.
          const [ra, rb] = await Promise.all([
            adminA.put('/api/admin/clock', { now: '2025-11-03T00:00:00Z' }),
            adminB.put('/api/admin/clock', { now: '2025-11-03T00:00:00Z' }),
          ]);
          expect([ra.status, rb.status]).to.deep.equal([200, 200]);
          expect(await count(`SELECT COUNT(*) AS n FROM events WHERE action = 'review.deemed_approved'`)).to.equal(CASES * 3);
          expect(await count(`SELECT COUNT(*) AS n FROM (SELECT case_id, data FROM events WHERE action = 'review.deemed_approved' GROUP BY case_id, data HAVING COUNT(*) > 1) d`)).to.equal(0);
          expect(await count(`SELECT COUNT(*) AS n FROM events WHERE action = 'case.awaiting_licence'`)).to.equal(CASES);
          // Which gateway fired what is recorded in the actor; with a small batch both usually take part.
          this.test!.title += ` (${await count(`SELECT COUNT(DISTINCT actor) AS n FROM events WHERE action = 'review.deemed_approved'`)} distinct firing actors)`;
        } finally {
          await watcher.close();
        }
      } finally {
        await a.kill('SIGKILL');
        await b.kill('SIGKILL');
        await store.cleanup();
      }
    });

    it('share the outbox without double-sending and never both fire one deadline', async function () {
      const store = await freshStore('postgres', 'twogw');
      const a = await Gateway.open({ settings: testSettings(), db: store.db(), logger: silentLogger(), pollMs: 20 });
      const b = await Gateway.open({ settings: testSettings(), db: store.db(), logger: silentLogger(), pollMs: 20 });
      const pa = await a.start();
      await b.start();
      try {
        const base = `http://127.0.0.1:${pa.port}`;
        const sec = client(base, await login(base, 'secretary'));
        const t0 = Date.parse('2025-09-26T02:00:00Z');
        await a.setClock(t0, { kind: 'system', id: 'test' });
        await b.setClock(t0, { kind: 'system', id: 'test' });
        const ids: string[] = [];
        for (let i = 0; i < CASES; i++) {
          const c = (await sec.post('/api/cases', application())).body;
          await sec.post(`/api/cases/${c.id}/accept`);
          ids.push(c.id);
        }
        const fa = a.adapters.get('simulated') as FakeAdapter;
        const fb = b.adapters.get('simulated') as FakeAdapter;
        for (let i = 0; i < 400 && fa.received.length + fb.received.length < CASES * 3; i++) {
          await Promise.all([a.dispatcher.runOnce(), b.dispatcher.runOnce()]);
        }
        const sent = [...fa.received, ...fb.received].map((m) => m.id);
        expect(sent).to.have.length(CASES * 3);
        expect(new Set(sent).size).to.equal(CASES * 3);
        const late = Date.parse('2025-11-03T00:00:00Z');
        await Promise.all([a.setClock(late, { kind: 'system', id: 'test' }), b.setClock(late, { kind: 'system', id: 'test' })]);
        await Promise.all([a.timekeeper.settled(), b.timekeeper.settled()]);
        const rows = await a.db.all<{ case_id: string; n: number }>(
          `SELECT case_id, COUNT(*) AS n FROM events WHERE action = 'review.deemed_approved' GROUP BY case_id`,
        );
        expect(rows).to.have.length(CASES);
        rows.forEach((r) => expect(Number(r.n)).to.equal(3));
        const settled = await a.db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM cases WHERE status = 'awaiting_licence'`);
        expect(Number(settled[0]!.n)).to.equal(CASES);
      } finally {
        await a.stop();
        await b.stop();
        await store.cleanup();
      }
    });
  });
}
