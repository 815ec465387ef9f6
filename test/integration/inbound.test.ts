// Incoming department messages through the inbound service: channel binding, signature, reviewer identity, receipts, once-only effect.
import { expect } from 'chai';
import type { IncomingMessage } from '../../adapters/adapter.js';
import { application, client, freshStore, login, startGateway, STORES, writeConfig } from '../support/harness.js';
import { expectRefusalRecorded, signerFor } from '../support/signing.js';

/** The message as its department signs it (compact JWS with the department's demo key). */
const signed = async (m: IncomingMessage) => ({ format: 'jws' as const, raw: await signerFor(m.departmentId).jws(m) });

for (const kind of STORES) {
  describe(`inbound messages and receipts (${kind})`, function () {
    this.timeout(30_000);

    it('delivers a store-and-forward message only on its receipt, resends without one, and fails after the last attempt', async function () {
      const store = await freshStore(kind, 'receipts');
      const file = writeConfig(store.dir, 'receipts.json', (cfg) => {
        cfg.adapters.queue = { kind: 'fake', options: { receipts: true }, retry: { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 1000, receiptTimeoutMs: 30_000 } };
        cfg.departments.find((d: any) => d.id === 'xw-culture').adapter = 'queue';
      });
      const run = await startGateway(store.db(), { configFile: file }, { dispatch: false });
      const { gw } = run;
      try {
        const sec = client(run.base, await login(run.base, 'secretary'));
        const admin = client(run.base, await login(run.base, 'admin'));
        await admin.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        const newCase = async () => {
          const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
          expect((await sec.post(`/api/cases/${c.id}/accept`)).status).to.equal(200);
          return c.id as string;
        };
        const message = (caseId: string) => gw.db.get<any>('SELECT id, state, attempts, next_attempt_at, last_error FROM outbox WHERE case_id = $1', [caseId]);
        const review = async (caseId: string) => (await sec.get(`/api/cases/${caseId}`)).body.reviews[0];

        // Sent but not received: waiting for the receipt; the review's clock has not started.
        const a = await newCase();
        await gw.dispatcher.runOnce();
        const m = await message(a);
        expect(m).to.include({ state: 'waiting_receipt', attempts: 1 });
        expect(Number(m.next_attempt_at)).to.be.greaterThan(Date.now() + 20_000);
        expect((await review(a)).state).to.equal('pending_delivery');

        // The receipt names the message; a receipt from another department, or for a message never sent, changes nothing.
        await admin.put('/api/admin/clock', { now: '2025-09-29T02:00:00Z' });
        const receipt = (over: Partial<IncomingMessage>): IncomingMessage => ({ messageId: `r-${Math.random()}`, kind: 'receipt', departmentId: 'xw-culture', caseId: a, ackOf: m.id, ...over });
        expect(await gw.inbound.receive(await signed(receipt({ departmentId: 'xw-police' })), { adapter: 'queue' })).to.include({ ok: false, code: 'CHANNEL_NOT_BOUND' });
        await expectRefusalRecorded(gw, { code: 'CHANNEL_NOT_BOUND', channel: 'queue' });
        expect(await gw.inbound.receive(await signed(receipt({ ackOf: 'no-such-message' })), { adapter: 'queue' })).to.include({ ok: false, code: 'MESSAGE_NOT_FOUND' });
        // Unsigned: refused, whatever it says.
        expect(await gw.inbound.accept(receipt({}), { adapter: 'queue' })).to.include({ ok: false, code: 'MESSAGE_UNSIGNED' });
        expect((await review(a)).state).to.equal('pending_delivery');
        const good = await signed(receipt({ messageId: 'receipt-a' }));
        expect(await gw.inbound.receive(good, { adapter: 'queue' })).to.deep.include({ ok: true, duplicate: false });
        expect(await message(a)).to.include({ state: 'delivered' });
        const r = await review(a);
        expect(r.state).to.equal('delivered');
        // The clock starts at the receipt (Monday 29 September), not at the sending (Friday 26, which would end on 10 October):
        // 30 September, then after the National Day holidays 9, 10, 11 (a working Saturday) and 13 October.
        expect(r.deliveredAt).to.equal('2025-09-29T02:00:00.000Z');
        expect(r.dueAt.slice(0, 10)).to.equal('2025-10-13');
        expect(await gw.inbound.receive(await signed(receipt({})), { adapter: 'queue' })).to.deep.include({ ok: true, duplicate: true });
        // The very same bytes again (a broker redelivery): accepted as before, no effect.
        expect(await gw.inbound.receive(good, { adapter: 'queue' })).to.deep.include({ ok: true, duplicate: true });
        const timeline = (await sec.get(`/api/cases/${a}`)).body.timeline.filter((e: any) => e.action === 'review.delivered');
        expect(timeline).to.have.length(1);

        // No receipt in time: sent again; still none after the last attempt: failed, audited, and an administrator may resend.
        const b = await newCase();
        await gw.dispatcher.runOnce();
        await gw.db.run(`UPDATE outbox SET next_attempt_at = 0 WHERE case_id = $1`, [b]);
        await gw.dispatcher.runOnce();
        expect(await message(b)).to.include({ state: 'waiting_receipt', attempts: 2 });
        await gw.db.run(`UPDATE outbox SET next_attempt_at = 0 WHERE case_id = $1`, [b]);
        await gw.dispatcher.runOnce();
        const failed = await message(b);
        expect(failed).to.include({ state: 'failed', attempts: 2 });
        expect(failed.last_error).to.match(/no receipt after 2 attempts/);
        const attempts = await gw.db.all<any>('SELECT outcome FROM delivery_attempts WHERE message_id = $1 ORDER BY id', [failed.id]);
        expect(attempts.map((x) => x.outcome)).to.deep.equal(['sent', 'sent', 'receipt_timeout']);
        expect((await sec.get(`/api/cases/${b}`)).body.timeline.map((e: any) => e.action)).to.include('delivery.failed');
        // A late receipt still counts: the department did receive it.
        expect(await gw.inbound.receive(await signed(receipt({ caseId: b, ackOf: failed.id })), { adapter: 'queue' })).to.deep.include({ ok: true, duplicate: false });
        expect((await review(b)).state).to.equal('delivered');
      } finally {
        await run.stop();
        await store.cleanup();
      }
    });

    it('takes an opinion only from a reviewer of the sending department over its own channel, once per message id', async function () {
      const store = await freshStore(kind, 'inbound');
      const run = await startGateway(store.db());
      const { gw } = run;
      try {
        const sec = client(run.base, await login(run.base, 'secretary'));
        const admin = client(run.base, await login(run.base, 'admin'));
        await admin.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
        await sec.post(`/api/cases/${c.id}/accept`);
        await gw.dispatcher.runOnce();
        const culture = await login(run.base, 'reviewer-xw-culture');
        const police = await login(run.base, 'reviewer-xw-police');
        const opinion = (over: Partial<IncomingMessage> = {}): IncomingMessage => ({ messageId: 'op-1', kind: 'opinion', departmentId: 'xw-culture', caseId: c.id, decision: 'approve', ...over });

        const send = async (m: IncomingMessage, token?: string, adapter = 'soap') => gw.inbound.receive(await signed(m), { adapter, token });
        expect(await send(opinion())).to.include({ ok: false, code: 'UNAUTHENTICATED' });
        // Every failure of the reviewer factor is one code to the caller; the record says which.
        expect(await send(opinion({ messageId: 'op-bad-token' }), 'not-a-token')).to.include({ ok: false, code: 'REVIEWER_NOT_AUTHORISED' });
        expect(await send(opinion({ messageId: 'op-police' }), police, 'xml')).to.include({ ok: false, code: 'REVIEWER_NOT_AUTHORISED' });
        const pwdOnly = await gw.tokens.issue({ sub: 'x', username: 'reviewer-xw-culture', role: 'reviewer', departmentId: 'xw-culture', amr: ['pwd'] });
        expect(await send(opinion({ messageId: 'op-pwd-only' }), pwdOnly)).to.include({ ok: false, code: 'REVIEWER_NOT_AUTHORISED' });
        const supervisor = await gw.tokens.issue({ sub: 'y', username: 'supervisor', role: 'supervisor', amr: ['pwd', 'otp'] });
        expect(await send(opinion({ messageId: 'op-supervisor' }), supervisor)).to.include({ ok: false, code: 'REVIEWER_NOT_AUTHORISED' });
        const reasons = (await gw.db.all<any>("SELECT message_id, reason FROM refused_messages WHERE code = 'REVIEWER_NOT_AUTHORISED' ORDER BY id")).map((r) => [r.message_id, r.reason]);
        expect(reasons).to.deep.equal([
          ['op-bad-token', 'reviewer: token not valid: bad signature, expired, or for another issuer or audience'],
          ['op-police', 'reviewer: reviewer-xw-police reviews for xw-police, not xw-culture'],
          ['op-pwd-only', 'reviewer: login by reviewer-xw-culture without both password and one-time code (amr pwd)'],
          ['op-supervisor', 'reviewer: supervisor has role supervisor, not reviewer'],
        ]);
        await expectRefusalRecorded(gw, { code: 'REVIEWER_NOT_AUTHORISED', channel: 'soap', messageId: 'op-pwd-only' });
        // A configured adapter carries only its own departments' messages (xw-culture is on 'simulated').
        expect(await send(opinion({ messageId: 'op-other' }), culture, 'other')).to.include({ ok: false, code: 'CHANNEL_NOT_BOUND' });
        expect(await gw.inbound.receive({ format: 'jws', raw: await signerFor('xw-culture').jws(opinion({ messageId: 'op-none', departmentId: 'xx-none' }), { signAs: 'xw-culture' }) }, { adapter: 'soap', token: culture })).to.include({ ok: false, code: 'UNKNOWN_DEPARTMENT' });
        expect(await send(opinion({ messageId: 'op-no-reasons', decision: 'refuse' }), culture)).to.include({ ok: false, code: 'VALIDATION_FAILED' });
        expect((await gw.cases.get(c.id)).status).to.equal('in_review');

        const approval = await signed(opinion());
        expect(await gw.inbound.receive(approval, { adapter: 'soap', token: culture })).to.deep.equal({ ok: true, duplicate: false, caseId: c.id, caseStatus: 'awaiting_licence' });
        // The same signed message again: no second effect.
        expect(await gw.inbound.receive(approval, { adapter: 'xml', token: culture })).to.deep.equal({ ok: true, duplicate: true, caseId: c.id, caseStatus: 'awaiting_licence' });
        // The same id with another decision: a replay, refused.
        expect(await send(opinion({ decision: 'refuse', reasons: '重复' }), culture)).to.include({ ok: false, code: 'MESSAGE_REPLAYED' });
        const decided = (await sec.get(`/api/cases/${c.id}`)).body.timeline.filter((e: any) => e.action === 'review.approved' || e.action === 'review.refused');
        expect(decided).to.have.length(1);

        const status = await gw.inbound.caseStatus(c.id, { adapter: 'soap', token: culture });
        expect(status).to.deep.include({ ok: true });
        expect((status as any).view).to.deep.include({ caseId: c.id, status: 'awaiting_licence' });
        expect((status as any).view.reviews).to.deep.equal([{ departmentId: 'xw-culture', state: 'approved', dueAt: (status as any).view.reviews[0].dueAt, decision: 'approve' }]);
        expect(await gw.inbound.caseStatus(c.id, { adapter: 'soap', token: police })).to.include({ ok: false, code: 'NOT_FOUND' });
        // Two copies of one permit report at the same moment (a redelivery racing its original): one effect, one duplicate.
        const lic = await client(run.base, await login(run.base, 'registrar')).post(`/api/cases/${c.id}/licence`);
        expect(lic.status).to.equal(201);
        const permit: IncomingMessage = { messageId: 'permit-1', kind: 'permit', departmentId: 'xw-culture', caseId: c.id, permitNumber: 'WH-2025-001' };
        const permitWire = await signed(permit);
        const both = await Promise.all([gw.inbound.receive(permitWire, { adapter: 'xml', token: culture }), gw.inbound.receive({ ...permitWire }, { adapter: 'soap', token: culture })]);
        expect(both.map((r) => r.ok)).to.deep.equal([true, true]);
        expect(both.map((r) => (r as any).duplicate).sort()).to.deep.equal([false, true]);
        const reported = (await sec.get(`/api/cases/${c.id}`)).body.timeline.filter((e: any) => e.action === 'permit.reported');
        expect(reported).to.have.length(1);
        // Two different messages under one id at the same moment: the first stored owns the id, the other is a replay.
        const rivals = [await signed({ ...permit, messageId: 'permit-race', permitNumber: 'WH-2025-002' }), await signed({ ...permit, messageId: 'permit-race', permitNumber: 'WH-2025-003' })];
        const raced = await Promise.all([gw.inbound.receive(rivals[0]!, { adapter: 'xml', token: culture }), gw.inbound.receive(rivals[1]!, { adapter: 'soap', token: culture })]);
        expect(raced.filter((r) => !r.ok && r.code === 'MESSAGE_REPLAYED'), JSON.stringify(raced)).to.have.length(1);
        expect(await gw.db.all("SELECT message_id FROM inbox_hashes WHERE message_id = 'permit-race'")).to.have.length(1);
      } finally {
        await run.stop();
        await store.cleanup();
      }
    });
  });
}
