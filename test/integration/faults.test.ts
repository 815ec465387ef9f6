// Fault tests: SIGKILL in the middle of firing deadlines, and two gateways sharing one PostgreSQL.
import { expect } from 'chai';
import type { FakeAdapter } from '../../adapters/fake/index.js';
import { Gateway } from '../../src/gateway.js';
import { application, client, freshStore, login, silentLogger, STORES, testSettings } from '../support/harness.js';
import { spawnGateway } from '../support/process.js';

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
