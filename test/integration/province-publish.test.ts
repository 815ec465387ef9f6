// Publishing pulled status changes to subscribing departments: the AMQP topic exchange keyed <divisionCode>.<departmentType>.<kind>
// (a queue binds by area and type) and a signed webhook for a department on REST, both through the outbox.
import { expect } from 'chai';
import { connect, type ConsumeMessage } from 'amqplib';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { names } from '../../adapters/amqp/topology.js';
import { Gateway } from '../../src/gateway.js';
import { startProvinceSim, type ProvinceSim } from '../../src/province/sim.js';
import { verifyEnvelope } from '../../src/trust/envelope.js';
import { AMQP_TEST_URL, deleteRun, uniquePrefix, until } from '../support/amqp.js';
import { freshStore, silentLogger, STORES, testSettings, writeConfig } from '../support/harness.js';
import { demoKeys, GATEWAY_ID, openGatewayJson } from '../support/signing.js';

const NJ_KINDS = ['revoked', 'deregistered', 'suspended'];

/** A department's webhook: records each signed body it is sent. */
async function startHook(): Promise<{ server: Server; url: string; bodies: string[] }> {
  const h = { server: null as unknown as Server, url: '', bodies: [] as string[] };
  h.server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      h.bodies.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => h.server.listen(0, '127.0.0.1', r));
  h.url = `http://127.0.0.1:${(h.server.address() as AddressInfo).port}/hook`;
  return h;
}

for (const kind of STORES) {
  describe(`publishing provincial status changes to subscribers (${kind})`, function () {
    this.timeout(120_000);
    const prefix = uniquePrefix('province');
    const n = names(prefix);
    let store: Awaited<ReturnType<typeof freshStore>>;
    let sim: ProvinceSim;
    let hook: Awaited<ReturnType<typeof startHook>>;
    let gw: Gateway;

    before(async function () {
      store = await freshStore(kind, 'province-publish');
      sim = await startProvinceSim({ keys: demoKeys(), receiver: GATEWAY_ID, feed: { seed: 5, total: 1200, enterprises: 300 } });
      hook = await startHook();
      const configFile = writeConfig(store.dir, 'config.json', (cfg) => {
        cfg.adapters.broker = { kind: 'amqp', options: { url: AMQP_TEST_URL, prefix, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } }, retry: { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 200 } };
        cfg.adapters['police-hook'] = { kind: 'rest', options: { url: hook.url, timeoutMs: 5000 }, retry: { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 200 } };
        for (const [id, adapter] of [['xw-fire', 'broker'], ['nj-fire', 'broker'], ['xw-police', 'police-hook']]) {
          const dep = cfg.departments.find((d: { id: string }) => d.id === id);
          dep.adapter = adapter;
          dep.hosted = false;
        }
        cfg.province = {
          pull: { url: sim.url, pageSize: 300, intervalSeconds: 3600 },
          subscriptions: [
            { department: 'xw-fire', areas: ['320102'] },
            { department: 'nj-fire', areas: ['320100'], kinds: NJ_KINDS },
            { department: 'xw-police', areas: ['320102'], kinds: ['revoked'] },
          ],
        };
      });
      gw = await Gateway.open({ settings: testSettings({ configFile }), db: store.db(), logger: silentLogger(), pollMs: 50, pull: false, dispatch: false });
      await gw.start();
      await until('the broker adapter connected', async () => (await gw.adapterHealth()).broker?.ok);
    });
    after(async function () {
      await gw?.stop();
      await sim?.close();
      await new Promise((r) => hook?.server.close(r));
      const conn = await connect(AMQP_TEST_URL);
      const ch = await conn.createChannel();
      for (const d of ['xw-fire', 'nj-fire']) await ch.deleteQueue(n.provinceQueue(d));
      await conn.close();
      await deleteRun(prefix, ['xw-fire', 'nj-fire']);
      await store?.cleanup();
    });

    it('publishes each applied change once per department type on the topic exchange, and as a signed webhook to a REST department', async function () {
      // A queue of our own, bound as a department of type fire anywhere would bind.
      const conn = await connect(AMQP_TEST_URL);
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, n.provinceChanges, '*.fire.*');
      const got: ConsumeMessage[] = [];
      await ch.consume(queue, (m) => m && got.push(m), { noAck: true });

      const r = await gw.province!.runOnce();
      expect(r).to.include({ caughtUp: true, seq: 1200, error: null });
      const applied = await gw.db.all<{ id: string; division_code: string; kind: string }>("SELECT id, division_code, kind FROM province_changes WHERE outcome = 'applied'");
      const fire = applied.filter((c) => c.division_code === '320102' || (c.division_code.startsWith('3201') && NJ_KINDS.includes(c.kind)));
      const police = applied.filter((c) => c.division_code === '320102' && c.kind === 'revoked');
      expect(fire.length).to.be.greaterThan(0);
      expect(police.length).to.be.greaterThan(0);
      // Written with the pages that applied them, before anything was sent.
      const rows = await gw.db.all<{ department_id: string; state: string }>("SELECT department_id, state FROM outbox WHERE kind = 'province-change'");
      expect(rows.length).to.equal(r.published).and.to.equal(fire.length + police.length);

      for (let i = 0; i < 200 && (await gw.db.all("SELECT 1 FROM outbox WHERE kind = 'province-change' AND state <> 'delivered'")).length > 0; i++) await gw.dispatcher.runOnce();
      expect(await gw.db.all("SELECT id FROM outbox WHERE kind = 'province-change' AND state <> 'delivered'")).to.have.length(0);

      await until('every fire publication', async () => got.length >= fire.length);
      const keys = got.map((m) => m.fields.routingKey).sort();
      expect(keys).to.deep.equal(fire.map((c) => `${c.division_code}.fire.${c.kind}`).sort());
      for (const m of got.slice(0, 20)) {
        const key = m.fields.routingKey;
        const v = await verifyEnvelope(demoKeys(), m.content.toString(), { receiver: `topic:${key}`, windowSeconds: 300, keyOwner: () => 'gateway' });
        expect(v.envelope).to.include({ sender: GATEWAY_ID, kind: 'province-change' });
        expect(`${v.envelope.body.divisionCode}.fire.${v.envelope.body.kind}`).to.equal(key);
      }
      await conn.close();

      // The departments' own queues hold what they subscribed to, one copy each.
      const inspect = await connect(AMQP_TEST_URL);
      const check = await inspect.createChannel();
      const xw = await check.checkQueue(n.provinceQueue('xw-fire'));
      const nj = await check.checkQueue(n.provinceQueue('nj-fire'));
      expect(xw.messageCount).to.equal(applied.filter((c) => c.division_code === '320102').length);
      expect(nj.messageCount).to.equal(applied.filter((c) => c.division_code.startsWith('3201') && NJ_KINDS.includes(c.kind)).length);
      await inspect.close();

      // The police, on REST, got a signed message for each revocation in its district.
      expect(hook.bodies.length).to.equal(police.length);
      const opened = await Promise.all(hook.bodies.map((b) => openGatewayJson(b, 'xw-police')));
      expect(opened.map((o) => o.payload.changeId).sort()).to.deep.equal(police.map((c) => c.id).sort());
      expect(opened.every((o) => o.kind === 'province-change' && o.payload.kind === 'revoked')).to.equal(true);
    });

    it('refuses a subscription of a department it cannot reach with a status change, or of no department', async function () {
      const { loadConfig } = await import('../../src/config/load.js');
      const soap = writeConfig(store.dir, 'bad-1.json', (cfg) => {
        cfg.adapters.xmly = { kind: 'xml', options: { url: 'http://127.0.0.1:9/x' } };
        cfg.departments.find((d: { id: string }) => d.id === 'xw-fire').adapter = 'xmly';
        cfg.province = { subscriptions: [{ department: 'xw-fire', areas: ['320102'] }] };
      });
      const none = writeConfig(store.dir, 'bad-2.json', (cfg) => (cfg.province = { subscriptions: [{ department: 'nobody', areas: ['320102'] }] }));
      for (const f of [soap, none]) expect(() => loadConfig(f)).to.throw(/\/province\/subscriptions\/0\/department/);
    });
  });
}
