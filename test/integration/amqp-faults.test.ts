// AMQP under faults: the broker stops and starts while messages flow; two gateways share one database and one broker.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AmqpAdapter } from '../../adapters/amqp/index.js';
import { AmqpDepartmentSim } from '../../adapters/amqp/sim.js';
import type { Db } from '../../src/store/sql.js';
import { AMQP_TEST_URL, amqpConfig, brokerConsumers, deadLetterCount, deleteRun, uniquePrefix, until } from '../support/amqp.js';
import { application, client, freshStore, login, startGateway, STORES, type Client, type Running } from '../support/harness.js';

const run = promisify(execFile);
const DEPARTMENTS = ['xw-culture', 'xw-health', 'xw-environment', 'xw-fire'];
/** Catering goes to health, environment and fire; a bookstore to culture: every department on AMQP gets work. */
const SCOPES = [['catering'], ['bookstore']];

function sims(prefix: string, token: (user: string) => Promise<string>, answerDelayMs: number) {
  return DEPARTMENTS.map(
    (d) => new AmqpDepartmentSim({ departmentId: d, url: AMQP_TEST_URL, prefix, token: () => token(`reviewer-${d}`), behaviour: { answer: 'approve', answerDelayMs }, publishTimeoutMs: 90_000 }),
  );
}

async function newCase(sec: Client, i: number): Promise<string> {
  const c = (await sec.post('/api/cases', application({ businessScope: SCOPES[i % 2], registeredCapital: 2_000_000 }))).body;
  expect((await sec.post(`/api/cases/${c.id}/accept`)).status).to.equal(200);
  return c.id as string;
}

/** Every effect once: each review delivered once and approved once, each notification delivered, each opinion in the inbox once. */
async function expectEachEffectOnce(db: Db, cases: string[], reviews: number) {
  const rows = await db.all<{ case_id: string; status: string }>(`SELECT id AS case_id, status FROM cases WHERE id IN (${cases.map((_, i) => `$${i + 1}`).join(', ')})`, cases);
  expect(rows.filter((r) => r.status !== 'awaiting_licence')).to.deep.equal([]);
  const events = await db.all<{ case_id: string; action: string; data: string }>(`SELECT case_id, action, data FROM events WHERE action IN ('review.delivered', 'review.approved')`);
  const per = new Map<string, number>();
  for (const e of events) {
    const key = `${e.action} ${e.case_id} ${(JSON.parse(e.data) as { departmentId: string }).departmentId}`;
    per.set(key, (per.get(key) ?? 0) + 1);
  }
  expect([...per.entries()].filter(([, n]) => n !== 1)).to.deep.equal([]);
  expect(events.filter((e) => e.action === 'review.delivered')).to.have.length(reviews);
  expect(events.filter((e) => e.action === 'review.approved')).to.have.length(reviews);
  const outbox = await db.all<{ state: string; n: number }>(`SELECT state, COUNT(*) AS n FROM outbox WHERE kind = 'notification' GROUP BY state`);
  expect(outbox.map((o) => [o.state, Number(o.n)])).to.deep.equal([['delivered', reviews]]);
  const inbox = await db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE kind = 'opinion'`);
  expect(Number(inbox[0]!.n)).to.equal(reviews);
}

for (const kind of STORES) {
  describe(`AMQP adapter when the broker stops and starts (${kind})`, function () {
    this.timeout(120_000);
    const prefix = uniquePrefix(`faults-${kind}`);
    let brokerStopped = false;

    after(async function () {
      // Whatever happened, the broker runs again before anything else does.
      if (brokerStopped) {
        await run('rabbitmqctl', ['start_app']);
        await run('rabbitmqctl', ['await_startup']);
      }
      await deleteRun(prefix, DEPARTMENTS).catch(() => undefined);
    });

    it('loses no notification or opinion and applies none twice', async function () {
      const store = await freshStore(kind, 'amqpfault');
      const file = amqpConfig(store.dir, prefix, DEPARTMENTS, { maxAttempts: 100, baseDelayMs: 100, maxDelayMs: 500, receiptTimeoutMs: 3000 }, { confirmTimeoutMs: 2000 });
      const gw: Running = await startGateway(store.db(), { configFile: file });
      // Answers come a second after the receipts, so that the broker stops between many notifications and their answers.
      const departments = sims(prefix, (u) => login(gw.base, u), 1000);
      try {
        const sec = client(gw.base, await login(gw.base, 'secretary'));
        for (const s of departments) await s.start();
        const adapter = gw.gw.adapters.get('amqp') as AmqpAdapter;
        const cases: string[] = [];
        // The secretary accepts cases before, during and after the outage.
        const accept = async (n: number) => {
          for (let i = 0; i < n; i++) cases.push(await newCase(sec, cases.length));
        };
        await accept(8);
        await until('the first answers', async () => (await gw.gw.db.all(`SELECT 1 FROM inbox`)).length > 0);
        // Work is in flight as the broker goes: cases accepted but not yet answered by every department.
        const inFlight = (await gw.gw.db.all(`SELECT 1 FROM cases WHERE status = 'in_review'`)).length;
        expect(inFlight).to.be.greaterThan(0);
        const stopped = Date.now();
        brokerStopped = true;
        await run('rabbitmqctl', ['stop_app']);
        await until('the adapter to see the broker gone', async () => !(await adapter.health()).ok);
        await accept(8);
        // Notifications of cases accepted during the outage wait in the outbox.
        await until('a send refused while disconnected', async () =>
          (await gw.gw.db.all(`SELECT 1 FROM delivery_attempts WHERE outcome = 'retryable_error' AND error LIKE 'not connected%'`)).length > 0,
        );
        await run('rabbitmqctl', ['start_app']);
        await run('rabbitmqctl', ['await_startup']);
        brokerStopped = false;
        const outage = Date.now() - stopped;
        await until('the adapter to reconnect', async () => (await adapter.health()).ok, 60_000);
        await accept(8);
        await until(
          'every case approved',
          async () => (await gw.gw.db.all(`SELECT 1 FROM cases WHERE status = 'awaiting_licence'`)).length === cases.length,
          90_000,
        );
        for (const s of departments) await s.settled();
        const reviews = (cases.length / 2) * 3 + cases.length / 2;
        await expectEachEffectOnce(gw.gw.db, cases, reviews);
        // Every notification reached its department (some twice: a resend after a receipt lost with the broker is legitimate).
        const received = new Map<string, number>();
        for (const s of departments) for (const [id, n] of s.counts('notification')) received.set(id, n);
        expect(received.size).to.equal(reviews);
        expect(await deadLetterCount(prefix)).to.equal(0);
        this.test!.title += ` (${cases.length} cases, ${inFlight} in review at the stop, outage ${outage} ms, ${[...received.values()].filter((n) => n > 1).length} notifications received twice)`;
      } finally {
        for (const s of departments) await s.stop();
        await gw.stop();
        await store.cleanup();
      }
    });
  });
}

if (STORES.includes('postgres')) {
  describe('AMQP adapter with two gateways on one PostgreSQL and one RabbitMQ', function () {
    this.timeout(120_000);
    const prefix = uniquePrefix('two-gateways');
    after(async () => deleteRun(prefix, DEPARTMENTS).catch(() => undefined));

    it('shares the work: each notification sent once, each opinion applied once', async function () {
      const store = await freshStore('postgres', 'amqptwo');
      // No receipt is lost here, so a receipt timeout long enough never to fire means any second copy would be a double send.
      const file = amqpConfig(store.dir, prefix, DEPARTMENTS, { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 500, receiptTimeoutMs: 120_000 });
      const a = await startGateway(store.db(), { configFile: file });
      const b = await startGateway(store.db(), { configFile: file });
      const realm = store.schema!;
      const departments = sims(prefix, (u) => login(a.base, u, realm), 20);
      try {
        for (const s of departments) await s.start();
        // Both gateways consume every department's inbound queue.
        const consumers = await brokerConsumers(prefix);
        for (const d of DEPARTMENTS) expect(consumers.get(`${prefix}.from.${d}`), d).to.equal(2);
        const secA = client(a.base, await login(a.base, 'secretary', realm));
        const secB = client(b.base, await login(b.base, 'secretary', realm));
        const cases = await Promise.all(Array.from({ length: 20 }, (_, i) => newCase(i % 2 ? secB : secA, i)));
        await until('every case approved', async () => (await a.gw.db.all(`SELECT 1 FROM cases WHERE status = 'awaiting_licence'`)).length === cases.length, 90_000);
        for (const s of departments) await s.settled();
        const reviews = (cases.length / 2) * 3 + cases.length / 2;
        await expectEachEffectOnce(a.gw.db, cases, reviews);
        const received = new Map<string, number>();
        for (const s of departments) for (const [id, n] of s.counts('notification')) received.set(id, n);
        expect(received.size).to.equal(reviews);
        expect([...received.entries()].filter(([, n]) => n !== 1)).to.deep.equal([]);
        const attempts = await a.gw.db.all<{ attempts: number }>(`SELECT attempts FROM outbox WHERE kind = 'notification'`);
        expect(attempts.every((r) => Number(r.attempts) === 1)).to.equal(true);
        expect(await deadLetterCount(prefix)).to.equal(0);
      } finally {
        for (const s of departments) await s.stop();
        await a.stop();
        await b.stop();
        await store.cleanup();
      }
    });
  });
}
