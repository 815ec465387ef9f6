// Gateway peering: a district gateway (A) whose city fire review is served by the city's gateway (B), both in this process.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mintAssertion } from '../../src/peer/assertion.js';
import { KeyRegistry } from '../../src/trust/keys.js';
import { DepartmentSigner } from '../../src/trust/department.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { GatewayError } from '../../src/domain/errors.js';
import { CONFIG_DIR } from '../../src/paths.js';
import { application, client, freshStore, login, startGateway, STORES, type Client, type Running } from '../support/harness.js';
import { A_ID, B_ID, configA, configB, forwardedOpinion, njReviewer, peeredCerts, peerMessage, Q_ID, tamper, until } from '../support/peering.js';
import { expectRefusalRecorded, signingClient } from '../support/signing.js';

const hotel = () => application({ businessScope: ['hotel'], industry: 'accommodation' });
const admin = { kind: 'user' as const, id: 'admin', role: 'admin' as const };

for (const kind of STORES) {
  describe(`gateway peering (${kind})`, function () {
    let storeA: Awaited<ReturnType<typeof freshStore>>;
    let storeB: Awaited<ReturnType<typeof freshStore>>;
    let storeQ: Awaited<ReturnType<typeof freshStore>>;
    let a: Running;
    let b: Running;
    let certs: { a: string; b: string; q: string };
    let keysB: KeyRegistry;
    let keysA: KeyRegistry;
    let keysQ: KeyRegistry;
    let secA: Client;
    let bSettings: { configFile: string; certsDir: string; port: number };

    before(async function () {
      storeA = await freshStore(kind, 'peer-a');
      storeB = await freshStore(kind, 'peer-b');
      storeQ = await freshStore('sqlite', 'peer-q');
      certs = peeredCerts(storeA.dir, storeB.dir, storeQ.dir);
      [keysA, keysB, keysQ] = [new KeyRegistry(certs.a, false), new KeyRegistry(certs.b, false), new KeyRegistry(certs.q, false)];
      // Each needs the other's address: B starts first with a placeholder, then learns A's through a runtime change.
      b = await startGateway(storeB.db(), { configFile: configB(storeB.dir, 'http://127.0.0.1:9'), certsDir: certs.b });
      a = await startGateway(storeA.db(), { configFile: configA(storeA.dir, b.base), certsDir: certs.a });
      await b.gw.putAdapter('to-xuanwu', { kind: 'gateway', options: { url: `${a.base}/api/peer/messages`, gateway: A_ID, timeoutMs: 2000 }, retry: { maxAttempts: 50, baseDelayMs: 20, maxDelayMs: 100 } }, admin);
      bSettings = { configFile: b.gw.settings.configFile, certsDir: certs.b, port: Number(new URL(b.base).port) };
      secA = client(a.base, await login(a.base, 'secretary', `peer-a-${kind}`));
    });
    after(async function () {
      await a?.stop();
      await b?.stop();
      for (const s of [storeA, storeB, storeQ]) await s?.cleanup();
    });

    const review = async (run: Running, caseId: string, dep = 'nj-fire') => (await run.gw.cases.get(caseId).catch(() => null))?.reviews.find((r) => r.departmentId === dep);
    const post = (base: string, jws: string) => fetch(`${base}/api/peer/messages`, { method: 'POST', headers: { 'content-type': 'application/jose' }, body: jws }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

    /** A hotel case accepted at A, its city fire review delivered to B and mirrored there. */
    async function mirrored(): Promise<string> {
      const created = await secA.post('/api/cases', hotel());
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const id = created.body.id as string;
      expect((await secA.post(`/api/cases/${id}/accept`)).status).to.equal(200);
      await until('A delivers to B', async () => (await review(a, id))?.state === 'delivered');
      await until('B delivers to its hosted department', async () => (await review(b, id))?.state === 'delivered');
      return id;
    }

    it("mirrors A's review in B, takes B's reviewer's answer back to A once, with A's deadline shown in B", async function () {
      const id = await mirrored();
      const mirror = await b.gw.cases.get(id);
      expect(mirror.status).to.equal('in_review');
      expect(mirror.reference).to.equal(`${A_ID}:${(await a.gw.cases.get(id)).reference}`);
      expect(mirror.reviews.map((r) => r.departmentId)).to.deep.equal(['nj-fire']);
      expect(mirror.application.investors).to.deep.equal([]);
      // A's deadline is authoritative: B shows it once A's delivery message arrives.
      const dueA = (await review(a, id))!.dueAt;
      await until("A's deadline in B", async () => (await review(b, id))?.dueAt === dueA);

      const reviewerB = client(b.base, await login(b.base, 'reviewer-nj-fire', `peer-b-${kind}`));
      const view = await reviewerB.get(`/api/cases/${id}`);
      expect(view.body.origin).to.deep.equal({ gateway: A_ID, reference: (await a.gw.cases.get(id)).reference });
      const answer = await reviewerB.post(`/api/cases/${id}/reviews/nj-fire/opinion`, { decision: 'approve', reasons: '消防验收合格', messageId: randomUUID() });
      expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
      expect(answer.body.status).to.equal('concluded');

      const approved = await until('the opinion reaches A', async () => ((await review(a, id))?.state === 'approved' ? review(a, id) : null));
      expect(approved!.answeredBy).to.equal(`reviewer-nj-fire@${B_ID}`);
      expect(approved!.answeredVia).to.equal('to-nanjing');

      // The same forwarded opinion again (a retry after a lost acknowledgement): accepted as a duplicate, no second effect.
      // B records the delivery once A's acknowledgement is back, which may be just after A committed the opinion.
      const row = await until("B's record of the delivery", () => b.gw.db.get<{ id: string; payload: string; state: string }>("SELECT id, payload, state FROM outbox WHERE case_id = $1 AND kind = 'opinion' AND state = 'delivered'", [id]));
      const again = await b.gw.adapters.get('to-xuanwu')!.send({ id: row!.id, kind: 'opinion', caseId: id, departmentId: A_ID, sender: B_ID, attempt: 2, payload: JSON.parse(row!.payload) });
      expect(again.status).to.equal('delivered');
      const approvals = await a.gw.db.all("SELECT 1 AS x FROM events WHERE case_id = $1 AND action = 'review.approved' AND data LIKE '%nj-fire%'", [id]);
      expect(approvals).to.have.length(1);
    });

    it('refuses a message from a gateway that is not a peer, and a peer asking a department it may not ask', async function () {
      // An administrator's test message (pag adapters test) reaches the peer and is acknowledged, with no effect.
      const tested = await a.gw.testAdapter('to-nanjing');
      expect(tested, JSON.stringify(tested)).to.include({ ok: true, outcome: 'delivered', departmentId: 'nj-fire' });
      expect((await a.gw.adapterHealth())['to-nanjing']!.ok).to.equal(true);
      const stranger = await post(b.base, await peerMessage(keysQ, 'suzhou-gateway', B_ID, 'notification', randomUUID(), {}));
      expect([stranger.status, stranger.body.error.code]).to.deep.equal([403, 'PEER_UNKNOWN']);
      await expectRefusalRecorded(b.gw, { code: 'PEER_UNKNOWN', channel: 'peer:suzhou-gateway' });

      const caseId = randomUUID();
      const asked = await post(b.base, await peerMessage(keysA, A_ID, B_ID, 'notification', caseId, { caseId, departmentId: 'xw-health', reference: 'x', enterpriseName: 'x' }));
      expect([asked.status, asked.body.error.code]).to.deep.equal([403, 'PEER_NOT_ALLOWED']);
      await expectRefusalRecorded(b.gw, { code: 'PEER_NOT_ALLOWED', channel: `peer:${A_ID}` });
      expect(await b.gw.cases.get(caseId).catch(() => null)).to.equal(null);

      // Signed by a key that is not the claimed peer's: the channel does not hold.
      const forged = await post(b.base, await peerMessage(keysQ, A_ID, B_ID, 'notification', caseId, { caseId, departmentId: 'nj-fire' }));
      expect([forged.status, forged.body.error.code]).to.deep.equal([401, 'KEY_NOT_VALID']);
    });

    it("checks each factor of a forwarded opinion separately: the department's signature, the assertion, the reviewer's entitlement", async function () {
      const id = await mirrored();
      const expectRefused = async (jws: string, code: string, status: number, from = B_ID) => {
        const r = await post(a.base, jws);
        expect([r.status, r.body.error?.code], JSON.stringify(r.body)).to.deep.equal([status, code]);
        await expectRefusalRecorded(a.gw, { code, channel: `peer:${from}` });
        expect((await review(a, id))!.state).to.equal('delivered');
      };
      // The department's signature: the decision changed after nj-fire signed it.
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, department: (j) => tamper(j, (p) => (p.body.decision = 'refuse')) }), 'DEPARTMENT_SIGNATURE_INVALID', 401);
      // ... or signed by another department's key.
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, department: () => '' }), 'DEPARTMENT_SIGNATURE_INVALID', 401);
      // The assertion: for another audience, expired, or by a peer that does not serve nj-fire.
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, assertion: () => mintAssertion(keysB, B_ID, 'other-gateway', njReviewer) }), 'REVIEWER_ASSERTION_INVALID', 403);
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, assertion: () => mintAssertion(keysB, B_ID, A_ID, njReviewer, Date.now() - 600_000) }), 'REVIEWER_ASSERTION_INVALID', 403);
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, assertion: () => mintAssertion(keysQ, Q_ID, A_ID, njReviewer) }), 'REVIEWER_ASSERTION_INVALID', 403);
      // The reviewer: a district reviewer answering the city review, or a city reviewer of another department.
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, assertion: () => mintAssertion(keysB, B_ID, A_ID, { ...njReviewer, username: 'reviewer-xw-fire', departmentId: 'xw-fire', level: 'district' }) }), 'REVIEWER_NOT_AUTHORISED', 403);
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, assertion: () => mintAssertion(keysB, B_ID, A_ID, { ...njReviewer, level: 'district' }) }), 'REVIEWER_NOT_AUTHORISED', 403);
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, assertion: () => mintAssertion(keysB, B_ID, A_ID, { ...njReviewer, amr: ['pwd'] }) }), 'REVIEWER_NOT_AUTHORISED', 403);
      // The channel: the opinion of nj-fire forwarded by Q, which does not serve it.
      await expectRefused(await forwardedOpinion({ keysB, caseId: id, sender: Q_ID, senderKeys: keysQ, assertion: () => mintAssertion(keysQ, Q_ID, A_ID, njReviewer) }), 'CHANNEL_NOT_BOUND', 403, Q_ID);
      // And nj-fire's reviewer at A itself cannot answer a review A sent to B.
      const local = await signingClient(a.base, await login(a.base, 'reviewer-nj-fire', `peer-a-${kind}`)).post(`/api/cases/${id}/reviews/nj-fire/opinion`, { decision: 'approve', messageId: randomUUID() });
      expect(local.body.error.code).to.equal('CHANNEL_NOT_BOUND');

      // Every part right: it takes effect, once.
      const messageId = randomUUID();
      const good = await post(a.base, await forwardedOpinion({ keysB, caseId: id, messageId }));
      expect(good.status, JSON.stringify(good.body)).to.equal(200);
      expect((await review(a, id))!.state).to.equal('approved');
      const dup = await post(a.base, await forwardedOpinion({ keysB, caseId: id, messageId }));
      // Other content under the same department message id is a replay.
      expect(dup.body.error.code).to.equal('MESSAGE_REPLAYED');
    });

    it("verifies a department's XML-DSig signature forwarded by the peer (an XML or SOAP department there)", async function () {
      const id = await mirrored();
      const tampered = await post(a.base, await forwardedOpinion({ keysB, caseId: id, xml: true, department: (x) => x.replace('<decision>approve</decision>', '<decision>refuse</decision>') }));
      expect([tampered.status, tampered.body.error?.code], JSON.stringify(tampered.body)).to.deep.equal([401, 'DEPARTMENT_SIGNATURE_INVALID']);
      const good = await post(a.base, await forwardedOpinion({ keysB, caseId: id, xml: true }));
      expect(good.status, JSON.stringify(good.body)).to.equal(200);
      expect((await review(a, id))!.state).to.equal('approved');
    });

    it("forwards an answer B received as a signed XML document (POST /xml/messages), which A verifies itself", async function () {
      const id = await mirrored();
      const token = await login(b.base, 'reviewer-nj-fire', `peer-b-${kind}`);
      const doc = new DepartmentSigner(keysB, 'nj-fire', B_ID).xml({ messageId: randomUUID(), kind: 'opinion', departmentId: 'nj-fire', caseId: id, decision: 'approve', reasons: '经审查同意' });
      const r = await fetch(`${b.base}/xml/messages`, { method: 'POST', headers: { 'content-type': 'application/xml', authorization: `Bearer ${token}` }, body: doc });
      expect(r.status, await r.clone().text()).to.equal(200);
      await until('the XML-signed opinion approved at A', async () => (await review(a, id))?.state === 'approved');
      const row = await b.gw.db.get<{ payload: string }>("SELECT payload FROM outbox WHERE case_id = $1 AND kind = 'opinion'", [id]);
      expect(JSON.parse(row!.payload).department.format).to.equal('xmldsig');
    });

    it("carries A's termination to B: the mirrored review is cancelled and the mirror case ends", async function () {
      const id = await mirrored();
      expect((await secA.post(`/api/cases/${id}/terminate`, { reason: '申请人撤回' })).status).to.equal(200);
      await until('the cancellation reaches B', async () => (await b.gw.cases.get(id)).status === 'terminated');
      expect((await review(b, id))!.state).to.equal('cancelled');
    });

    it('runs a chain across gateways: the district step in A, then the city step in B with the opinion before it', async function () {
      await a.gw.changeConfig(admin, 'chain hotels from xw-fire to nj-fire', (doc: any) => {
        const r = doc.routes.find((x: any) => x.department === 'nj-fire');
        Object.assign(r, { department: 'xw-fire', then: ['nj-fire'] });
      });
      try {
        const created = await secA.post('/api/cases', hotel());
        const id = created.body.id as string;
        expect((await secA.post(`/api/cases/${id}/accept`)).status).to.equal(200);
        expect((await review(a, id))!.state).to.equal('waiting');
        await until('xw-fire delivered', async () => (await review(a, id, 'xw-fire'))?.state === 'delivered');
        expect(await b.gw.cases.get(id).catch(() => null)).to.equal(null);
        const xwFire = client(a.base, await login(a.base, 'reviewer-xw-fire', `peer-a-${kind}`));
        expect((await xwFire.post(`/api/cases/${id}/reviews/xw-fire/opinion`, { decision: 'approve', reasons: '区级初审同意', messageId: randomUUID() })).status).to.equal(200);

        await until('the city step mirrored in B', async () => (await review(b, id))?.state === 'delivered');
        const stepA = await until("the city step delivered at A", async () => ((await review(a, id))?.state === 'delivered' ? review(a, id) : null));
        expect(stepA!.after).to.equal('xw-fire');
        const stepB = await until("A's deadline for the step in B", async () => ((await review(b, id))?.dueAt === stepA!.dueAt ? review(b, id) : null));
        expect(stepB!.after).to.equal('xw-fire');
        // The superior review is already the chain's extension: B refuses to extend it again, as A would.
        const njFire = client(b.base, await login(b.base, 'reviewer-nj-fire', `peer-b-${kind}`));
        const extend = await njFire.post(`/api/cases/${id}/reviews/nj-fire/opinion`, { decision: 'extend', reasons: '需要补充材料', messageId: randomUUID() });
        expect(extend.body.error.code).to.equal('EXTENSION_NOT_ALLOWED');
        expect((await njFire.post(`/api/cases/${id}/reviews/nj-fire/opinion`, { decision: 'approve', reasons: '市级审批同意', messageId: randomUUID() })).status).to.equal(200);
        await until('the city step approved at A', async () => (await review(a, id))?.state === 'approved');
      } finally {
        await a.gw.changeConfig(admin, 'hotels straight to nj-fire again', (doc: any) => {
          const r = doc.routes.find((x: any) => Array.isArray(x.then));
          delete r.then;
          r.department = 'nj-fire';
        });
      }
    });

    it('keeps the notification while B is down and delivers it when B is back', async function () {
      await b.stop();
      const created = await secA.post('/api/cases', hotel());
      const id = created.body.id as string;
      expect((await secA.post(`/api/cases/${id}/accept`)).status).to.equal(200);
      await until('a failed attempt to reach B', async () => (await a.gw.db.all("SELECT 1 AS x FROM delivery_attempts d JOIN outbox o ON o.id = d.message_id WHERE o.case_id = $1 AND o.adapter = 'to-nanjing' AND d.outcome <> 'delivered'", [id])).length > 0);
      expect((await review(a, id))!.state).to.equal('pending_delivery');
      b = await startGateway(storeB.db(), bSettings);
      await until('A delivers after B is back', async () => (await review(a, id))?.state === 'delivered');
      await until('the mirror case in B', async () => (await review(b, id))?.state === 'delivered');
    });
  });
}

describe('peering configuration', function () {
  let store: Awaited<ReturnType<typeof freshStore>>;
  before(async function () {
    store = await freshStore('sqlite', 'peer-config');
  });
  after(async function () {
    await store?.cleanup();
  });

  const refusedAt = (change: (cfg: any) => void): string => {
    try {
      loadConfig(configA(store.dir, 'http://127.0.0.1:9', change));
    } catch (e) {
      expect((e as GatewayError).code).to.equal('CONFIG_INVALID');
      return String((e as GatewayError).details.path);
    }
    throw new Error('the configuration was accepted');
  };

  it('refuses a peer without a gateway adapter for it, an unknown department to ask, a hosted peered department, and a gateway adapter to no peer', function () {
    expect(() => loadConfig(configA(store.dir, 'http://127.0.0.1:9'))).to.not.throw();
    expect(refusedAt((c) => (c.peers[0].adapter = 'simulated'))).to.equal('/peers/0/adapter');
    expect(refusedAt((c) => (c.peers[0].adapter = 'to-qinhuai'))).to.equal('/peers/0/adapter');
    expect(refusedAt((c) => (c.peers[0].departments = ['no-such-department']))).to.equal('/peers/0/departments/0');
    expect(refusedAt((c) => (c.peers[1].departments = ['nj-fire']))).to.equal('/peers/1/departments/0');
    const nj = (c: any) => c.departments.findIndex((d: any) => d.id === 'nj-fire');
    expect(refusedAt((c) => (c.departments[nj(c)].hosted = true))).to.equal(`/departments/${nj(configDoc())}/hosted`);
    expect(refusedAt((c) => (c.peers = [c.peers[1]]))).to.equal(`/departments/${nj(configDoc())}/adapter`);
    expect(refusedAt((c) => c.peers.push({ id: A_ID, adapter: 'to-nanjing' }))).to.equal('/peers/2/id');
  });
});

const configDoc = (): any => JSON.parse(readFileSync(join(CONFIG_DIR, 'default.json'), 'utf8'));
