// Pushing to the provincial system: every licence, permit, change, follow-up result and revocation leaves as a signed XML
// report through the outbox, once each, retried while the province is down.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DepartmentSigner } from '../../src/trust/department.js';
import { application, client, freshStore, login, startGateway, STORES, writeConfig, type Client, type Running } from '../support/harness.js';
import { demoKeys, GATEWAY_ID } from '../support/signing.js';

/** The provincial system's receiving end: checks the gateway's signature, answers 503 while `down`, records what it took. */
async function startProvince(): Promise<{ server: Server; url: string; down: number; received: { messageId: string; event: string; fields: Record<string, string> }[]; badSignatures: number }> {
  const opener = new DepartmentSigner(demoKeys(), 'province', GATEWAY_ID);
  const p = { server: null as unknown as Server, url: '', down: 2, received: [] as { messageId: string; event: string; fields: Record<string, string> }[], badSignatures: 0 };
  p.server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (p.down > 0) {
        p.down--;
        return res.writeHead(503).end();
      }
      try {
        const { doc } = opener.openXml(body);
        // A repeat of a message already taken (a retry whose answer was lost) is acknowledged again, not recorded twice.
        if (!p.received.some((r) => r.messageId === doc.messageId)) p.received.push({ messageId: doc.messageId, event: doc.fields.event!, fields: doc.fields });
        res.writeHead(200, { 'message-id': `receipt-${doc.messageId}` }).end();
      } catch {
        p.badSignatures++;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
  p.url = `http://127.0.0.1:${(p.server.address() as AddressInfo).port}/reports`;
  return p;
}

for (const kind of STORES) {
  describe(`pushing to the provincial system (${kind})`, function () {
    this.timeout(60_000);
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let province: Awaited<ReturnType<typeof startProvince>>;
    let sec: Client, reg: Client, admin: Client;
    const reviewers: Record<string, Client> = {};
    const DEPS = ['xw-health', 'xw-environment', 'xw-fire'];

    before(async function () {
      store = await freshStore(kind, 'province-push');
      province = await startProvince();
      const configFile = writeConfig(store.dir, 'config.json', (cfg) => {
        cfg.adapters['province-xml'] = { kind: 'xml', options: { url: province.url, timeoutMs: 2000 }, retry: { maxAttempts: 6, baseDelayMs: 20, maxDelayMs: 100 } };
        cfg.province = { push: { adapter: 'province-xml' } };
      });
      run = await startGateway(store.db(), { configFile });
      sec = client(run.base, await login(run.base, 'secretary'));
      reg = client(run.base, await login(run.base, 'registrar'));
      admin = client(run.base, await login(run.base, 'admin'));
      for (const d of DEPS) reviewers[d] = client(run.base, await login(run.base, `reviewer-${d}`));
      expect((await admin.put('/api/admin/clock', { now: '2025-11-03T02:00:00Z' })).status).to.equal(200);
    });
    after(async function () {
      await run?.stop();
      await new Promise((r) => province?.server.close(r));
      await store?.cleanup();
    });

    it('reports the licence, permits, opening, follow-up results and the revocation once each, signed, after the province comes back', async function () {
      const created = await sec.post('/api/cases', application());
      const id = created.body.id as string;
      expect((await sec.post(`/api/cases/${id}/accept`)).status).to.equal(200);
      for (let i = 0; i < 200 && !(await run.gw.cases.get(id)).reviews.every((r) => r.state === 'delivered'); i++) await run.gw.dispatcher.runOnce();
      for (const d of DEPS) expect((await reviewers[d]!.post(`/api/cases/${id}/reviews/${d}/opinion`, { decision: 'approve' })).status).to.equal(200);
      const lic = await reg.post(`/api/cases/${id}/licence`);
      expect(lic.status, JSON.stringify(lic.body)).to.equal(201);
      const creditCode = lic.body.licence.creditCode as string;
      for (const d of DEPS) expect((await reviewers[d]!.post(`/api/cases/${id}/permits/${d}`, { permitNumber: `P-${d}` })).status).to.equal(200);
      const planned = await reviewers['xw-health']!.post(`/api/cases/${id}/inspections`, { departmentId: 'xw-health', plannedFor: '2025-11-05T02:00:00Z' });
      expect(planned.status, JSON.stringify(planned.body)).to.equal(201);
      const iid = planned.body.id as string;
      expect((await reviewers['xw-health']!.post(`/api/cases/${id}/inspections/${iid}/result`, { outcome: 'fail', findings: '后厨卫生不合格' })).status).to.equal(200);
      expect((await admin.put('/api/admin/clock', { now: '2025-11-18T02:00:00Z' })).status).to.equal(200);
      expect((await reviewers['xw-health']!.post(`/api/cases/${id}/inspections/${iid}/reinspection`, { outcome: 'fail', findings: '整改未完成' })).status).to.equal(200);

      const expected = ['licence.issued', 'permit.reported', 'permit.reported', 'permit.reported', 'case.operating', 'inspection.failed', 'rectification.ordered', 'inspection.failed_again', 'permit.revoked', 'scope_change.ordered'];
      const rows = () => run.gw.db.all<{ state: string; attempts: number }>("SELECT state, attempts FROM outbox WHERE kind = 'province-report' AND case_id = $1", [id]);
      for (let i = 0; i < 300 && (await rows()).some((r) => r.state !== 'delivered'); i++) {
        await run.gw.dispatcher.runOnce();
        await new Promise((r) => setTimeout(r, 20));
      }
      const final = await rows();
      expect(final.map((r) => r.state)).to.deep.equal(expected.map(() => 'delivered'));
      // The province was down for the first two attempts: those were retried.
      expect(final.some((r) => Number(r.attempts) > 1)).to.equal(true);
      expect(province.badSignatures).to.equal(0);
      expect(province.received.map((r) => r.event).sort()).to.deep.equal([...expected].sort());
      // Every report of the case names its credit code from the licence on, and the enterprise.
      for (const r of province.received) expect(r.fields).to.include({ creditCode, reference: lic.body.reference, divisionCode: '320102' });
      // The stored events and the reports agree one to one.
      const actions = [...new Set(expected)];
      const events = await run.gw.db.all<{ action: string }>(`SELECT action FROM events WHERE case_id = $1 AND action IN (${actions.map((_, i) => `$${i + 2}`).join(', ')})`, [id, ...actions]);
      expect(events.map((e) => e.action).sort()).to.deep.equal([...expected].sort());
    });

    it('refuses a configuration whose province adapter serves departments or is of another kind', async function () {
      const { loadConfig } = await import('../../src/config/load.js');
      const bad = [
        writeConfig(store.dir, 'bad-1.json', (cfg) => (cfg.province = { push: { adapter: 'simulated' } })),
        writeConfig(store.dir, 'bad-2.json', (cfg) => (cfg.province = { push: { adapter: 'nowhere' } })),
        writeConfig(store.dir, 'bad-3.json', (cfg) => {
          cfg.adapters.hook = { kind: 'rest', options: { url: 'http://127.0.0.1:9/x' } };
          cfg.province = { push: { adapter: 'hook' } };
        }),
      ];
      for (const f of bad) expect(() => loadConfig(f)).to.throw(/\/province\/push\/adapter/);
    });
  });
}
