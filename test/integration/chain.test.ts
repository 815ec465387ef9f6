// Chained reviews over HTTP on each store: a district department reviews first and reports up to the city department.
import { expect } from 'chai';
import { application, client, freshStore, login, startGateway, STORES, writeConfig, type Client, type Running } from '../support/harness.js';
import { signingClient } from '../support/signing.js';

for (const kind of STORES) {
  describe(`chained reviews (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let sec: Client, admin: Client;
    const reviewers: Record<string, Client> = {};

    before(async function () {
      store = await freshStore(kind, 'chain');
      // Hotels: the Xuanwu fire bureau reviews first and reports up to the Nanjing fire bureau.
      const configFile = writeConfig(store.dir, 'chain.json', (cfg) => {
        cfg.routes = cfg.routes.map((r: any) => (r.department === 'nj-fire' ? { filedIn: '320102', type: 'fire', department: 'xw-fire', items: ['hotel'], then: ['nj-fire'] } : r));
      });
      run = await startGateway(store.db(), { configFile });
      sec = client(run.base, await login(run.base, 'secretary'));
      admin = client(run.base, await login(run.base, 'admin'));
      for (const d of ['xw-health', 'xw-fire', 'xw-police', 'nj-fire']) reviewers[d] = signingClient(run.base, await login(run.base, `reviewer-${d}`));
      // Monday 2025-11-03, 10:00 in Shanghai.
      expect((await admin.put('/api/admin/clock', { now: '2025-11-03T02:00:00Z' })).status).to.equal(200);
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    async function waitFor(id: string, pred: (c: any) => boolean): Promise<any> {
      for (let i = 0; i < 200; i++) {
        await run.gw.dispatcher.runOnce();
        const c = (await sec.get(`/api/cases/${id}`)).body;
        if (pred(c)) return c;
        await new Promise((r) => setImmediate(r));
      }
      throw new Error(`case ${id} did not reach the expected state`);
    }
    const review = (c: any, d: string) => c.reviews.find((r: any) => r.departmentId === d);
    const answer = (c: any, d: string, decision = 'approve') => reviewers[d]!.post(`/api/cases/${c.id}/reviews/${d}/opinion`, { decision, reasons: '符合条件' });

    async function hotelCase(name: string) {
      const created = await sec.post('/api/cases', application({ enterpriseName: name, industry: 'hotel', businessScope: ['hotel'] }));
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      expect((await sec.post(`/api/cases/${created.body.id}/accept`)).status).to.equal(200);
      return waitFor(created.body.id, (c) => c.reviews.every((r: any) => r.state !== 'pending_delivery'));
    }

    it('notifies the city step after the district step approves; answering out of order is refused; each step shows its deadline', async function () {
      const c = await hotelCase('南京玄武链式审批酒店有限公司');
      expect(review(c, 'nj-fire')).to.include({ state: 'waiting', after: 'xw-fire', level: 'city', dueAt: null });
      expect(review(c, 'xw-fire')).to.include({ state: 'delivered', after: null });
      const early = await answer(c, 'nj-fire');
      expect(early.status, JSON.stringify(early.body)).to.equal(409);
      expect(early.body.error.code).to.equal('CHAIN_STEP_NOT_OPEN');
      expect(early.body.error.message).to.include('opens when xw-fire has approved');
      expect((await answer(c, 'xw-fire')).status).to.equal(200);
      const up = await waitFor(c.id, (x) => review(x, 'nj-fire').state === 'delivered');
      // Delivered Monday 2025-11-03: three working days, to the end of Thursday 2025-11-06 in Shanghai.
      expect(review(up, 'nj-fire').dueAt).to.equal('2025-11-06T15:59:59.999Z');
      expect(review(up, 'xw-fire').dueAt).to.equal('2025-11-10T15:59:59.999Z');
      for (const d of ['xw-police', 'xw-health']) expect((await answer(up, d)).status).to.equal(200);
      expect((await sec.get(`/api/cases/${c.id}`)).body.status).to.equal('in_review');
      expect((await answer(up, 'nj-fire')).status).to.equal(200);
      const done = (await sec.get(`/api/cases/${c.id}`)).body;
      expect(done.status).to.equal('awaiting_licence');
      const actions = done.timeline.map((e: any) => `${e.action}:${e.data.departmentId ?? ''}`);
      expect(actions).to.include.members(['review.chained:nj-fire', 'review.requested:nj-fire', 'review.approved:nj-fire']);
      expect(actions.indexOf('review.approved:xw-fire')).to.be.below(actions.indexOf('review.requested:nj-fire'));
    });

    it('silence at the district step is deemed approval and passes the case up to the city', async function () {
      const c = await hotelCase('南京玄武链式默认通过酒店有限公司');
      // After the district step's deadline (end of Monday 2025-11-10 in Shanghai).
      expect((await admin.put('/api/admin/clock', { now: '2025-11-11T02:00:00Z' })).status).to.equal(200);
      const up = await waitFor(c.id, (x) => review(x, 'nj-fire').state === 'delivered');
      expect(review(up, 'xw-fire').state).to.equal('deemed_approved');
      const refused = await answer(up, 'nj-fire', 'refuse');
      expect(refused.status).to.equal(200);
      expect((await sec.get(`/api/cases/${c.id}`)).body.status).to.equal('terminated');
    });

    it('refuses a configuration whose chains form a cycle, naming the path, and keeps the running one', async function () {
      const before = (await admin.get('/api/admin/config')).body;
      const doc = structuredClone(before.document);
      doc.departments.push({ ...doc.departments.find((d: any) => d.id === 'xw-fire'), id: 'qh-fire', name: '秦淮区消防救援大队', divisionCode: '320104' });
      doc.routes.push({ filedIn: '320102', type: 'fire', department: 'xw-fire', items: ['bar'], then: ['qh-fire'] });
      doc.routes.push({ filedIn: '320104', type: 'fire', department: 'qh-fire', then: ['xw-fire'] });
      const res = await admin.put('/api/admin/config', doc);
      expect(res.status).to.equal(422);
      expect(res.body.error.code).to.equal('CONFIG_CHANGE_INVALID');
      expect(res.body.error.details.path).to.equal('/routes');
      expect(res.body.error.message).to.match(/cycle: xw-fire -> qh-fire -> xw-fire/);
      doc.routes.pop();
      doc.routes.push({ filedIn: '320104', type: 'fire', department: 'qh-fire', then: ['xw-police'] });
      const wrongType = await admin.put('/api/admin/config', doc);
      expect(wrongType.status).to.equal(422);
      expect(wrongType.body.error.details.path).to.equal(`/routes/${doc.routes.length - 1}/then/0`);
      expect((await admin.get('/api/admin/config')).body.version).to.equal(before.version);
    });
  });
}
