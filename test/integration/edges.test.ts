// Edges: an exhausted credit-code block, the clock route only under PAG_CLOCK=manual, and audit insertions.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linkHash, seal, verifyChain } from '../../src/bus/audit.js';
import { CONFIG_DIR } from '../../src/paths.js';
import { application, client, freshStore, login, startGateway, STORES } from '../support/harness.js';

for (const kind of STORES) {
  describe(`edges (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    beforeEach(async function () {
      store = await freshStore(kind, 'edges');
    });
    afterEach(async function () {
      await store.cleanup();
    });

    it('refuses a licence with CREDIT_CODE_BLOCK_EXHAUSTED when the last block is used up, and writes nothing', async function () {
      const cfg = JSON.parse(readFileSync(join(CONFIG_DIR, 'default.json'), 'utf8'));
      cfg.calendar = join(CONFIG_DIR, 'calendar/cn.json');
      cfg.gateway.demoUsers = join(CONFIG_DIR, 'demo-users.json');
      delete cfg.$schema;
      // Two tiny blocks: the second takes over from the first, then nothing is left.
      cfg.creditCodes.blocks = [
        { block: 'tiny-1', authority: '320102', department: '9', category: '1', orgPrefix: 'MA', first: 1, last: 1 },
        { block: 'tiny-2', authority: '320102', department: '9', category: '1', orgPrefix: 'MB', first: 1, last: 1 },
      ];
      const file = join(store.dir, 'tiny-blocks.json');
      writeFileSync(file, JSON.stringify(cfg));
      const run = await startGateway(store.db(), { configFile: file });
      try {
        const sec = client(run.base, await login(run.base, 'secretary'));
        const reg = client(run.base, await login(run.base, 'registrar'));
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const c = (await sec.post('/api/cases', application({ businessScope: ['retail'], industry: 'retail' }))).body;
          await sec.post(`/api/cases/${c.id}/accept`);
          ids.push(c.id);
        }
        const a = await reg.post(`/api/cases/${ids[0]}/licence`);
        const b = await reg.post(`/api/cases/${ids[1]}/licence`);
        expect(a.body.licence.creditCode).to.match(/^91320102MA/);
        expect(b.body.licence.creditCode).to.match(/^91320102MB/);
        const c = await reg.post(`/api/cases/${ids[2]}/licence`);
        expect(c.status).to.equal(503);
        expect(c.body.error.code).to.equal('CREDIT_CODE_BLOCK_EXHAUSTED');
        const after = (await sec.get(`/api/cases/${ids[2]}`)).body;
        expect(after.status).to.equal('awaiting_licence');
        expect(after.licence).to.equal(null);
      } finally {
        await run.stop();
      }
    });

    it('has no clock route unless PAG_CLOCK=manual', async function () {
      const run = await startGateway(store.db(), { clock: 'system' });
      try {
        const admin = client(run.base, await login(run.base, 'admin'));
        const r = await admin.put('/api/admin/clock', { now: '2030-01-01T00:00:00Z' });
        expect(r.status).to.equal(404);
        expect(r.body.error.code).to.equal('ROUTE_NOT_FOUND');
        expect((await admin.get('/api/admin/clock')).status).to.equal(404);
      } finally {
        await run.stop();
      }
    });

    it('reports an event inserted into the audit chain', async function () {
      const run = await startGateway(store.db());
      try {
        const sec = client(run.base, await login(run.base, 'secretary'));
        for (let i = 0; i < 3; i++) await sec.post('/api/cases', application());
        const db = run.gw.db;
        while ((await seal(db)).length > 0);
        expect((await verifyChain(db)).ok).to.equal(true);
        // Make room at position 3 and forge an event there with a correct-looking link to position 2.
        await db.run('UPDATE events SET chain_pos = chain_pos + 1000 WHERE chain_pos >= 3');
        await db.run('UPDATE events SET chain_pos = chain_pos - 999 WHERE chain_pos >= 1003');
        const prev = (await db.get<{ hash: string }>('SELECT hash FROM events WHERE chain_pos = 2'))!.hash;
        const forged = { seq: 999999, case_id: null, at: 0, actor: '{"kind":"user","id":"mallory"}', action: 'case.accepted', data: '{}' };
        await db.run('INSERT INTO events (seq, case_id, at, actor, action, data, chain_pos, hash) VALUES ($1, $2, $3, $4, $5, $6, 3, $7)', [
          forged.seq, forged.case_id, forged.at, forged.actor, forged.action, forged.data, linkHash(prev, 3, forged),
        ]);
        const r = await verifyChain(db);
        expect(r.ok).to.equal(false);
        expect(r.problem).to.include({ kind: 'inserted', position: 3, seq: 999999 });
      } finally {
        await run.stop();
      }
    });
  });
}
