// The SOAP channel against real peers on loopback: the department's own SOAP service, and clients generated from the served WSDL.
import { expect } from 'chai';
import { callGateway, faultOf, gatewayClient, SAMPLE_MAPPING, startSoapDepartment } from '../../adapters/soap/sim.js';
import { XML_LIMITS } from '../../src/xml/read.js';
import type { IncomingMessage } from '../../adapters/adapter.js';
import type { SignOptions } from '../../src/trust/department.js';
import { application, client, freshStore, login, startGateway, STORES, writeConfig } from '../support/harness.js';
import { expectRefusalRecorded, signerFor } from '../support/signing.js';

async function setup(kind: (typeof STORES)[number], name: string) {
  const store = await freshStore(kind, name);
  const access = { base: '', departmentId: 'xw-culture', token: undefined as undefined | (() => Promise<string>) };
  const dep = await startSoapDepartment(access, { answer: 'manual' });
  const file = writeConfig(store.dir, 'soap.json', (cfg) => {
    cfg.adapters.culture = {
      kind: 'soap',
      options: { wsdl: dep.wsdl, endpoint: dep.endpoint, ...SAMPLE_MAPPING, timeoutMs: 2000, headers: { 'x-api-key': 'k-1' } },
      retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 5000 },
    };
    cfg.departments.find((d: any) => d.id === 'xw-culture').adapter = 'culture';
  });
  const run = await startGateway(store.db(), { configFile: file }, { dispatch: false });
  access.base = run.base;
  const reviewer = await login(run.base, 'reviewer-xw-culture');
  access.token = async () => reviewer;
  const sec = client(run.base, await login(run.base, 'secretary'));
  const admin = client(run.base, await login(run.base, 'admin'));
  await admin.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
  const db = run.gw.db;
  return {
    run, dep, sec, admin, reviewer, db,
    newCase: async () => {
      const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
      await sec.post(`/api/cases/${c.id}/accept`);
      return c.id as string;
    },
    // Retries wait in real time; the test moves a message's next attempt to now instead of waiting.
    due: () => db.run(`UPDATE outbox SET next_attempt_at = 0 WHERE state = 'waiting_retry'`),
    outbox: (caseId: string) => db.get<any>('SELECT id, state, attempts, last_error FROM outbox WHERE case_id = $1', [caseId]),
    view: async (caseId: string) => (await sec.get(`/api/cases/${caseId}`)).body,
    cleanup: async () => {
      await run.stop();
      await dep.close().catch(() => undefined);
      await store.cleanup();
    },
  };
}

const envelope = (body: string) => `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${body}</soap:Body></soap:Envelope>`;

for (const kind of STORES) {
  describe(`SOAP adapter and service (${kind})`, function () {
    it("calls the department's SOAP operation with mapped fields, retries server faults, fails on client faults and resends", async function () {
      const t = await setup(kind, 'soap-out');
      try {
        // 1. Two Server faults (retryable), then the department takes it.
        t.dep.behaviour.failTimes = 2;
        const a = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        expect(await t.outbox(a)).to.include({ state: 'waiting_retry', attempts: 1 });
        await t.due();
        await t.run.gw.dispatcher.runOnce();
        await t.due();
        await t.run.gw.dispatcher.runOnce();
        const msg = await t.outbox(a);
        expect(msg).to.include({ state: 'delivered', attempts: 3 });
        const attempts = await t.db.all<any>('SELECT outcome, error FROM delivery_attempts WHERE message_id = $1 ORDER BY id', [msg.id]);
        expect(attempts.map((x) => x.outcome)).to.deep.equal(['retryable_error', 'retryable_error', 'delivered']);
        expect(attempts[0].error).to.match(/Server/);
        expect(t.dep.received).to.have.length(1);
        const got = t.dep.received[0]!;
        expect(got.operation).to.equal('ReceiveCase');
        expect(got.args).to.include({ noticeId: msg.id, caseNo: a, fromSystem: 'xuanwu-gateway', toDept: 'xw-culture' });
        expect(Date.parse(String(got.args.issued))).to.not.be.NaN;
        expect(String(got.args.enterpriseName)).to.match(/^南京玄武测试餐饮有限公司/);
        expect([got.args.scope].flat()).to.deep.equal(['bookstore']);
        expect(got.headers).to.include({ 'message-id': msg.id, 'x-api-key': 'k-1' });
        expect((await t.view(a)).reviews[0].state).to.equal('delivered');

        // 2. A Client fault is a refusal: failed at once, resent on request.
        t.dep.behaviour.refuse = true;
        const b = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        const failed = await t.outbox(b);
        expect(failed).to.include({ state: 'failed', attempts: 1 });
        expect(failed.last_error).to.match(/Client/);
        t.dep.behaviour.refuse = false;
        expect((await t.admin.post(`/api/outbox/${failed.id}/resend`)).status).to.equal(200);
        await t.run.gw.dispatcher.runOnce();
        expect(await t.outbox(b)).to.include({ state: 'delivered' });

        // 3. An answer that is not SOAP leaves delivery uncertain: retried, not delivered.
        t.dep.behaviour.malformedResponse = true;
        const c = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        expect(await t.outbox(c)).to.include({ state: 'waiting_retry' });
        expect((await t.view(c)).reviews[0].state).to.equal('pending_delivery');
        t.dep.behaviour.malformedResponse = false;
        await t.due();
        await t.run.gw.dispatcher.runOnce();
        expect(await t.outbox(c)).to.include({ state: 'delivered', attempts: 2 });

        // 4. The department is down: retried until the attempts are spent, then failed.
        await t.dep.close();
        const d = await t.newCase();
        for (let i = 0; i < 3; i++) {
          await t.due();
          await t.run.gw.dispatcher.runOnce();
        }
        expect(await t.outbox(d)).to.include({ state: 'failed', attempts: 3 });
        expect((await (await fetch(`${t.run.base}/healthz`)).json()).adapters.culture.ok).to.equal(false);
      } finally {
        await t.cleanup();
      }
    });

    it('serves a WSDL any client can use: every operation through a generated client, faults with catalogue codes, nothing changed by refusals', async function () {
      const t = await setup(kind, 'soap-in');
      try {
        const wsdl = await fetch(`${t.run.base}/soap/approval?wsdl`);
        expect(wsdl.status).to.equal(200);
        expect(await wsdl.text()).to.include(`<soap:address location="${t.run.base}/soap/approval"/>`);
        const soapClient = await gatewayClient(t.run.base);
        const ops = Object.keys(soapClient.describe().ApprovalService.ApprovalPort);
        expect(ops.sort()).to.deep.equal(['AcknowledgeNotification', 'GetCaseStatus', 'ReportInspection', 'ReportPermit', 'SubmitOpinion']);
        const call = (op: string, args: Record<string, unknown>, token: string | null = t.reviewer) => callGateway(soapClient, op, args, token);
        // Each operation carries the department's signed document, as over XML over HTTP.
        const culture = signerFor('xw-culture');
        const signed = (m: Omit<IncomingMessage, 'departmentId'> & { departmentId?: string }, o: SignOptions = {}) => ({ document: culture.xml({ departmentId: 'xw-culture', ...m }, { signAs: 'xw-culture', ...o }) });

        // AcknowledgeNotification: the receipt makes the (unsent) notification delivered and starts the clock.
        const a = await t.newCase();
        const note = await t.outbox(a);
        expect(await call('AcknowledgeNotification', signed({ messageId: 'ack-1', kind: 'receipt', caseId: a, ackOf: note.id }))).to.deep.equal({ duplicate: false, caseId: a, caseStatus: 'in_review' });
        const status = (await call('GetCaseStatus', { caseId: a })) as any;
        expect(status).to.deep.include({ caseId: a, status: 'in_review' });
        const review = [status.review].flat()[0];
        expect(review).to.include({ departmentId: 'xw-culture', state: 'delivered' });
        expect(Date.parse(review.dueAt)).to.not.be.NaN;

        // SubmitOpinion, then the same signed message again: duplicate, nothing changes; the same id with other content: a replay.
        const approval = signed({ messageId: '0123', kind: 'opinion', caseId: a, decision: 'approve' });
        expect(await call('SubmitOpinion', approval)).to.deep.equal({ duplicate: false, caseId: a, caseStatus: 'awaiting_licence' });
        const events = (await t.view(a)).timeline.length;
        expect(await call('SubmitOpinion', approval)).to.deep.equal({ duplicate: true, caseId: a, caseStatus: 'awaiting_licence' });
        expect(await call('SubmitOpinion', signed({ messageId: '0123', kind: 'opinion', caseId: a, decision: 'refuse', reasons: 'no' }))).to.include({ ok: false, code: 'MESSAGE_REPLAYED' });
        await expectRefusalRecorded(t.run.gw, { code: 'MESSAGE_REPLAYED', channel: 'soap', messageId: '0123' });
        // An operation carrying another kind of document than its own is refused.
        expect(await call('ReportPermit', signed({ messageId: 'wrong-op', kind: 'opinion', caseId: a, decision: 'approve' }))).to.include({ ok: false, code: 'SIGNATURE_INVALID' });
        expect((await t.view(a)).timeline.length).to.equal(events);
        expect(await t.db.get<any>('SELECT message_id FROM inbox WHERE message_id = $1', ['0123'])).to.deep.equal({ message_id: '0123' });

        // ReportPermit after the licence.
        const registrar = client(t.run.base, await login(t.run.base, 'registrar'));
        expect((await registrar.post(`/api/cases/${a}/licence`)).status).to.equal(201);
        expect(await call('ReportPermit', signed({ messageId: 'permit-1', kind: 'permit', caseId: a, permitNumber: '00710' }))).to.include({ caseStatus: 'operating' });
        expect(((await call('GetCaseStatus', { caseId: a })) as any).status).to.equal('operating');

        // Refusals as faults, on a case under review; none changes it.
        const b = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        const before = await t.view(b);
        const fire = await login(t.run.base, 'reviewer-xw-fire');
        const opinion = (id: string, dep = 'xw-culture') => signed({ messageId: id, kind: 'opinion', departmentId: dep, caseId: b, decision: 'refuse', reasons: 'no' });
        expect(await call('SubmitOpinion', opinion('s1'), null)).to.include({ ok: false, code: 'UNAUTHENTICATED' });
        expect(await call('SubmitOpinion', opinion('s2'), 'not.a.token')).to.include({ ok: false, code: 'REVIEWER_NOT_AUTHORISED' });
        expect(await call('SubmitOpinion', opinion('s3'), fire)).to.include({ ok: false, code: 'REVIEWER_NOT_AUTHORISED' });
        expect(await call('SubmitOpinion', opinion('s4', 'xw-fire'))).to.include({ ok: false, code: 'KEY_NOT_VALID' });
        expect(await call('SubmitOpinion', { document: opinion('s5').document.replace('<decision>refuse</decision>', '<decision>maybe</decision>') })).to.include({ ok: false, code: 'MALFORMED_XML' });
        expect(await call('GetCaseStatus', { caseId: b }, fire)).to.include({ ok: false, code: 'NOT_FOUND' });
        expect(await call('GetCaseStatus', { caseId: b }, null)).to.include({ ok: false, code: 'UNAUTHENTICATED' });

        const raw = async (body: string, what: string, code: string) => {
          const res = await fetch(`${t.run.base}/soap/approval`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', authorization: `Bearer ${t.reviewer}` }, body });
          const text = await res.text();
          expect(res.status, what).to.equal(500);
          expect(faultOf(text), what).to.include({ ok: false, code });
          expect(text, what).not.to.match(/\n\s+at |\.js:\d+/);
        };
        const op = `<SubmitOpinion xmlns="urn:pag:approval:1"><document>${opinion('r1').document.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</document></SubmitOpinion>`;
        await raw(envelope(op).replace('</soap:Body>', ''), 'malformed', 'MALFORMED_XML');
        await raw(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${envelope(op.replace('</document>', '&e;</document>'))}`, 'DOCTYPE', 'MALFORMED_XML');
        await raw(envelope(op.replace('</document>', '</document><document>x</document>')), 'duplicated element', 'MALFORMED_XML');
        await raw(envelope(op.replace('</document>', `${'x'.repeat(XML_LIMITS.maxBytes)}</document>`)), 'oversized', 'XML_LIMIT_EXCEEDED');
        await raw(envelope(`<SubmitOpinion xmlns="urn:pag:approval:1">${'<a>'.repeat(3000)}${'</a>'.repeat(3000)}</SubmitOpinion>`), 'deeply nested', 'XML_LIMIT_EXCEEDED');
        await raw(envelope('<DropTables xmlns="urn:pag:approval:1"/>'), 'unknown operation', 'MALFORMED_XML');
        await raw('', 'empty', 'MALFORMED_XML');
        const after = await t.view(b);
        expect(after.status).to.equal('in_review');
        expect(after.reviews[0].state).to.equal('delivered');
        expect(after.timeline.length).to.equal(before.timeline.length);

        // The simulated department on its own: a receipt, then an approval through its generated client.
        t.dep.behaviour = { receipt: true, answer: { decision: 'approve' } };
        const c = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        await t.dep.answers.idle();
        expect((await t.view(c)).status).to.equal('awaiting_licence');
        expect(t.dep.answers.sent.map((s) => (s.result as { ok: boolean }).ok)).to.deep.equal([true, true]);
        // The department checked every notice's signature (the signed document in the mapped field signedNotice).
        expect(t.dep.badSignatures).to.have.length(0);
        expect(t.dep.received.at(-1)!.doc).to.include({ kind: 'notification', caseId: c, sender: 'xuanwu-gateway', receiver: 'xw-culture' });
        // A malformed answer is refused with a fault and changes nothing.
        t.dep.behaviour = { malformedAnswer: true };
        const d = await t.newCase();
        await t.run.gw.dispatcher.runOnce();
        await t.dep.answers.idle();
        expect(t.dep.answers.sent.at(-1)!.result).to.include({ ok: false, code: 'MALFORMED_XML' });
        expect((await t.view(d)).reviews[0].state).to.equal('delivered');
      } finally {
        await t.cleanup();
      }
    });
  });
}
