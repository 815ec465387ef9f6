// Complaints and the period supervision report over each store: filed, answered late, reopened, resolved, audited, counted.
import { expect } from 'chai';
import { application, client, deliveredCase, freshStore, login, startGateway, STORES, writeConfig, type Client, type Running } from '../support/harness.js';
import { signingClient } from '../support/signing.js';

for (const kind of STORES) {
  describe(`complaints and the supervision report (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let sec: Client, reg: Client, admin: Client, sup: Client;
    const reviewers: Record<string, Client> = {};
    const DEPS = ['xw-health', 'xw-environment', 'xw-fire'];
    const REVIEWERS = [...DEPS, 'xw-culture'];
    const setClock = async (now: string) => expect((await admin.put('/api/admin/clock', { now })).status).to.equal(200);

    before(async function () {
      store = await freshStore(kind, 'complaints');
      // The culture bureau's system refuses every message, so its notifications end as failed deliveries.
      const file = writeConfig(store.dir, 'complaints.json', (cfg) => {
        cfg.adapters.broken = { kind: 'fake', options: { behaviour: 'fail' }, retry: { maxAttempts: 1, baseDelayMs: 100, maxDelayMs: 100 } };
        cfg.departments.find((d: any) => d.id === 'xw-culture').adapter = 'broken';
      });
      run = await startGateway(store.db(), { configFile: file });
      sec = client(run.base, await login(run.base, 'secretary'));
      reg = client(run.base, await login(run.base, 'registrar'));
      admin = client(run.base, await login(run.base, 'admin'));
      sup = client(run.base, await login(run.base, 'supervisor'));
      for (const d of REVIEWERS) reviewers[d] = signingClient(run.base, await login(run.base, `reviewer-${d}`));
      // Monday 2025-11-03, 10:00 in Shanghai.
      await setClock('2025-11-03T02:00:00Z');
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    const delivered = () => deliveredCase(run, sec);
    const opinion = async (caseId: string, d: string, decision: string) => {
      const res = await reviewers[d]!.post(`/api/cases/${caseId}/reviews/${d}/opinion`, { decision, reasons: '依据相关规定' });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    };

    it('tracks complaints to resolution with their deadlines, audits each step, and reports the period per department', async function () {
      const a = await delivered();
      const b = await delivered();
      const bookstore = await sec.post('/api/cases', application({ industry: 'bookstore', businessScope: ['bookstore'] }));
      expect((await sec.post(`/api/cases/${bookstore.body.id}/accept`)).status).to.equal(200);
      for (let i = 0; i < 50; i++) {
        await run.gw.dispatcher.runOnce();
        if ((await run.gw.db.get("SELECT 1 AS x FROM outbox WHERE case_id = $1 AND state = 'failed'", [bookstore.body.id])) !== undefined) break;
        await new Promise((r) => setTimeout(r, 20));
      }

      // Filing: the counter on the applicant's behalf, about a department reviewing the case or the bureau itself.
      const k1 = await sec.post(`/api/cases/${a}/complaints`, { departmentId: 'xw-health', text: '审查进度无人答复', contact: '13800000000' });
      expect(k1.status, JSON.stringify(k1.body)).to.equal(201);
      // Five working days from Monday 2025-11-03: the end of Monday 2025-11-10 in Shanghai.
      expect(k1.body).to.include({ state: 'open', caseId: a, departmentId: 'xw-health', dueAt: '2025-11-10T15:59:59.999Z', overdue: false, filedBy: 'secretary' });
      expect(k1.headers.get('location')).to.equal(`/api/complaints/${k1.body.id}`);
      const k2 = await reg.post(`/api/cases/${a}/complaints`, { departmentId: 'bureau', text: '窗口等候时间过长', contact: 'a@example.cn' });
      expect(k2.status).to.equal(201);

      const missing = await sec.post('/api/cases/no-such-case/complaints', { departmentId: 'xw-health', text: 't', contact: 'c' });
      expect(missing.status).to.equal(404);
      expect(missing.body.error).to.deep.include({ code: 'NOT_FOUND', details: { what: 'case' } });
      const unconcerned = await sec.post(`/api/cases/${a}/complaints`, { departmentId: 'xw-police', text: 't', contact: 'c' });
      expect(unconcerned.status).to.equal(422);
      expect(unconcerned.body.error.code).to.equal('COMPLAINT_DEPARTMENT_NOT_CONCERNED');
      const invalid = await sec.post(`/api/cases/${a}/complaints`, { departmentId: 'xw-health', contact: 'c' });
      expect(invalid.status).to.equal(422);
      expect(invalid.body.error.code).to.equal('VALIDATION_FAILED');
      expect((await reviewers['xw-health']!.post(`/api/cases/${a}/complaints`, { departmentId: 'xw-health', text: 't', contact: 'c' })).status).to.equal(403);

      // A department sees and answers only complaints about itself.
      expect((await reviewers['xw-fire']!.get(`/api/complaints/${k1.body.id}`)).status).to.equal(404);
      expect((await reviewers['xw-fire']!.post(`/api/complaints/${k1.body.id}/answer`, { response: 'x' })).status).to.equal(404);
      expect((await reviewers['xw-health']!.get('/api/complaints')).body.complaints.map((k: any) => k.id)).to.deep.equal([k1.body.id]);
      expect((await reviewers['xw-health']!.get(`/api/cases/${a}/complaints`)).body.complaints.map((k: any) => k.id)).to.deep.equal([k1.body.id]);
      expect((await sec.get(`/api/cases/${a}/complaints`)).body.complaints).to.have.length(2);
      expect((await reviewers['xw-culture']!.get(`/api/cases/${a}/complaints`)).status).to.equal(404);
      expect((await sup.get('/api/complaints')).body.complaints.map((k: any) => k.id)).to.have.members([k1.body.id, k2.body.id]);
      const early = await sup.post(`/api/complaints/${k1.body.id}/resolve`, {});
      expect(early.status).to.equal(409);
      expect(early.body.error.code).to.equal('COMPLAINT_TRANSITION_NOT_ALLOWED');

      // Reviews: health approves at once, environment extends then approves, fire stays silent on A and refuses B.
      await opinion(a, 'xw-health', 'approve');
      await opinion(a, 'xw-environment', 'extend');
      await setClock('2025-11-04T02:00:00Z');
      await opinion(a, 'xw-environment', 'approve');
      await opinion(b, 'xw-fire', 'refuse');
      // Tuesday 2025-11-11: fire's silence on A is a deemed approval; both complaints are past their deadline.
      await setClock('2025-11-11T02:00:00Z');
      let caseA: any;
      for (let i = 0; i < 50; i++) {
        caseA = (await sec.get(`/api/cases/${a}`)).body;
        if (caseA.status === 'awaiting_licence') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(caseA.reviews.find((r: any) => r.departmentId === 'xw-fire').state).to.equal('deemed_approved');

      const live = (await sup.get('/api/supervision/overdue')).body;
      expect(live.complaints.overdue.map((k: any) => k.complaintId)).to.have.members([k1.body.id, k2.body.id]);
      expect(live.complaints.open).to.have.length(2);
      expect(live.perDepartment['xw-health']).to.include({ openComplaints: 1, overdueComplaints: 1 });
      expect((await sup.get('/api/complaints?overdue=true')).body.complaints).to.have.length(2);
      expect((await sup.get(`/api/complaints/${k1.body.id}`)).body.overdue).to.equal(true);

      // The late answer, reopened by the supervisor with a fresh deadline, answered again and closed.
      const ans = await reviewers['xw-health']!.post(`/api/complaints/${k1.body.id}/answer`, { response: '已于11月3日审查完毕' });
      expect(ans.status, JSON.stringify(ans.body)).to.equal(200);
      expect(ans.body).to.include({ state: 'answered', answeredLate: true, answeredBy: 'reviewer-xw-health', overdue: false });
      const reopened = await sup.post(`/api/complaints/${k1.body.id}/reopen`, { reason: '未说明延误原因' });
      expect(reopened.status).to.equal(200);
      // Five working days from Tuesday 2025-11-11: the end of Tuesday 2025-11-18.
      expect(reopened.body).to.include({ state: 'reopened', dueAt: '2025-11-18T15:59:59.999Z', reopened: 1, overdue: false });
      expect((await reviewers['xw-health']!.post(`/api/complaints/${k1.body.id}/answer`, { response: '系统通知延迟，已整改' })).body.state).to.equal('answered');
      const resolved = await sup.post(`/api/complaints/${k1.body.id}/resolve`, { note: '申请人满意' });
      expect(resolved.body).to.include({ state: 'resolved', resolvedBy: 'supervisor' });
      expect((await sup.post(`/api/complaints/${k1.body.id}/reopen`, { reason: 'x' })).body.error.code).to.equal('COMPLAINT_TRANSITION_NOT_ALLOWED');
      expect((await reg.post(`/api/complaints/${k2.body.id}/answer`, { response: '已增设窗口' })).body).to.include({ state: 'answered', answeredLate: true });

      const timeline = (await sec.get(`/api/cases/${a}`)).body.timeline as any[];
      const actions = timeline.filter((e) => e.action.startsWith('complaint.')).map((e) => e.action);
      expect(actions).to.deep.equal(['complaint.filed', 'complaint.filed', 'complaint.answered', 'complaint.reopened', 'complaint.answered', 'complaint.resolved', 'complaint.answered']);
      expect(JSON.stringify(timeline)).to.not.include('13800000000');
      expect((await sup.get('/api/audit/verify')).body.ok).to.equal(true);

      // Licence, then the health permit reported at the counter after its deadline (15 working days from 2025-11-11).
      expect((await reg.post(`/api/cases/${a}/licence`)).status).to.equal(201);
      await setClock('2025-12-10T02:00:00Z');
      expect((await reg.post(`/api/cases/${a}/permits/xw-health`, { permitNumber: 'JY13201020000001' })).status).to.equal(200);

      const report = await sup.get('/api/supervision/report?from=2025-11-01&to=2025-12-31');
      expect(report.status, JSON.stringify(report.body)).to.equal(200);
      expect(report.body.from).to.equal('2025-10-31T16:00:00.000Z');
      expect(report.body.to).to.equal('2025-12-31T16:00:00.000Z');
      const d = report.body.departments;
      // Health: A approved at delivery (B's review was cancelled by fire's refusal); one complaint, answered late, resolved; one permit late.
      expect(d['xw-health']).to.deep.equal({
        reviews: { considered: 1, delivered: 1, decidedOnTime: 1, approved: 1, refused: 0, deemedApproved: 0, extended: 0, open: 0, meanDaysToDecide: 0 },
        failedDeliveries: 0,
        complaints: { received: 1, resolved: 1, overdue: 1 },
        permitsReportedLate: 1,
      });
      expect(d['xw-environment'].reviews).to.include({ considered: 1, approved: 1, extended: 1, decidedOnTime: 1, meanDaysToDecide: 1 });
      // Fire: deemed approval on A (not a decision of its own), refusal of B a day after delivery.
      expect(d['xw-fire'].reviews).to.include({ considered: 2, deemedApproved: 1, refused: 1, decidedOnTime: 1, meanDaysToDecide: 1 });
      expect(d.bureau.complaints).to.deep.equal({ received: 1, resolved: 0, overdue: 1 });
      // The bookstore's notification to the culture bureau was given up; its review never started, so it counts nowhere else.
      expect(d['xw-culture']).to.deep.include({ failedDeliveries: 1 });
      expect(d['xw-culture'].reviews.considered).to.equal(0);
      expect(report.body.totals).to.deep.include({ complaints: { received: 2, resolved: 1, overdue: 2 }, permitsReportedLate: 1, failedDeliveries: 1 });
      expect(report.body.totals.reviews).to.include({ considered: 4, deemedApproved: 1, refused: 1, extended: 1 });

      const onlyFire = await sup.get('/api/supervision/report?from=2025-11-01&to=2025-11-30&department=xw-fire');
      expect(Object.keys(onlyFire.body.departments)).to.deep.equal(['xw-fire']);
      expect(onlyFire.body.totals.reviews.considered).to.equal(2);
      // Nothing in October.
      expect((await sup.get('/api/supervision/report?from=2025-10-01&to=2025-10-31')).body.totals.reviews.considered).to.equal(0);
      expect((await sup.get('/api/supervision/report?from=2025-11-01&to=2025-11-30&department=nowhere')).body.error.code).to.equal('UNKNOWN_DEPARTMENT');
      expect((await sup.get('/api/supervision/report?from=2025-11&to=2025-11-30')).body.error.code).to.equal('VALIDATION_FAILED');
      expect((await reviewers['xw-fire']!.get('/api/supervision/report?from=2025-11-01&to=2025-11-30')).status).to.equal(403);
    });
  });
}
