// The AMQP adapter against the real RabbitMQ: topology, message properties, receipts, resends, opinions, dead letters.
import { CERTS_DIR } from '../../src/paths.js';
import { expect } from 'chai';
import { AmqpDepartmentSim } from '../../adapters/amqp/sim.js';
import { createAmqpAdapter, type AmqpAdapter } from '../../adapters/amqp/index.js';
import { application, client, freshStore, login, silentLogger, startGateway, STORES, type Client, type Running } from '../support/harness.js';
import { expectRefusalRecorded } from '../support/signing.js';
import { AMQP_TEST_URL, amqpConfig, brokerConsumers, brokerExchanges, brokerQueues, closeConnections, deadLetterCount, deleteRun, drainDeadLetters, uniquePrefix, until } from '../support/amqp.js';

const DEPARTMENTS = ['xw-culture', 'xw-fire'];

for (const kind of STORES) {
  describe(`AMQP adapter (${kind})`, function () {
    this.timeout(60_000);
    const prefix = uniquePrefix(`contract-${kind}`);
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let sim: AmqpDepartmentSim;
    let sec: Client;
    let admin: Client;

    before(async function () {
      store = await freshStore(kind, 'amqp');
      const file = amqpConfig(store.dir, prefix, DEPARTMENTS, { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 1000, receiptTimeoutMs: 30_000 }, { deliveryLimit: 4, requeueDelayMs: 250 });
      // The test steps the dispatcher itself, so that each attempt happens exactly when it says.
      run = await startGateway(store.db(), { configFile: file }, { dispatch: false });
      sec = client(run.base, await login(run.base, 'secretary'));
      admin = client(run.base, await login(run.base, 'admin'));
      await admin.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
      sim = new AmqpDepartmentSim({ departmentId: 'xw-culture', url: AMQP_TEST_URL, prefix, token: () => login(run.base, 'reviewer-xw-culture'), behaviour: { answer: 'silent' } });
      await sim.start();
    });

    after(async function () {
      await sim?.stop();
      await run?.stop();
      await deleteRun(prefix, DEPARTMENTS);
      await store?.cleanup();
    });

    const newCase = async () => {
      const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
      expect((await sec.post(`/api/cases/${c.id}/accept`)).status).to.equal(200);
      return c.id as string;
    };
    const message = (caseId: string) => run.gw.db.get<any>(`SELECT id, state, attempts, next_attempt_at, last_error FROM outbox WHERE case_id = $1 AND kind = 'notification'`, [caseId]);
    const getCase = async (caseId: string) => (await sec.get(`/api/cases/${caseId}`)).body;
    const actions = async (caseId: string, action: string) => (await getCase(caseId)).timeline.filter((e: any) => e.action === action);

    it('declares durable exchanges, durable quorum queues per department with a delivery limit, and a dead-letter queue', async function () {
      const queues = await brokerQueues(prefix);
      expect(queues.map((q) => q.name).sort()).to.deep.equal(
        [`${prefix}.dead-letter`, `${prefix}.from.xw-culture`, `${prefix}.from.xw-fire`, `${prefix}.to.xw-culture`, `${prefix}.to.xw-fire`].sort(),
      );
      for (const q of queues) {
        expect(q, q.name).to.include({ type: 'quorum', durable: true });
        if (q.name === `${prefix}.dead-letter`) continue;
        expect(q.arguments, q.name).to.include({ 'x-queue-type': 'quorum', 'x-dead-letter-exchange': `${prefix}.dead-letter`, 'x-delivery-limit': 4 });
      }
      // The gateway consumes each department's inbound queue; the department consumes its own outbound queue.
      const consumers = await brokerConsumers(prefix);
      expect(consumers.get(`${prefix}.from.xw-culture`)).to.equal(1);
      expect(consumers.get(`${prefix}.from.xw-fire`)).to.equal(1);
      expect(consumers.get(`${prefix}.to.xw-culture`)).to.equal(1);
      const exchanges = await brokerExchanges(prefix);
      expect(exchanges.map((x) => [x.name, x.type, x.durable]).sort()).to.deep.equal(
        // <prefix>.province.changes: the topic exchange of status changes pulled from the province (see province-publish.test).
        [[`${prefix}.dead-letter`, 'fanout', true], [`${prefix}.from-departments`, 'topic', true], [`${prefix}.province.changes`, 'topic', true], [`${prefix}.to-departments`, 'direct', true]].sort(),
      );
      const health = await (await fetch(`${run.base}/healthz`)).json();
      expect(health.adapters.amqp.ok).to.equal(true);
    });

    it('publishes persistent messages with id, case, kind, time and sender; the review is delivered, and its clock started, at the receipt', async function () {
      sim.behaviour.receipt = false;
      const a = await newCase();
      await run.gw.dispatcher.runOnce();
      const m = await message(a);
      // The broker confirmed it, but only the department's receipt makes it delivered.
      expect(m).to.include({ state: 'waiting_receipt', attempts: 1 });
      expect(Number(m.next_attempt_at)).to.be.greaterThan(Date.now() + 20_000);
      expect((await getCase(a)).reviews[0].state).to.equal('pending_delivery');
      const got = await until('the notification at the department', async () => sim.received.find((r) => r.messageId === m.id));
      expect(got.properties).to.include({ deliveryMode: 2, messageId: m.id, correlationId: a, type: 'notification', appId: 'xuanwu-gateway', contentType: 'application/jose' });
      // The body is the gateway's signed envelope, which the department verified (none refused).
      expect(sim.badSignatures).to.deep.equal([]);
      expect(Math.abs(got.properties.timestamp - Date.now() / 1000)).to.be.lessThan(60);
      expect(got.properties.headers).to.include({ 'x-pag-attempt': 1 });
      expect(got.body).to.include({ messageId: m.id, kind: 'notification', sender: 'xuanwu-gateway', receiver: 'xw-culture', caseId: a });
      expect(got.body.payload.enterpriseName).to.be.a('string');

      // The receipt comes on Monday: the five working days count from then (to 13 October across the National Day holidays),
      // not from Friday's sending (which would end on 10 October).
      await admin.put('/api/admin/clock', { now: '2025-09-29T02:00:00Z' });
      // The receipt quotes the hash of the notification as received (checked against what the gateway sent).
      await sim.receiptFor(m.id, a, got.hash);
      await until('the receipt to deliver the message', async () => (await message(a)).state === 'delivered');
      const r = (await getCase(a)).reviews[0];
      expect(r).to.include({ state: 'delivered', deliveredAt: '2025-09-29T02:00:00.000Z' });
      expect(r.dueAt.slice(0, 10)).to.equal('2025-10-13');
      // A repeated receipt changes nothing.
      await sim.receiptFor(m.id, a);
      await sim.receiptFor(m.id, a);
      await until('the repeats to be consumed', async () => (await brokerQueues(prefix)).find((q) => q.name === `${prefix}.from.xw-culture`)!.messages === 0);
      expect(await actions(a, 'review.delivered')).to.have.length(1);
      const attempts = await run.gw.db.all<any>('SELECT outcome FROM delivery_attempts WHERE message_id = $1 ORDER BY id', [m.id]);
      expect(attempts.map((x) => x.outcome)).to.deep.equal(['sent', 'receipt']);
      expect(await deadLetterCount(prefix)).to.equal(0);
    });

    it('sends again when no receipt comes in time, fails after the last attempt, and sends once more on request', async function () {
      sim.behaviour.receipt = false;
      const b = await newCase();
      await run.gw.dispatcher.runOnce();
      const id = (await message(b)).id;
      await until('the first copy', async () => sim.counts().get(id) === 1);
      // The receipt timeout is 30 s; the test moves the message's next attempt to now instead of waiting.
      await run.gw.db.run('UPDATE outbox SET next_attempt_at = 0 WHERE id = $1', [id]);
      await run.gw.dispatcher.runOnce();
      expect(await message(b)).to.include({ state: 'waiting_receipt', attempts: 2 });
      await until('the second copy', async () => sim.counts().get(id) === 2);
      expect(sim.received.filter((r) => r.messageId === id).map((r) => r.properties.headers?.['x-pag-attempt'])).to.deep.equal([1, 2]);
      await run.gw.db.run('UPDATE outbox SET next_attempt_at = 0 WHERE id = $1', [id]);
      await run.gw.dispatcher.runOnce();
      const failed = await message(b);
      expect(failed).to.include({ state: 'failed', attempts: 2 });
      expect(failed.last_error).to.match(/no receipt after 2 attempts/);
      expect(sim.counts().get(id)).to.equal(2);
      expect((await run.gw.db.all<any>('SELECT outcome FROM delivery_attempts WHERE message_id = $1 ORDER BY id', [id])).map((x) => x.outcome)).to.deep.equal([
        'sent', 'sent', 'receipt_timeout',
      ]);
      expect((await getCase(b)).reviews[0].state).to.equal('pending_delivery');
      expect(await actions(b, 'delivery.failed')).to.have.length(1);

      sim.behaviour.receipt = true;
      expect((await admin.post(`/api/outbox/${id}/resend`)).status).to.equal(200);
      await run.gw.dispatcher.runOnce();
      await until('the resent message to be delivered', async () => (await message(b)).state === 'delivered');
      expect(sim.counts().get(id)).to.equal(3);
      expect((await getCase(b)).reviews[0].state).to.equal('delivered');
    });

    it('takes opinions over AMQP: approval and refusal move the case, a repeated message id changes nothing, results go back', async function () {
      sim.behaviour = { ...sim.behaviour, receipt: true, answer: 'approve', duplicate: true };
      const c = await newCase();
      await run.gw.dispatcher.runOnce();
      await until('the approval', async () => (await getCase(c)).status === 'awaiting_licence');
      await sim.settled();
      const opinionId = `opinion:${c}:xw-culture`;
      const results = await until('two results', async () => {
        const r = sim.results.filter((x) => x.body.inReplyTo === opinionId);
        return r.length === 2 && r;
      });
      // Both copies are accepted, neither is a dead letter, and there is one effect and one inbox entry. (Which copy is
      // reported as the repeat depends on timing: when the two race into the case's transaction, the repeat is found
      // inside it and the case service does not say so, so both may read duplicate: false.)
      expect(results.map((r) => r.body.duplicate)).to.include(false);
      expect(results[0]!.properties).to.include({ type: 'result', correlationId: c, messageId: `result:${opinionId}` });
      expect(results.every((r) => r.body.ok === true && r.body.caseStatus === 'awaiting_licence')).to.equal(true);
      expect(await actions(c, 'review.approved')).to.have.length(1);
      expect(await run.gw.db.all('SELECT message_id FROM inbox WHERE message_id = $1', [opinionId])).to.have.length(1);
      const approved = (await getCase(c)).reviews[0];
      expect(approved.state).to.equal('approved');

      sim.behaviour = { ...sim.behaviour, answer: 'refuse', duplicate: false, reasons: '经营场所消防通道不符合要求' };
      const d = await newCase();
      await run.gw.dispatcher.runOnce();
      await until('the refusal', async () => (await getCase(d)).status === 'terminated');
      const refused = (await getCase(d)).reviews[0];
      expect(refused).to.include({ state: 'refused' });
      expect((await actions(d, 'review.refused'))[0].data.reasons).to.equal('经营场所消防通道不符合要求');
      await sim.settled();
      expect(await deadLetterCount(prefix)).to.equal(0);
      sim.behaviour = { ...sim.behaviour, answer: 'silent' };
    });

    it('puts back an opinion that overtakes the receipt of its request until the delivery is recorded, then applies it once', async function () {
      sim.behaviour = { ...sim.behaviour, receipt: false, answer: 'silent', duplicate: false };
      const c = await newCase();
      await run.gw.dispatcher.runOnce();
      const note = await until('the notification at the department', async () => sim.received.find((r) => r.type === 'notification' && r.caseId === c));
      const tried = async () => (await run.gw.metrics.inbound.get()).values.find((v) => v.labels.kind === 'opinion' && v.labels.result === 'REVIEW_NOT_DELIVERED')?.value ?? 0;
      const before = await tried();
      await sim.opinion(c, 'approve');
      // Taken while the review still waits for its delivery: not yet, so back to the queue after a pause, not refused.
      await until('the opinion tried before the delivery is recorded', async () => (await tried()) > before);
      await sim.receiptFor(note.messageId, c, note.hash);
      await until('the approval', async () => (await getCase(c)).status === 'awaiting_licence');
      expect(await actions(c, 'review.approved')).to.have.length(1);
      expect(await deadLetterCount(prefix)).to.equal(0);
      sim.behaviour = { ...sim.behaviour, receipt: true };
    });

    it('sends malformed messages, messages naming another department, and opinions without a valid reviewer token to the dead-letter queue, changing nothing', async function () {
      sim.behaviour = { ...sim.behaviour, receipt: true, answer: 'silent' };
      const e = await newCase();
      await run.gw.dispatcher.runOnce();
      await until('delivery', async () => (await message(e)).state === 'delivered');
      const before = await getCase(e);
      expect(before.reviews[0].state).to.equal('delivered');
      const fireToken = await login(run.base, 'reviewer-xw-fire');
      const approve = { decision: 'approve', reasons: null };
      const sent: string[] = [];
      const bad = async (id: string, f: () => Promise<void>) => {
        sent.push(id);
        await f();
      };
      await bad('bad-json', () => sim.publish('opinion', Buffer.from('{"departmentId": "xw-cul'), { messageId: 'bad-json', caseId: e }));
      await bad('bad-type', () => sim.send('gossip', approve, { messageId: 'bad-type', caseId: e }));
      await bad('bad-field', () => sim.send('opinion', { decision: 'approve', decison: 'approve' }, { messageId: 'bad-field', caseId: e }));
      await bad('no-case', () => sim.send('opinion', approve, { messageId: 'no-case', caseId: null }));
      await bad('other-department-in-body', () => sim.send('opinion', approve, { messageId: 'other-department-in-body', caseId: e, departmentId: 'xw-health' }));
      // A department that is on this adapter but does not review the case, with its own reviewer's token.
      await bad('not-its-case', () => sim.send('opinion', approve, { messageId: 'not-its-case', caseId: e, departmentId: 'xw-fire', routingKey: 'xw-fire', token: fireToken }));
      // A department that is not on this adapter at all: no queue takes it, the exchange's alternate keeps it.
      await bad('not-on-adapter', () => sim.send('opinion', approve, { messageId: 'not-on-adapter', caseId: e, departmentId: 'xw-police', routingKey: 'xw-police' }));
      await bad('no-token', () => sim.send('opinion', approve, { messageId: 'no-token', caseId: e, token: null }));
      await bad('forged-token', () => sim.send('opinion', approve, { messageId: 'forged-token', caseId: e, token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' }));
      await bad('other-reviewer', () => sim.send('opinion', approve, { messageId: 'other-reviewer', caseId: e, token: fireToken }));
      // Past the adapter's default limit of 1 MiB: refused unread.
      await bad('oversized', () => sim.publish('opinion', Buffer.from(JSON.stringify({ departmentId: 'xw-culture', ...approve, reasons: 'x'.repeat(1_048_576) })), { messageId: 'oversized', caseId: e }));
      // Without a message id there is nothing to de-duplicate by.
      await sim.publish('opinion', Buffer.from(JSON.stringify({ departmentId: 'xw-culture', ...approve })), { caseId: e });

      await until('every refused message in the dead-letter queue', async () => (await deadLetterCount(prefix)) === sent.length + 1);
      const dead = await drainDeadLetters(prefix);
      expect(dead.map((m) => m.properties.messageId ?? null).sort()).to.deep.equal([...sent, null].sort());
      const expected: Record<string, string> = {
        'bad-json': 'MALFORMED_MESSAGE',
        'bad-type': 'MALFORMED_MESSAGE',
        'bad-field': 'VALIDATION_FAILED',
        'no-case': 'VALIDATION_FAILED',
        // Signed by the health bureau, in the culture bureau's own queue: the channel is the culture bureau's.
        'other-department-in-body': 'CHANNEL_NOT_BOUND',
        'not-its-case': 'NOT_FOUND',
        'no-token': 'UNAUTHENTICATED',
        'forged-token': 'REVIEWER_NOT_AUTHORISED',
        'other-reviewer': 'REVIEWER_NOT_AUTHORISED',
        oversized: 'BODY_TOO_LARGE',
      };
      for (const m of dead) {
        const id = m.properties.messageId as string | undefined;
        if (id === 'not-on-adapter') expect(m.fields.routingKey).to.equal('xw-police');
        else {
          // The refusal travels with the dead letter, for whoever inspects the queue.
          expect(m.properties.headers?.['x-pag-refused-code'], id).to.equal(id ? expected[id] : 'MALFORMED_MESSAGE');
          expect(m.properties.headers?.['x-pag-refused-reason'], id).to.be.a('string').and.not.match(/eyJ/);
        }
      }
      const after = await getCase(e);
      expect(after.status).to.equal('in_review');
      expect(after.reviews).to.deep.equal(before.reviews);
      expect(after.timeline.length).to.equal(before.timeline.length);
      expect(await run.gw.db.all(`SELECT message_id FROM inbox WHERE message_id IN ('${sent.join("','")}')`)).to.have.length(0);
      // Refused for a factor of trust: kept for inspection and audited (not the malformed ones, which never reached the checks).
      for (const id of ['other-department-in-body', 'no-token', 'forged-token', 'other-reviewer']) await expectRefusalRecorded(run.gw, { code: expected[id]!, channel: 'amqp', messageId: id });
      // The department is told why (results go to its own queue only, so none for messages of other departments).
      const codes = Object.fromEntries(
        await until('results for the refused messages', async () => {
          const r = sim.results.filter((x) => sent.includes(x.body.inReplyTo)).map((x) => [x.body.inReplyTo, x.body.code]);
          return r.length === 9 && r;
        }),
      );
      const { 'not-its-case': _fire, ...own } = expected;
      expect(codes).to.deep.equal(own);

      // The same department may still answer properly afterwards.
      await sim.opinion(e, 'approve');
      await until('the approval', async () => (await getCase(e)).status === 'awaiting_licence');
    });

    it('refuses to send while the broker connection is down (the outbox keeps the message) and resumes when it is back', async function () {
      sim.behaviour = { ...sim.behaviour, receipt: true, answer: 'silent' };
      const adapter = run.gw.adapters.get('amqp') as AmqpAdapter;
      const f = await newCase();
      // Close the gateway's connection from the broker's side, as an operator or a network failure would.
      expect(await closeConnections('xuanwu-gateway amqp')).to.be.greaterThan(0);
      await until('the adapter to notice', async () => !(await adapter.health()).ok);
      // Unhealthy means no live connection: a send now is refused at once, as retryable, before anything reaches the wire.
      const refused = await adapter.send({ id: 'probe', kind: 'notification', caseId: f, departmentId: 'xw-culture', sender: 'xuanwu-gateway', attempt: 1, payload: {} }).then(() => null, (e: unknown) => e);
      expect(refused).to.include({ name: 'AdapterError', retryable: true });
      expect((refused as Error).message).to.match(/not connected to the broker/);
      await run.gw.dispatcher.runOnce();
      const m = await message(f);
      // Either the send failed (waiting to retry) or the reconnection was already done and it went out: never lost.
      if (m.state === 'waiting_retry') expect(m.last_error).to.match(/not connected to the broker/);
      await until('reconnection', async () => (await adapter.health()).ok);
      await run.gw.db.run(`UPDATE outbox SET next_attempt_at = 0 WHERE id = $1 AND state = 'waiting_retry'`, [m.id]);
      await run.gw.dispatcher.runOnce();
      await until('delivery after reconnection', async () => (await message(f)).state === 'delivered');
      expect((await getCase(f)).reviews[0].state).to.equal('delivered');
      // Consuming resumed on the new connection, once.
      expect((await brokerConsumers(prefix)).get(`${prefix}.from.xw-culture`)).to.equal(1);
    });
  });
}

/** These adapters never send a message that needs signing (no broker; a failure that is put back without a result). */
const unusedSigner = {
  json: async () => {
    throw new Error('not signing in this test');
  },
  xml: async () => {
    throw new Error('not signing in this test');
  },
};

describe('AMQP adapter without a broker', function () {
  this.timeout(20_000);
  it('starts anyway, reports itself unhealthy, and refuses to send with a retryable error', async function () {
    // Port 1 on loopback: nothing listens there.
    const a = createAmqpAdapter('nowhere', { url: 'amqp://guest:secret@127.0.0.1:1', connectTimeoutMs: 300, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const no = async () => ({ ok: false as const, code: 'X', httpStatus: 500, message: '', retryable: true });
    const inbound = { receive: no, accept: no, caseStatus: no };
    await a.start({ gatewayId: 'g', logger: silentLogger(), inbound, departments: ['xw-culture'], signer: unusedSigner, certsDir: CERTS_DIR });
    try {
      const h = await a.health();
      expect(h.ok).to.equal(false);
      expect(h.detail).to.match(/disconnected from amqp:\/\/127\.0\.0\.1:1\//);
      expect(h.detail).not.to.include('secret');
      const err = await a.send({ id: 'm', kind: 'notification', caseId: 'c', departmentId: 'xw-culture', sender: 'g', attempt: 1, payload: {} }).then(() => null, (e: unknown) => e);
      expect(err).to.include({ name: 'AdapterError', retryable: true });
    } finally {
      await a.stop();
    }
  });
});

describe('AMQP adapter: an incoming message that keeps failing for a passing reason', function () {
  this.timeout(30_000);
  const prefix = uniquePrefix('limit');
  after(async () => deleteRun(prefix, ['xw-culture']));

  it('is put back after a pause each time until the delivery limit, then dead-lettered', async function () {
    const calls: number[] = [];
    const failing = { ok: false as const, code: 'INTERNAL', httpStatus: 500, message: 'database restarting', retryable: true };
    const fail = async () => {
      calls.push(Date.now());
      return failing;
    };
    const inbound = { receive: fail, accept: fail, caseStatus: async () => failing };
    const a = createAmqpAdapter('amqp', { url: AMQP_TEST_URL, prefix, deliveryLimit: 3, requeueDelayMs: 100 });
    await a.start({ gatewayId: 'g', logger: silentLogger(), inbound, departments: ['xw-culture'], signer: unusedSigner, certsDir: CERTS_DIR });
    const sim = new AmqpDepartmentSim({ departmentId: 'xw-culture', url: AMQP_TEST_URL, prefix, token: async () => 'unused' });
    await sim.start();
    try {
      await sim.send('receipt', { ackOf: 'some-message' }, { messageId: 'keeps-failing', caseId: null, token: null });
      await until('the message in the dead-letter queue', async () => (await deadLetterCount(prefix)) === 1);
      const [dead] = await drainDeadLetters(prefix);
      expect(dead!.properties.messageId).to.equal('keeps-failing');
      expect(dead!.properties.headers?.['x-first-death-reason']).to.equal('delivery_limit');
      // The first delivery and three redeliveries, each after the pause; no tight loop.
      expect(calls).to.have.length(4);
      for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).to.be.at.least(95);
    } finally {
      await sim.stop();
      await a.stop();
    }
  });
});
