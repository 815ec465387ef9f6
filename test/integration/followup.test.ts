// Follow-up visits over each store: inspections planned, failed, rectified or revoked, as signed messages applied once each.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from '../../adapters/adapter.js';
import { application, client, freshStore, login, startGateway, STORES, writeConfig, type Client, type Running } from '../support/harness.js';
import { signerFor, signingClient } from '../support/signing.js';

for (const kind of STORES) {
  describe(`follow-up visits (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let sec: Client, reg: Client, admin: Client, sup: Client;
    const reviewers: Record<string, Client> = {};
    const tokens: Record<string, string> = {};
    const DEPS = ['xw-health', 'xw-environment', 'xw-fire'];

    before(async function () {
      store = await freshStore(kind, 'followup');
      // Departments with systems of their own, which sign their reports (the gateway signs only for hosted departments).
      run = await startGateway(store.db(), { configFile: writeConfig(store.dir, 'config.json', (cfg) => cfg.departments.forEach((d: any) => (d.hosted = false))) });
      sec = client(run.base, await login(run.base, 'secretary'));
      reg = client(run.base, await login(run.base, 'registrar'));
      admin = client(run.base, await login(run.base, 'admin'));
      sup = client(run.base, await login(run.base, 'supervisor'));
      for (const d of DEPS) {
        tokens[d] = await login(run.base, `reviewer-${d}`);
        reviewers[d] = signingClient(run.base, tokens[d]!);
      }
      // Monday 2025-11-03, 10:00 in Shanghai.
      expect((await admin.put('/api/admin/clock', { now: '2025-11-03T02:00:00Z' })).status).to.equal(200);
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    async function licensedCase(): Promise<any> {
      const created = await sec.post('/api/cases', application());
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      expect((await sec.post(`/api/cases/${created.body.id}/accept`)).status).to.equal(200);
      for (let i = 0; i < 200; i++) {
        await run.gw.dispatcher.runOnce();
        if ((await sec.get(`/api/cases/${created.body.id}`)).body.reviews.every((r: any) => r.state === 'delivered')) break;
      }
      for (const d of DEPS) expect((await reviewers[d]!.post(`/api/cases/${created.body.id}/reviews/${d}/opinion`, { decision: 'approve', reasons: '符合条件' })).status).to.equal(200);
      const lic = await reg.post(`/api/cases/${created.body.id}/licence`);
      expect(lic.status, JSON.stringify(lic.body)).to.equal(201);
      return lic.body;
    }

    /** The department's signed inspection report (compact JWS), posted as that department's reviewer. */
    async function signedReport(caseId: string, inspectionId: string, departmentId: string, stage: 'result' | 'reinspection', outcome: 'pass' | 'fail', findings: string | null, messageId = randomUUID()) {
      const msg: IncomingMessage = { messageId, kind: 'inspection', departmentId, caseId, inspectionId, stage, outcome, findings };
      const jws = await signerFor(departmentId).jws(msg);
      const post = () => client(run.base, tokens[departmentId]!).post(`/api/cases/${caseId}/inspections/${inspectionId}/${stage}`, jws, { 'content-type': 'application/jose' });
      return { first: await post(), again: post };
    }
    const timeline = async (id: string) => (await sec.get(`/api/cases/${id}`)).body.timeline as any[];

    it('plans an inspection, orders rectification after a failed one, and revokes the permit when the re-inspection fails', async function () {
      const c = await licensedCase();
      const early = await reviewers['xw-health']!.post(`/api/cases/${c.id}/inspections`, { departmentId: 'xw-fire', plannedFor: '2025-11-05T02:00:00Z' });
      expect(early.status).to.equal(403);
      const planned = await reviewers['xw-health']!.post(`/api/cases/${c.id}/inspections`, { departmentId: 'xw-health', plannedFor: '2025-11-05T02:00:00Z' });
      expect(planned.status, JSON.stringify(planned.body)).to.equal(201);
      expect(planned.body).to.include({ state: 'planned', departmentId: 'xw-health', caseId: c.id });
      const id = planned.body.id as string;

      // Unsigned JSON is refused while signatures are required, and changes nothing.
      const unsigned = await reviewers['xw-health']!.post(`/api/cases/${c.id}/inspections/${id}/result`, { outcome: 'pass' });
      expect(unsigned.status).to.equal(401);
      expect(unsigned.body.error.code).to.equal('MESSAGE_UNSIGNED');

      const failed = await signedReport(c.id, id, 'xw-health', 'result', 'fail', '后厨卫生不合格');
      expect(failed.first.status, JSON.stringify(failed.first.body)).to.equal(200);
      // Failed on Monday 2025-11-03: ten working days to rectify, to the end of Monday 2025-11-17 in Shanghai.
      expect(failed.first.body).to.include({ state: 'rectifying', findings: '后厨卫生不合格', rectifyDueAt: '2025-11-17T15:59:59.999Z' });
      const events = (await timeline(c.id)).length;
      // The same signed message again: accepted as a repeat, no second effect.
      const repeat = await failed.again();
      expect(repeat.status).to.equal(200);
      expect(repeat.body.state).to.equal('rectifying');
      expect((await timeline(c.id)).length).to.equal(events);

      const tooEarly = await signedReport(c.id, id, 'xw-health', 'reinspection', 'fail', '仍不合格');
      expect(tooEarly.first.status).to.equal(409);
      expect(tooEarly.first.body.error.code).to.equal('INSPECTION_NOT_DUE');
      expect((await sup.get('/api/inspections?reinspectionDue=true')).body.inspections.map((i: any) => i.id)).to.not.include(id);

      expect((await admin.put('/api/admin/clock', { now: '2025-11-18T02:00:00Z' })).status).to.equal(200);
      expect((await sup.get('/api/inspections?reinspectionDue=true')).body.inspections.map((i: any) => i.id)).to.include(id);
      // The re-inspection as a signed XML document over XML over HTTP: the same message kind on another channel.
      const doc = signerFor('xw-health').xml({ messageId: randomUUID(), kind: 'inspection', departmentId: 'xw-health', caseId: c.id, inspectionId: id, stage: 'reinspection', outcome: 'fail', findings: '整改未完成' });
      const xml = await fetch(`${run.base}/xml/messages`, { method: 'POST', headers: { 'content-type': 'application/xml', authorization: `Bearer ${tokens['xw-health']}` }, body: doc });
      expect(xml.status, await xml.clone().text()).to.equal(200);
      const inspection = (await reviewers['xw-health']!.get(`/api/cases/${c.id}/inspections`)).body.inspections[0];
      expect(inspection).to.include({ id, state: 'revoked', reinspectionFindings: '整改未完成' });
      const after = (await sec.get(`/api/cases/${c.id}`)).body;
      const actions = (after.timeline as any[]).map((e) => e.action);
      expect(actions).to.include.members(['inspection.planned', 'inspection.failed', 'rectification.ordered', 'inspection.failed_again', 'permit.revoked', 'scope_change.ordered']);
      expect((after.timeline as any[]).find((e) => e.action === 'scope_change.ordered').data.remove).to.deep.equal(['catering']);
      const stored = await run.gw.cases.get(c.id);
      expect(stored.permits.find((p) => p.departmentId === 'xw-health')!.revokedAt).to.be.a('number');
      expect(stored.permits.find((p) => p.departmentId === 'xw-fire')!.revokedAt).to.equal(null);
      // No further visit on a revoked permit.
      const again = await reviewers['xw-health']!.post(`/api/cases/${c.id}/inspections`, { departmentId: 'xw-health', plannedFor: '2025-12-01T02:00:00Z' });
      expect(again.status).to.equal(409);
      expect(again.body.error.code).to.equal('FOLLOW_UP_NOT_ALLOWED');
    });

    it('closes a passed inspection; a department sees and answers only its own inspections', async function () {
      const c = await licensedCase();
      const planned = await reviewers['xw-fire']!.post(`/api/cases/${c.id}/inspections`, { departmentId: 'xw-fire', plannedFor: '2025-11-20T02:00:00Z' });
      expect(planned.status).to.equal(201);
      const id = planned.body.id as string;
      expect((await reviewers['xw-health']!.get(`/api/cases/${c.id}/inspections`)).body.inspections).to.deep.equal([]);
      // Another department's report of this inspection: not found to it, and nothing changes.
      const foreign = await signedReport(c.id, id, 'xw-health', 'result', 'pass', null);
      expect(foreign.first.status).to.equal(404);
      const passed = await signedReport(c.id, id, 'xw-fire', 'result', 'pass', '消防设施完好');
      expect(passed.first.status).to.equal(200);
      expect(passed.first.body).to.include({ state: 'passed' });
      expect(passed.first.body.closedAt).to.be.a('string');
      const second = await signedReport(c.id, id, 'xw-fire', 'result', 'fail', '另行检查');
      expect(second.first.status).to.equal(409);
      expect(second.first.body.error.code).to.equal('INSPECTION_NOT_OPEN');
      const mine = (await reviewers['xw-fire']!.get('/api/inspections')).body.inspections;
      expect(mine.every((i: any) => i.departmentId === 'xw-fire')).to.equal(true);
      expect(mine.map((i: any) => i.id)).to.include(id);
    });

    it('refuses a visit to an enterprise that is not licensed', async function () {
      const created = await sec.post('/api/cases', application());
      expect((await sec.post(`/api/cases/${created.body.id}/accept`)).status).to.equal(200);
      const res = await reviewers['xw-fire']!.post(`/api/cases/${created.body.id}/inspections`, { departmentId: 'xw-fire', plannedFor: '2025-11-20T02:00:00Z' });
      expect(res.status).to.equal(409);
      expect(res.body.error.code).to.equal('FOLLOW_UP_NOT_ALLOWED');
    });
  });
}
