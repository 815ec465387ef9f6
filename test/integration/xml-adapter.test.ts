// The XML-over-HTTP channel against a real peer on loopback: delivery, retries, refusal, resend; answers through POST /xml/messages.
import { expect } from 'chai';
import { startXmlDepartment, type XmlDepartment } from '../../adapters/xml/sim.js';
import { readResult } from '../../src/xml/approval.js';
import { XML_LIMITS } from '../../src/xml/read.js';
import { application, client, freshStore, login, startGateway, STORES, writeConfig, type Running } from '../support/harness.js';
import { expectRefusalRecorded, signerFor } from '../support/signing.js';

/** A gateway whose culture bureau is the XML department; the test steps the dispatcher itself. */
async function setup(kind: (typeof STORES)[number], name: string) {
  const store = await freshStore(kind, name);
  // The department's URL is known only once it listens, and it needs the gateway's address to answer: start it with a
  // placeholder access and fill both in.
  const access = { base: '', departmentId: 'xw-culture', token: undefined as undefined | (() => Promise<string>) };
  const dep = await startXmlDepartment(access, { answer: 'manual' });
  const file = writeConfig(store.dir, 'xml.json', (cfg) => {
    cfg.adapters.culture = { kind: 'xml', options: { url: dep.url, timeoutMs: 2000, headers: { 'x-api-key': 'k-1' } }, retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 5000 } };
    cfg.departments.find((d: any) => d.id === 'xw-culture').adapter = 'culture';
  });
  const run = await startGateway(store.db(), { configFile: file }, { dispatch: false });
  access.base = run.base;
  const reviewer = await login(run.base, 'reviewer-xw-culture');
  access.token = async () => reviewer;
  const sec = client(run.base, await login(run.base, 'secretary'));
  const admin = client(run.base, await login(run.base, 'admin'));
  await admin.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
  const newCase = async () => {
    const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
    await sec.post(`/api/cases/${c.id}/accept`);
    return c.id as string;
  };
  const db = run.gw.db;
  return {
    run, dep, sec, admin, reviewer, newCase, db,
    // Retries wait in real time; the test moves a message's next attempt to now instead of waiting.
    due: () => db.run(`UPDATE outbox SET next_attempt_at = 0 WHERE state = 'waiting_retry'`),
    outbox: (caseId: string) => db.get<any>('SELECT id, state, attempts, last_error FROM outbox WHERE case_id = $1', [caseId]),
    review: async (caseId: string) => (await sec.get(`/api/cases/${caseId}`)).body.reviews[0],
    cleanup: async (dep2: XmlDepartment, r: Running) => {
      await r.stop();
      await dep2.close().catch(() => undefined);
      await store.cleanup();
    },
  };
}

const post = async (base: string, body: string, headers: Record<string, string>) => {
  const res = await fetch(`${base}/xml/messages`, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, text, result: readResult(text) };
};

for (const kind of STORES) {
  describe(`XML over HTTP adapter (${kind})`, function () {
    it('delivers the notification document, retries server errors, fails on a refusal and resends on request', async function () {
      const t = await setup(kind, 'xml-out');
      try {
        // 1. Two server errors, then the department takes it: three attempts, one delivery, the review clock starts.
        t.dep.behaviour.failTimes = 2;
        const a = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        expect(await t.outbox(a)).to.include({ state: 'waiting_retry', attempts: 1 });
        expect((await t.review(a)).state).to.equal('pending_delivery');
        await t.due();
        await t.run.gw.dispatcher.runOnce();
        await t.due();
        await t.run.gw.dispatcher.runOnce();
        const msg = await t.outbox(a);
        expect(msg).to.include({ state: 'delivered', attempts: 3 });
        const attempts = await t.db.all<any>('SELECT outcome FROM delivery_attempts WHERE message_id = $1 ORDER BY id', [msg.id]);
        expect(attempts.map((x) => x.outcome)).to.deep.equal(['retryable_error', 'retryable_error', 'delivered']);
        expect(t.dep.received).to.have.length(1);
        const { doc, headers } = t.dep.received[0]!;
        expect(doc).to.include({ kind: 'notification', messageId: msg.id, sender: 'xuanwu-gateway', receiver: 'xw-culture', caseId: a, attempt: '3' });
        expect(Date.parse(doc.issuedAt)).to.be.a('number').and.not.NaN;
        expect(doc.fields['form.businessScope.item']).to.equal('bookstore');
        expect(doc.fields['form.enterpriseName']).to.match(/^南京玄武测试餐饮有限公司/);
        expect(headers).to.include({ 'message-id': msg.id, 'x-api-key': 'k-1' });
        expect(String(headers['content-type'])).to.match(/^application\/xml/);
        // The document carries the gateway's enveloped signature, which the department checked (with the gateway's RSA key).
        expect(t.dep.received[0]!.raw).to.match(/<Signature xmlns="http:\/\/www.w3.org\/2000\/09\/xmldsig#">.*<KeyName>gateway-/);
        expect(t.dep.badSignatures).to.have.length(0);
        expect((await t.review(a)).state).to.equal('delivered');

        // 2. A refusal (422) is final: no retry; failed, visible, and resent on an administrator's request.
        t.dep.behaviour.refuse = true;
        const b = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        const failed = await t.outbox(b);
        expect(failed).to.include({ state: 'failed', attempts: 1 });
        expect(failed.last_error).to.match(/HTTP 422/);
        t.dep.behaviour.refuse = false;
        expect((await t.admin.post(`/api/outbox/${failed.id}/resend`)).status).to.equal(200);
        await t.run.gw.dispatcher.runOnce();
        expect(await t.outbox(b)).to.include({ state: 'delivered' });
        expect((await t.review(b)).state).to.equal('delivered');

        // 3. The department is down: retried until the policy's attempts are spent, then failed.
        await t.dep.close();
        const c = await t.newCase();
        for (let i = 0; i < 3; i++) {
          await t.due();
          await t.run.gw.dispatcher.runOnce();
        }
        const down = await t.outbox(c);
        expect(down).to.include({ state: 'failed', attempts: 3 });
        expect(down.last_error).to.match(/unreachable/);
        const health = await (await fetch(`${t.run.base}/healthz`)).json();
        expect(health.adapters.culture.ok).to.equal(false);
      } finally {
        await t.cleanup(t.dep, t.run);
      }
    });

    it('takes opinions, receipts and permits over POST /xml/messages once, and refuses bad ones with their catalogue code', async function () {
      const t = await setup(kind, 'xml-in');
      try {
        const auth = { 'content-type': 'application/xml', authorization: `Bearer ${t.reviewer}` };
        // A receipt for a notification not yet sent makes it delivered (the department has it by another way).
        const a = await t.newCase();
        const note = await t.outbox(a);
        const rcpt = await t.dep.answers.send({ messageId: 'rcpt-0001', kind: 'receipt', departmentId: 'xw-culture', caseId: a, ackOf: note.id });
        expect(rcpt).to.include({ ok: true, duplicate: false });
        expect((await t.review(a)).state).to.equal('delivered');
        expect(await t.dep.answers.send({ messageId: 'rcpt-0002', kind: 'receipt', departmentId: 'xw-culture', caseId: a, ackOf: 'no-such-message' })).to.include({ ok: false, code: 'MESSAGE_NOT_FOUND' });

        // Approve: the only review, so the case awaits its licence. The message id "0123" stays a string.
        const ok = await t.dep.answers.answerNow(a, 'approve', undefined, '0123');
        expect(ok).to.deep.equal({ ok: true, duplicate: false, caseId: a, caseStatus: 'awaiting_licence' });
        expect(await t.db.get<any>('SELECT message_id FROM inbox WHERE message_id = $1', ['0123'])).to.deep.equal({ message_id: '0123' });
        const events = (await t.sec.get(`/api/cases/${a}`)).body.timeline.length;
        // The same message sent again (the department keeps its signed bytes per message id): success, duplicate, nothing changes.
        const again = await t.dep.answers.answerNow(a, 'refuse', 'changed my mind', '0123');
        expect(again).to.deep.equal({ ok: true, duplicate: true, caseId: a, caseStatus: 'awaiting_licence' });
        // The same id with other content, properly signed: a replay, refused, kept and audited.
        const replay = t.dep.answers.signer.xml({ messageId: '0123', kind: 'opinion', departmentId: 'xw-culture', caseId: a, decision: 'refuse', reasons: 'changed my mind' });
        expect((await post(t.run.base, replay, auth)).result).to.include({ ok: false, code: 'MESSAGE_REPLAYED' });
        await expectRefusalRecorded(t.run.gw, { code: 'MESSAGE_REPLAYED', channel: 'xml', messageId: '0123' });
        const after = (await t.sec.get(`/api/cases/${a}`)).body;
        expect(after.status).to.equal('awaiting_licence');
        expect(after.reviews[0]).to.include({ state: 'approved' });
        expect(after.timeline.length).to.equal(events);

        // Licence, then the permit report over XML makes the case operating; a repeated report changes nothing.
        const registrar = client(t.run.base, await login(t.run.base, 'registrar'));
        expect((await registrar.post(`/api/cases/${a}/licence`)).status).to.equal(201);
        expect(await t.dep.answers.send({ messageId: 'permit-1', kind: 'permit', departmentId: 'xw-culture', caseId: a, permitNumber: '00710' })).to.include({ ok: true, duplicate: false, caseStatus: 'operating' });
        expect(await t.dep.answers.send({ messageId: 'permit-1', kind: 'permit', departmentId: 'xw-culture', caseId: a, permitNumber: '00710' })).to.include({ ok: true, duplicate: true, caseStatus: 'operating' });
        expect((await t.sec.get(`/api/cases/${a}`)).body.permits[0]).to.include({ permitNumber: '00710' });

        // Refusals on a case under review; none of them changes it.
        const b = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        const before = (await t.sec.get(`/api/cases/${b}`)).body;
        // Signed by the culture bureau's key whatever department the document names.
        const opinion = (id: string, dep = 'xw-culture') =>
          signerFor('xw-culture').xml({ messageId: id, kind: 'opinion', departmentId: dep, caseId: b, decision: 'refuse', reasons: 'no' }, { signAs: 'xw-culture' });
        const fire = await login(t.run.base, 'reviewer-xw-fire');
        const cases: [string, string, Record<string, string>, number, string][] = [
          ['no token', opinion('x1'), { 'content-type': 'application/xml' }, 401, 'UNAUTHENTICATED'],
          // The reviewer factor fails without saying how (a bad token, or a token of another department).
          ['bad token', opinion('x2'), { 'content-type': 'application/xml', authorization: 'Bearer not.a.token' }, 403, 'REVIEWER_NOT_AUTHORISED'],
          ['another department', opinion('x3'), { 'content-type': 'text/xml', authorization: `Bearer ${fire}` }, 403, 'REVIEWER_NOT_AUTHORISED'],
          ['posing as another department', opinion('x4', 'xw-fire'), auth, 401, 'KEY_NOT_VALID'],
          ['unknown department', opinion('x5', 'xw-nowhere'), auth, 422, 'UNKNOWN_DEPARTMENT'],
          ['malformed', opinion('x6').replace('</opinion>', ''), auth, 400, 'MALFORMED_XML'],
          ['DOCTYPE', opinion('x7').replace('<opinion', '<!DOCTYPE opinion [<!ENTITY x SYSTEM "file:///etc/passwd">]><opinion'), auth, 400, 'MALFORMED_XML'],
          ['duplicated element', opinion('x8').replace('<decision>', '<decision>approve</decision><decision>'), auth, 400, 'MALFORMED_XML'],
          ['JSON instead of XML', JSON.stringify({ decision: 'refuse' }), { ...auth, 'content-type': 'application/json' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
          ['oversized', opinion('x9').replace('<reasons>no', `<reasons>${'x'.repeat(XML_LIMITS.maxBytes)}`), auth, 413, 'XML_LIMIT_EXCEEDED'],
          ['deeply nested', `<opinion xmlns="urn:pag:approval:1">${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</opinion>`, auth, 413, 'XML_LIMIT_EXCEEDED'],
        ];
        for (const [what, body, headers, status, code] of cases) {
          const r = await post(t.run.base, body, headers);
          expect(r.status, what).to.equal(status);
          expect(r.result, what).to.include({ ok: false, code });
          expect(r.text, what).not.to.match(/\n\s+at |\.js:\d+/);
        }
        const unchanged = (await t.sec.get(`/api/cases/${b}`)).body;
        expect(unchanged.status).to.equal('in_review');
        expect(unchanged.reviews[0].state).to.equal('delivered');
        expect(unchanged.timeline.length).to.equal(before.timeline.length);
        expect(await t.db.get<any>(`SELECT COUNT(*) AS n FROM inbox WHERE message_id LIKE 'x%'`)).to.satisfy((r: any) => Number(r.n) === 0);

        // The simulated department on its own: a receipt, then a refusal with reasons, terminates the case.
        t.dep.behaviour.answer = { decision: 'refuse', reasons: '经营场所不符合要求' };
        t.dep.behaviour.receipt = true;
        const c = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        await t.dep.answers.idle();
        const refused = (await t.sec.get(`/api/cases/${c}`)).body;
        expect(refused.status).to.equal('terminated');
        expect(refused.reviews[0]).to.include({ state: 'refused' });

        // A silent department leaves the review delivered; one that answers malformed XML is refused and changes nothing.
        t.dep.behaviour = { answer: 'silent' };
        const d = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        await t.dep.answers.idle();
        expect((await t.review(d)).state).to.equal('delivered');
        t.dep.behaviour = { malformedAnswer: true };
        const e = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        await t.dep.answers.idle();
        expect(t.dep.answers.sent.at(-1)!.result).to.include({ ok: false, code: 'MALFORMED_XML' });
        expect((await t.review(e)).state).to.equal('delivered');
      } finally {
        await t.cleanup(t.dep, t.run);
      }
    });
  });
}
