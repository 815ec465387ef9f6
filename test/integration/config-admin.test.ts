// Administrators change adapters, departments and rules while the gateway runs: validated whole, audited, applied at once.
import { expect } from 'chai';
import express from 'express';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Gateway } from '../../src/gateway.js';
import { CONFIG_DIR } from '../../src/paths.js';
import { application, client, freshStore, login, silentLogger, startGateway, STORES, testSettings } from '../support/harness.js';
import { openGatewayJson } from '../support/signing.js';

/** A department webhook that records what it receives. */
async function webhook() {
  const received: any[] = [];
  const app = express();
  app.use(express.text({ type: 'application/jose' }));
  app.post('/notify', (req, res) => {
    // The department opens the gateway's signed envelope (its signature checked) before taking the message.
    void openGatewayJson(String(req.body), 'xw-culture').then((body) => {
      received.push(body);
      res.json({ ok: true });
    }, () => res.status(401).json({ ok: false }));
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/notify`,
    received,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const s: Server = await new Promise((resolve) => {
    const x = express().listen(0, '127.0.0.1', () => resolve(x));
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

for (const kind of STORES) {
  describe(`configuration changed while running (${kind})`, function () {
    this.timeout(60_000);

    it('adds an adapter, moves a department to it, disables and enables it, and tests it, without a restart', async function () {
      const store = await freshStore(kind, 'config_admin');
      const peer = await webhook();
      const run = await startGateway(store.db(), {}, { dispatch: false });
      const { gw } = run;
      try {
        const admin = client(run.base, await login(run.base, 'admin'));
        const sup = client(run.base, await login(run.base, 'supervisor'));
        const sec = client(run.base, await login(run.base, 'secretary'));
        const start = (await admin.get('/api/admin/adapters')).body;
        expect(start.version).to.equal(1);
        expect(start.adapters.map((a: any) => a.name)).to.deep.equal(['simulated']);

        // A supervisor reads but changes nothing.
        expect((await sup.get('/api/admin/adapters')).status).to.equal(200);
        expect((await sup.put('/api/admin/adapters/culture', { kind: 'rest', options: { url: peer.url } })).status).to.equal(403);

        // Add an adapter with a secret header; listings hide it.
        const put = await admin.put('/api/admin/adapters/culture', { kind: 'rest', options: { url: peer.url, headers: { authorization: 'Bearer s3cret' } }, retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 } });
        expect(put.status, JSON.stringify(put.body)).to.equal(200);
        expect(put.body.version).to.equal(2);
        expect(put.body.adapter.options.headers).to.deep.equal({ authorization: '***' });
        expect(JSON.stringify((await admin.get('/api/admin/config')).body)).not.to.include('s3cret');

        // Move the culture bureau onto it; the next case goes out through it, with no restart.
        const dep = (await admin.get('/api/admin/departments/xw-culture')).body;
        const moved = await admin.put('/api/admin/departments/xw-culture', { ...dep, adapter: 'culture' });
        expect(moved.status, JSON.stringify(moved.body)).to.equal(200);
        const newCase = async () => {
          const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
          expect((await sec.post(`/api/cases/${c.id}/accept`)).status).to.equal(200);
          return c.id as string;
        };
        const a = await newCase();
        await gw.dispatcher.runOnce();
        expect(peer.received.map((m) => m.caseId)).to.deep.equal([a]);
        expect((await sec.get(`/api/cases/${a}`)).body.reviews[0].state).to.equal('delivered');

        // Disabled: its messages wait untouched; enabled again: they go.
        expect((await admin.post('/api/admin/adapters/culture/disable')).status).to.equal(200);
        const b = await newCase();
        await gw.dispatcher.runOnce();
        expect(await gw.db.get<any>('SELECT state, attempts FROM outbox WHERE case_id = $1', [b])).to.include({ state: 'ready', attempts: 0 });
        expect(peer.received).to.have.length(1);
        expect((await admin.get('/api/admin/adapters/culture')).body).to.deep.include({ enabled: false, health: { ok: false, detail: 'disabled' } });
        expect((await admin.post('/api/admin/adapters/culture/enable')).status).to.equal(200);
        await gw.dispatcher.runOnce();
        expect(peer.received.map((m) => m.caseId)).to.deep.equal([a, b]);

        // The test button: a round trip to the department, or the exact failure.
        const ok = (await admin.post('/api/admin/adapters/culture/test')).body;
        expect(ok).to.include({ ok: true, adapter: 'culture', departmentId: 'xw-culture', outcome: 'delivered' });
        expect(peer.received[2]).to.include({ kind: 'test', receiver: 'xw-culture', messageId: ok.messageId });
        await admin.put('/api/admin/adapters/culture', { kind: 'rest', options: { url: `http://127.0.0.1:${await closedPort()}/notify` } });
        const refused = (await admin.post('/api/admin/adapters/culture/test')).body;
        expect(refused).to.include({ ok: false, failure: 'connection refused' });
        expect(refused.detail).to.match(/ECONNREFUSED/);

        // Every change is audited with who, and the section before and after.
        const changes = await gw.db.all<any>("SELECT actor, data FROM events WHERE action = 'config.changed' ORDER BY seq");
        expect(changes).to.have.length(5);
        expect(JSON.parse(changes[0].actor)).to.include({ id: 'admin', role: 'admin' });
        const depChange = JSON.parse(changes[1].data);
        expect(depChange.summary).to.equal('changed department xw-culture');
        expect(depChange.changes.departments.before.find((d: any) => d.id === 'xw-culture').adapter).to.equal('simulated');
        expect(depChange.changes.departments.after.find((d: any) => d.id === 'xw-culture').adapter).to.equal('culture');
        const history = (await admin.get('/api/admin/config')).body.versions.map((v: any) => v.summary);
        expect(history).to.deep.equal([
          'changed adapter culture', 'enabled adapter culture', 'disabled adapter culture', 'changed department xw-culture', 'added adapter culture', `imported ${join(CONFIG_DIR, 'default.json')}`,
        ]);
      } finally {
        await run.stop();
        await peer.close();
        await store.cleanup();
      }
    });

    it('refuses a bad change with the path of the bad field and keeps running as it was', async function () {
      const store = await freshStore(kind, 'config_bad');
      const run = await startGateway(store.db());
      const { gw } = run;
      try {
        const admin = client(run.base, await login(run.base, 'admin'));
        const sec = client(run.base, await login(run.base, 'secretary'));
        const before = (await admin.get('/api/admin/config')).body;

        const unknownKind = await admin.put('/api/admin/adapters/x', { kind: 'carrier-pigeon' });
        expect(unknownKind.status).to.equal(422);
        expect(unknownKind.body.error.code).to.equal('VALIDATION_FAILED');
        const wrongType = await admin.put('/api/admin/adapters/x', { kind: 'rest', options: { url: 42 } });
        expect(wrongType.status).to.equal(422);
        expect(wrongType.body.error).to.deep.include({ code: 'CONFIG_CHANGE_INVALID' });
        expect(wrongType.body.error.details.path).to.equal('/adapters/x/options/url');
        const badOptions = await admin.put('/api/admin/adapters/x', { kind: 'rest', options: { timeoutMs: 10 } });
        expect(badOptions.status).to.equal(422);
        expect(badOptions.body.error).to.deep.include({ code: 'CONFIG_CHANGE_INVALID' });
        expect(badOptions.body.error.details.path).to.match(/^\/adapters\/x\/options/);
        const dangling = await admin.put('/api/admin/departments/xw-culture', { ...(await admin.get('/api/admin/departments/xw-culture')).body, adapter: 'nowhere' });
        expect(dangling.status).to.equal(422);
        expect(dangling.body.error.details).to.deep.include({ path: `/departments/${gw.config.departments.findIndex((d) => d.id === 'xw-culture')}/adapter` });
        const inUse = await admin.delete('/api/admin/adapters/simulated');
        expect(inUse.status).to.equal(422);
        expect(inUse.body.error.details.path).to.match(/^\/departments\/\d+\/adapter$/);
        const badRoute = await admin.put('/api/admin/routes', [...gw.config.routes, { filedIn: '320102', type: 'fire', department: 'xw-police' }]);
        expect(badRoute.status).to.equal(422);
        expect(badRoute.body.error.details.path).to.match(/^\/routes\/\d+\/type$/);
        const conflict = await admin.post('/api/admin/adapters/simulated/disable', {}, { 'if-match': '"99"' });
        expect(conflict.status).to.equal(409);
        expect(conflict.body.error.code).to.equal('CONFIG_VERSION_CONFLICT');

        // A department with open reviews cannot be removed.
        const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
        await sec.post(`/api/cases/${c.id}/accept`);
        const busy = await admin.delete('/api/admin/departments/xw-culture');
        expect(busy.status).to.equal(409);
        expect(busy.body.error).to.deep.include({ code: 'DEPARTMENT_IN_USE' });

        const after = (await admin.get('/api/admin/config')).body;
        expect(after.version).to.equal(before.version);
        expect(after.document).to.deep.equal(before.document);
        expect(gw.configVersion).to.equal(before.version);
        expect(Object.keys(gw.config.adapters)).to.deep.equal(['simulated']);
      } finally {
        await run.stop();
        await store.cleanup();
      }
    });

    it('changes eligibility rules for the next application, reaches other gateways on the store, and survives a restart', async function () {
      const store = await freshStore(kind, 'config_rules');
      let run = await startGateway(store.db());
      const other = await Gateway.open({ settings: testSettings(), db: store.db(), logger: silentLogger(), dispatch: false });
      try {
        const admin = client(run.base, await login(run.base, 'admin'));
        const sec = client(run.base, await login(run.base, 'secretary'));
        const small = () => application({ registeredCapital: 500_000 });
        expect((await sec.post('/api/cases', small())).body.status).to.equal('refused');
        const rules = structuredClone(run.gw.config.eligibility) as any;
        rules.rules.unshift({ id: 'pilot-small-catering', effect: 'admit', reason: 'small catering admitted in the pilot', when: { anyScopeItem: ['catering'], minCapital: 100_000 } });
        expect((await admin.put('/api/admin/eligibility', rules)).status).to.equal(200);
        expect((await sec.post('/api/cases', small())).body.status).to.equal('submitted');

        // Another gateway on the same store picks the version up (it polls every two seconds; here it is asked at once).
        expect(other.configVersion).to.equal(1);
        await other.refreshConfig();
        expect(other.configVersion).to.equal(2);
        expect(other.config.eligibility.rules[0]!.id).to.equal('pilot-small-catering');

        // A restart with the file unchanged keeps the administrator's version.
        await run.stop();
        run = await startGateway(store.db());
        expect(run.gw.configVersion).to.equal(2);
        expect(run.gw.config.eligibility.rules[0]!.id).to.equal('pilot-small-catering');

        // An edited file, on restart, becomes the next version (the file is the baseline an operator controls).
        const cfg = JSON.parse(readFileSync(join(CONFIG_DIR, 'default.json'), 'utf8'));
        cfg.calendar = join(CONFIG_DIR, 'calendar/cn.json');
        cfg.gateway.demoUsers = join(CONFIG_DIR, 'demo-users.json');
        cfg.deadlines.reviewDays = 4;
        const file = join(store.dir, 'edited.json');
        writeFileSync(file, JSON.stringify(cfg));
        await run.stop();
        run = await startGateway(store.db(), { configFile: file });
        expect(run.gw.configVersion).to.equal(3);
        expect(run.gw.config.deadlines.reviewDays).to.equal(4);
        expect(run.gw.config.eligibility.rules[0]!.id).not.to.equal('pilot-small-catering');
        const imported = await run.gw.db.all<any>("SELECT data FROM events WHERE action = 'config.imported' ORDER BY seq");
        expect(imported).to.have.length(2);
        // The test's copy names the calendar and demo users by absolute paths, so those sections differ from the original too.
        expect(Object.keys(JSON.parse(imported[1].data).changes).sort()).to.deep.equal(['calendar', 'deadlines', 'eligibility', 'gateway']);
      } finally {
        await other.stop();
        await run.stop();
        await store.cleanup();
      }
    });
  });
}
