// The calendar table: administrators edit days and add years; uncovered years give provisional deadlines and an alert.
import { expect } from 'chai';
import { application, client, freshStore, login, startGateway, STORES, type Client, type Running } from '../support/harness.js';

for (const kind of STORES) {
  describe(`calendar administration (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let admin: Client, sec: Client, sup: Client;

    before(async function () {
      store = await freshStore(kind, 'calendar');
      run = await startGateway(store.db());
      admin = client(run.base, await login(run.base, 'admin'));
      sec = client(run.base, await login(run.base, 'secretary'));
      sup = client(run.base, await login(run.base, 'supervisor'));
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    async function deliveredReview(nowIso: string) {
      await admin.put('/api/admin/clock', { now: nowIso });
      const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
      await sec.post(`/api/cases/${c.id}/accept`);
      for (let i = 0; i < 100; i++) {
        await run.gw.dispatcher.runOnce();
        const now = (await sec.get(`/api/cases/${c.id}`)).body;
        if (now.reviews[0].state === 'delivered') return now.reviews[0];
      }
      throw new Error('not delivered');
    }

    it('is seeded from the calendar file with its version', async function () {
      const cal = (await admin.get('/api/admin/calendar')).body;
      expect(cal.version).to.equal('cn-2026.1');
      expect(cal.years).to.deep.equal([2024, 2025, 2026]);
      expect(cal.holidays).to.include('2025-10-01');
      expect(cal.workdays).to.include('2025-09-28');
    });

    it('fails closed in a year it does not cover: the deadline is provisional and supervisors see an alert', async function () {
      const r = await deliveredReview('2026-12-28T02:00:00Z');
      expect(r.provisional).to.equal(true);
      const report = (await sup.get('/api/supervision/overdue')).body;
      expect(report.provisionalDeadlines.map((p: any) => p.departmentId)).to.include('xw-culture');
    });

    it('takes a new year from an administrator, after which deadlines there are exact', async function () {
      const y2027 = { holidays: ['2027-01-01'], workdays: [] as string[] };
      const set = await admin.put('/api/admin/calendar/years/2027', y2027);
      expect(set.status, JSON.stringify(set.body)).to.equal(200);
      expect(set.body.years).to.include(2027);
      expect(set.body.version).to.equal('cn-2026.1.edit1');
      const r = await deliveredReview('2026-12-29T02:00:00Z');
      expect(r.provisional).to.equal(false);
      // Tue 29 Dec 2026 + 5 working days: 30, 31 Dec, (1 Jan holiday), 4, 5, 6 Jan 2027.
      expect(r.dueAt).to.equal('2027-01-06T15:59:59.999Z');
    });

    it('moves deadlines when a day becomes a holiday, and refuses impossible edits with a code', async function () {
      const before = await deliveredReview('2026-03-02T02:00:00Z');
      expect(before.dueAt).to.equal('2026-03-09T15:59:59.999Z');
      const set = await admin.put('/api/admin/calendar/days/2026-03-10', { kind: 'holiday' });
      expect(set.status).to.equal(200);
      const after = await deliveredReview('2026-03-03T02:00:00Z');
      expect(after.dueAt).to.equal('2026-03-11T15:59:59.999Z');
      const weekdayWorkday = await admin.put('/api/admin/calendar/days/2026-03-11', { kind: 'workday' });
      expect(weekdayWorkday.status).to.equal(422);
      expect(weekdayWorkday.body.error.code).to.equal('VALIDATION_FAILED');
      const uncovered = await admin.put('/api/admin/calendar/days/2031-05-01', { kind: 'holiday' });
      expect(uncovered.body.error.code).to.equal('CALENDAR_NOT_COVERED');
      expect((await sec.put('/api/admin/calendar/days/2026-03-12', { kind: 'holiday' })).status).to.equal(403);
      const cal = (await admin.get('/api/admin/calendar')).body;
      expect(cal.edits.map((e: any) => e.day)).to.include('2026-03-10');
    });
  });
}
