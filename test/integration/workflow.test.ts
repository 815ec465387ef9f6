// The whole workflow over HTTP, against each store: one door, parallel review, deadlines, licence, permits.
import { expect } from 'chai';
import { validateCreditCode } from '../../src/domain/uscc.js';
import type { FakeAdapter } from '../../adapters/fake/index.js';
import { application, client, freshStore, login, startGateway, STORES, type Client, type Running } from '../support/harness.js';
import { signingClient } from '../support/signing.js';

for (const kind of STORES) {
  describe(`workflow over HTTP (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let sec: Client, reg: Client, admin: Client, sup: Client;
    const reviewers: Record<string, Client> = {};

    before(async function () {
      store = await freshStore(kind, 'workflow');
      run = await startGateway(store.db());
      sec = client(run.base, await login(run.base, 'secretary'));
      reg = client(run.base, await login(run.base, 'registrar'));
      admin = client(run.base, await login(run.base, 'admin'));
      sup = client(run.base, await login(run.base, 'supervisor'));
      for (const d of ['xw-health', 'xw-environment', 'xw-fire', 'xw-police', 'xw-culture', 'nj-fire']) reviewers[d] = signingClient(run.base, await login(run.base, `reviewer-${d}`));
      // Friday 2025-09-26, 10:00 in Shanghai.
      expect((await admin.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' })).status).to.equal(200);
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    /** Submits and accepts; waits until every notification is delivered. */
    async function acceptedCase(over: Record<string, unknown> = {}) {
      const created = await sec.post('/api/cases', application(over));
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      expect(created.body.status).to.equal('submitted');
      const accepted = await sec.post(`/api/cases/${created.body.id}/accept`);
      expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
      return waitFor(created.body.id, (c) => c.reviews.every((r: any) => r.state !== 'pending_delivery'));
    }

    async function waitFor(id: string, pred: (c: any) => boolean, tries = 200): Promise<any> {
      for (let i = 0; i < tries; i++) {
        await run.gw.dispatcher.runOnce();
        const c = (await sec.get(`/api/cases/${id}`)).body;
        if (pred(c)) return c;
        await new Promise((r) => setImmediate(r));
      }
      throw new Error(`case ${id} did not reach the expected state`);
    }

    it('takes a catering case from application to operating, with a valid new credit code', async function () {
      const c = await acceptedCase();
      expect(c.status).to.equal('in_review');
      expect(c.reviews.map((r: any) => r.departmentId).sort()).to.deep.equal(['xw-environment', 'xw-fire', 'xw-health']);
      for (const r of c.reviews) {
        expect(r.state).to.equal('delivered');
        // Delivered on Friday 2025-09-26: due at the end of Friday 2025-10-10 (28 Sep worked, 1-8 Oct holidays).
        expect(r.dueAt).to.equal('2025-10-10T15:59:59.999Z');
        // The countdown in working days: 28 Sep, 29 Sep, 30 Sep, 9 Oct, 10 Oct.
        expect(r.workingDaysLeft).to.equal(5);
      }
      for (const d of ['xw-health', 'xw-environment', 'xw-fire']) {
        const res = await reviewers[d]!.post(`/api/cases/${c.id}/reviews/${d}/opinion`, { decision: 'approve', reasons: '符合条件' });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        // The answer shows the case as stored after the opinion, exactly as the reviewer reads it next.
        const { timeline, ...read } = (await reviewers[d]!.get(`/api/cases/${c.id}`)).body;
        expect(timeline).to.be.an('array');
        expect(res.body).to.deep.equal(read);
        expect(res.body.reviews.find((r: any) => r.departmentId === d).state).to.equal('approved');
      }
      const waiting = (await sec.get(`/api/cases/${c.id}`)).body;
      expect(waiting.status).to.equal('awaiting_licence');
      expect(waiting.licenceDueAt).to.be.a('string');
      const lic = await reg.post(`/api/cases/${c.id}/licence`);
      expect(lic.status, JSON.stringify(lic.body)).to.equal(201);
      expect(lic.body.status).to.equal('licensed');
      const code = lic.body.licence.creditCode as string;
      expect(code).to.match(/^91320102/);
      expect(validateCreditCode(code, { mode: 'strict' }).valid).to.equal(true);
      expect(lic.body.permits).to.have.length(3);
      const again = await reg.post(`/api/cases/${c.id}/licence`);
      expect(again.status).to.equal(409);
      expect(again.body.error.code).to.equal('TRANSITION_NOT_ALLOWED');
      for (const d of ['xw-health', 'xw-environment', 'xw-fire']) {
        const res = await reviewers[d]!.post(`/api/cases/${c.id}/permits/${d}`, { permitNumber: `${d}-2025-001` });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
      }
      const done = (await sec.get(`/api/cases/${c.id}`)).body;
      expect(done.status).to.equal('operating');
      expect(done.timeline.map((e: any) => e.action)).to.include.members(['case.submitted', 'case.accepted', 'review.delivered', 'licence.issued', 'case.operating']);
    });

    it('allocates distinct credit codes under concurrent issuing', async function () {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const c = await acceptedCase({ businessScope: ['retail'], industry: 'retail' });
        expect(c.status).to.equal('awaiting_licence');
        ids.push(c.id);
      }
      const results = await Promise.all(ids.map((id) => reg.post(`/api/cases/${id}/licence`)));
      const codes = results.map((r) => r.body.licence.creditCode);
      expect(new Set(codes).size).to.equal(6);
      results.forEach((r) => expect(r.body.status).to.equal('operating'));
    });

    it('refuses an application outside the pilot scope, naming the rule', async function () {
      const low = await sec.post('/api/cases', application({ registeredCapital: 500_000 }));
      expect(low.status).to.equal(201);
      expect(low.body.status).to.equal('refused');
      expect(low.body.refusedRule).to.equal('below-capital-threshold');
      const netbar = await sec.post('/api/cases', application({ registeredCapital: 9_000_000, businessScope: ['internet_cafe'] }));
      expect(netbar.body.refusedRule).to.equal('excluded-special-trades');
      const cafe = await sec.post('/api/cases', application({ registeredCapital: 100_000, businessScope: ['cafe'] }));
      expect(cafe.body.status).to.equal('submitted');
      const accept = await sec.post(`/api/cases/${low.body.id}/accept`);
      expect(accept.status).to.equal(409);
    });

    it('validates applications with field paths and codes, and writes nothing for bad input', async function () {
      const before = (await sup.get('/api/cases?limit=1')).body.total;
      const bad = await sec.post('/api/cases', application({ registeredCapital: '100万', unknownField: 1, investors: [{ name: 'x', idNumber: 320102 }] }));
      expect(bad.status).to.equal(422);
      expect(bad.body.error.code).to.equal('VALIDATION_FAILED');
      const paths = bad.body.error.details.errors.map((e: any) => e.path);
      expect(paths).to.include.members(['/registeredCapital', '/unknownField', '/investors/0/idNumber']);
      const malformed = await sec.post('/api/cases', '{"enterpriseName": ');
      expect(malformed.status).to.equal(400);
      expect(malformed.body.error.code).to.equal('MALFORMED_JSON');
      const big = await sec.post('/api/cases', application({ address: 'x'.repeat(300_000) }));
      expect(big.status).to.equal(413);
      expect(big.body.error.code).to.equal('BODY_TOO_LARGE');
      const unknownItem = await sec.post('/api/cases', application({ businessScope: ['spaceport'] }));
      expect(unknownItem.status).to.equal(422);
      expect(unknownItem.body.error.code).to.equal('UNKNOWN_SCOPE_ITEM');
      const otherDistrict = await sec.post('/api/cases', application({ divisionCode: '110101' }));
      expect(otherDistrict.body.error.code).to.equal('UNKNOWN_DIVISION');
      expect(JSON.stringify(bad.body)).not.to.match(/at .*\.js/);
      expect((await sup.get('/api/cases?limit=1')).body.total).to.equal(before);
    });

    it('returns the same case for a repeated Idempotency-Key and 409 for a second pending application', async function () {
      const app = application();
      const h = { 'idempotency-key': `idem-${Date.now()}-${Math.random()}` };
      const a = await sec.post('/api/cases', app, h);
      const b = await sec.post('/api/cases', app, h);
      expect(a.status).to.equal(201);
      expect(b.status).to.equal(200);
      expect(b.body.id).to.equal(a.body.id);
      const dup = await sec.post('/api/cases', app);
      expect(dup.status).to.equal(409);
      expect(dup.body.error.code).to.equal('DUPLICATE_APPLICATION');
      expect(dup.body.error.details.caseId).to.equal(a.body.id);
      const reuse = await sec.post('/api/cases', application(), h);
      expect(reuse.status).to.equal(422);
      expect(reuse.body.error.code).to.equal('IDEMPOTENCY_KEY_REUSED');
    });

    it('keeps one case when the same application races in, with or without an Idempotency-Key', async function () {
      const app = application();
      const key = { 'idempotency-key': `race-${Date.now()}-${Math.random()}` };
      const same = await Promise.all(Array.from({ length: 6 }, () => sec.post('/api/cases', app, key)));
      expect(new Set(same.map((r) => r.body.id)).size).to.equal(1);
      expect(same.map((r) => r.status).sort()).to.deep.equal([200, 200, 200, 200, 200, 201]);
      const other = application();
      const racing = await Promise.all(Array.from({ length: 6 }, () => sec.post('/api/cases', other)));
      expect(racing.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409, 409, 409]);
      const winner = racing.find((r) => r.status === 201)!.body.id;
      racing.filter((r) => r.status === 409).forEach((r) => expect(r.body.error.details.caseId).to.equal(winner));
    });

    it('returns a case for correction with a reason', async function () {
      const c = (await sec.post('/api/cases', application())).body;
      const r = await sec.post(`/api/cases/${c.id}/return`, { reason: '缺少场地证明' });
      expect(r.body.status).to.equal('returned');
      expect(r.body.statusReason).to.equal('缺少场地证明');
      expect((await sec.post(`/api/cases/${c.id}/return`, {})).status).to.equal(422);
      const fixed = await sec.post(`/api/cases/${c.id}/resubmit`, { ...c.application, address: '南京市玄武区中山路2号' });
      expect(fixed.status, JSON.stringify(fixed.body)).to.equal(200);
      expect(fixed.body.status).to.equal('submitted');
      expect(fixed.body.reference).to.equal(c.reference);
      expect(fixed.body.application.address).to.equal('南京市玄武区中山路2号');
      expect((await sec.post(`/api/cases/${c.id}/resubmit`, c.application)).body.error.code).to.equal('TRANSITION_NOT_ALLOWED');
    });

    it('extends once by 3 working days, then deems silence approval at the deadline, exactly once', async function () {
      const c = await acceptedCase({ businessScope: ['cafe'], registeredCapital: 300_000 });
      const ext = await reviewers['xw-fire']!.post(`/api/cases/${c.id}/reviews/xw-fire/opinion`, { decision: 'extend', reasons: '需上报市消防支队审查' });
      expect(ext.status, JSON.stringify(ext.body)).to.equal(200);
      const fire = ext.body.reviews.find((r: any) => r.departmentId === 'xw-fire');
      expect(fire.state).to.equal('extended');
      // 2025-10-10 plus 3 working days: Sat 11 Oct (worked), Mon 13, Tue 14.
      expect(fire.dueAt).to.equal('2025-10-14T15:59:59.999Z');
      const twice = await reviewers['xw-fire']!.post(`/api/cases/${c.id}/reviews/xw-fire/opinion`, { decision: 'extend', reasons: 'again' });
      expect(twice.body.error.code).to.equal('ALREADY_EXTENDED');
      const timeline = (await sec.get(`/api/cases/${c.id}`)).body.timeline;
      expect(timeline.find((e: any) => e.action === 'review.extended').data.notifySecretary).to.equal(true);

      const firedMetric = async () => Number(/^pag_deadlines_fired_total (\S+)$/m.exec(await (await fetch(`${run.base}/metrics`)).text())?.[1] ?? NaN);
      const firedEvents = async () => Number((await run.gw.db.get<any>("SELECT COUNT(*) AS n FROM events WHERE action IN ('review.deemed_approved', 'licence.overdue', 'permit.overdue')")).n);
      const before = { metric: await firedMetric(), events: await firedEvents() };
      await admin.put('/api/admin/clock', { now: '2025-10-10T16:00:00Z' });
      let now = (await sec.get(`/api/cases/${c.id}`)).body;
      expect(now.reviews.find((r: any) => r.departmentId === 'xw-health').state).to.equal('deemed_approved');
      expect(now.reviews.find((r: any) => r.departmentId === 'xw-fire').state).to.equal('extended');
      expect(now.status).to.equal('in_review');
      await admin.put('/api/admin/clock', { now: '2025-10-14T16:00:00Z' });
      await admin.put('/api/admin/clock', { now: '2025-10-15T16:00:00Z' });
      now = (await sec.get(`/api/cases/${c.id}`)).body;
      expect(now.reviews.map((r: any) => r.state)).to.deep.equal(['deemed_approved', 'deemed_approved']);
      expect(now.status).to.equal('awaiting_licence');
      const deemed = now.timeline.filter((e: any) => e.action === 'review.deemed_approved');
      expect(deemed).to.have.length(2);
      // The metric counts exactly what was fired (this case's two and any other case's deadlines the clock passed).
      const fired = (await firedEvents()) - before.events;
      expect(fired).to.be.at.least(2);
      expect((await firedMetric()) - before.metric).to.equal(fired);
      const late = await reviewers['xw-fire']!.post(`/api/cases/${c.id}/reviews/xw-fire/opinion`, { decision: 'refuse', reasons: 'too late' });
      expect(late.status).to.equal(409);
      expect(late.body.error.code).to.equal('TRANSITION_NOT_ALLOWED');
    });

    it('never deems approval for a notification that was not delivered', async function () {
      const fake = run.gw.adapters.get('simulated') as FakeAdapter;
      fake.options.behaviour = 'fail';
      try {
        const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
        await sec.post(`/api/cases/${c.id}/accept`);
        await run.gw.dispatcher.runOnce();
        const clockNow = Date.parse((await admin.get('/api/admin/clock')).body.now);
        await admin.put('/api/admin/clock', { now: new Date(clockNow + 40 * 86400_000).toISOString() });
        const after = (await sec.get(`/api/cases/${c.id}`)).body;
        expect(after.reviews[0].state).to.equal('pending_delivery');
        expect(after.reviews[0].dueAt).to.equal(null);
        expect(after.status).to.equal('in_review');
      } finally {
        fake.options.behaviour = 'acknowledge';
      }
    });

    it('records a delivery as it completes, without waiting for the slowest send of its pass', async function () {
      const fake = run.gw.adapters.get('simulated') as FakeAdapter;
      const send = fake.send.bind(fake);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      // The police's system answers only when the test says; the other departments at once.
      fake.send = async (m) => (m.departmentId === 'xw-police' ? held.then(() => send(m)) : send(m));
      try {
        const c = (await sec.post('/api/cases', application({ businessScope: ['bar'], registeredCapital: 50_000 }))).body;
        await sec.post(`/api/cases/${c.id}/accept`);
        const pass = run.gw.dispatcher.runOnce();
        let states: Record<string, string> = {};
        for (let i = 0; i < 500 && states['xw-fire'] !== 'delivered'; i++) {
          await new Promise((r) => setImmediate(r));
          states = Object.fromEntries((await run.gw.cases.get(c.id)).reviews.map((r) => [r.departmentId, r.state]));
        }
        expect(states).to.deep.equal({ 'xw-police': 'pending_delivery', 'xw-fire': 'delivered', 'xw-health': 'delivered' });
        release();
        await pass;
        // The gateway's own dispatcher loop may have claimed the messages before this pass: wait for whichever did.
        await waitFor(c.id, (x) => x.reviews.every((r: any) => r.state === 'delivered'));
      } finally {
        release();
        fake.send = send;
      }
    });

    it('terminates on refusal, cancels the other reviews and tells their departments', async function () {
      const c = await acceptedCase({ businessScope: ['bar'], registeredCapital: 50_000 });
      const fake = run.gw.adapters.get('simulated') as FakeAdapter;
      const refused = await reviewers['xw-police']!.post(`/api/cases/${c.id}/reviews/xw-police/opinion`, { decision: 'refuse', reasons: '距离学校不足200米' });
      expect(refused.body.status).to.equal('terminated');
      const states = Object.fromEntries(refused.body.reviews.map((r: any) => [r.departmentId, r.state]));
      expect(states).to.deep.equal({ 'xw-police': 'refused', 'xw-fire': 'cancelled', 'xw-health': 'cancelled' });
      await waitFor(c.id, () => fake.received.filter((m) => m.caseId === c.id && m.kind === 'cancellation').length === 2);
      const accept = await sec.post(`/api/cases/${c.id}/accept`);
      expect(accept.status).to.equal(409);
      expect(accept.body.error.code).to.equal('TRANSITION_NOT_ALLOWED');
    });

    it('routes a hotel fire review to the city fire bureau', async function () {
      const c = await acceptedCase({ businessScope: ['hotel'] });
      const fire = c.reviews.find((r: any) => r.departmentId === 'nj-fire');
      expect(fire.level).to.equal('city');
      expect(c.reviews.some((r: any) => r.departmentId === 'xw-fire')).to.equal(false);
    });

    it('applies an opinion with a repeated message id once', async function () {
      const c = await acceptedCase({ businessScope: ['bookstore'], registeredCapital: 10_000 });
      const body = { decision: 'approve', reasons: 'ok', messageId: `msg-${c.id}` };
      const a = await reviewers['xw-culture']!.post(`/api/cases/${c.id}/reviews/xw-culture/opinion`, body);
      const b = await reviewers['xw-culture']!.post(`/api/cases/${c.id}/reviews/xw-culture/opinion`, body);
      expect(a.status).to.equal(200);
      expect(b.status).to.equal(200);
      expect(b.body).to.deep.equal(a.body);
      expect(b.body.status).to.equal('awaiting_licence');
      const t = (await sec.get(`/api/cases/${c.id}`)).body.timeline;
      expect(t.filter((e: any) => e.action === 'review.approved')).to.have.length(1);
    });

    it('lets each role do only its own part', async function () {
      const c = await acceptedCase();
      const anon = client(run.base, null);
      expect((await anon.get('/api/cases')).status).to.equal(401);
      expect((await client(run.base, 'not-a-token').get('/api/cases')).body.error.code).to.equal('UNAUTHENTICATED');
      expect((await reviewers['xw-health']!.post('/api/cases', application())).status).to.equal(403);
      expect((await reviewers['xw-health']!.post(`/api/cases/${c.id}/accept`)).status).to.equal(403);
      expect((await reviewers['xw-health']!.post(`/api/cases/${c.id}/reviews/xw-fire/opinion`, { decision: 'approve' })).status).to.equal(403);
      expect((await sec.post(`/api/cases/${c.id}/reviews/xw-fire/opinion`, { decision: 'approve' })).status).to.equal(403);
      expect((await sup.post(`/api/cases/${c.id}/licence`)).status).to.equal(403);
      // A reviewer of a department not concerned cannot see the case at all.
      expect((await reviewers['xw-police']!.get(`/api/cases/${c.id}`)).status).to.equal(404);
      const list = (await reviewers['xw-police']!.get('/api/cases?limit=500')).body.cases;
      expect(list.every((x: any) => x.reviews.some((r: any) => r.departmentId === 'xw-police'))).to.equal(true);
      // Reviewers see identity numbers masked; the secretary sees them whole.
      const seen = (await reviewers['xw-health']!.get(`/api/cases/${c.id}`)).body;
      expect(seen.application.investors[0].idNumber).to.equal('3201**********001X');
      expect((await sec.get(`/api/cases/${c.id}`)).body.application.investors[0].idNumber).to.equal('32010219800101001X');
    });

    it('shows overdue and near-deadline items to supervisors', async function () {
      const r = await sup.get('/api/supervision/overdue');
      expect(r.status).to.equal(200);
      expect(r.body).to.have.keys(['now', 'nearDeadlineUntil', 'reviews', 'licences', 'permits', 'failedDeliveries', 'complaints', 'provisionalDeadlines', 'perDepartment']);
      expect(r.body.reviews.deemedApproved.length).to.be.greaterThan(0);
      expect((await sec.get('/api/supervision/overdue')).status).to.equal(403);
    });

    it('keeps an audit chain that verifies, and reports tampering', async function () {
      await run.gw.sealer.settled();
      run.gw.sealer.kick();
      await run.gw.sealer.settled();
      const ok = await sup.get('/api/audit/verify');
      expect(ok.body.ok, JSON.stringify(ok.body)).to.equal(true);
      expect(ok.body.checked).to.be.greaterThan(10);
      const pos = Math.floor(ok.body.checked / 2);
      await run.gw.db.run(`UPDATE events SET data = $1 WHERE chain_pos = $2`, ['{"forged":true}', pos]);
      const bad = await sup.get('/api/audit/verify');
      expect(bad.body.ok).to.equal(false);
      expect(bad.body.problem.kind).to.equal('altered');
      expect(bad.body.problem.position).to.equal(pos);
    });
  });
}
