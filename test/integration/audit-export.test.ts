// Audit checkpoints, export and offline verification on each store: a bundle written through the CLI verifies, and each edit of it is named.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENESIS, linkHash, verifyChain, type ChainRow } from '../../src/bus/audit.js';
import { registryKeys } from '../../src/bus/checkpoints.js';
import { auditExport, auditVerifyBundle } from '../../src/cli/audit.js';
import type { Db } from '../../src/store/sql.js';
import { KeyRegistry } from '../../src/trust/keys.js';
import { application, client, freshStore, login, startGateway, STORES, testSettings, type Running, writeConfig } from '../support/harness.js';

/** Starts a gateway whose configuration file says to sign a checkpoint every `every` events sealed. */
async function startSigning(store: Awaited<ReturnType<typeof freshStore>>, every: number): Promise<Running> {
  const file = writeConfig(store.dir, `signing-${every}.json`, (cfg) => (cfg.gateway.auditCheckpoint = { everyEvents: every }));
  return startGateway(store.db(), { configFile: file }, { dispatch: false });
}

async function submitAndAccept(run: Running, n: number, token?: string): Promise<void> {
  const sec = client(run.base, token ?? (await login(run.base, 'secretary')));
  for (let i = 0; i < n; i++) {
    const c = await sec.post('/api/cases', application());
    expect(c.status, JSON.stringify(c.body)).to.equal(201);
    expect((await sec.post(`/api/cases/${c.body.id}/accept`)).status).to.equal(200);
  }
}

const count = async (db: Db) => Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit_checkpoints'))!.n);

for (const kind of STORES) {
  describe(`audit checkpoints, export and offline verification (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let stopped = false;
    let bundle: string;
    let lines: string[];
    const keys = () => registryKeys(new KeyRegistry(testSettings().certsDir, false));

    before(async function () {
      store = await freshStore(kind, 'audit_export');
      run = await startSigning(store, 4);
      await submitAndAccept(run, 4);
    });
    after(async function () {
      if (!stopped) await run?.stop();
      await store?.cleanup();
    });

    /** Verifies an edited copy of the bundle through the CLI function: its exit code and what it printed. */
    async function verifyEdited(name: string, edit: (events: any[]) => any[]): Promise<{ code: number; out: string }> {
      const head = lines.filter((l) => JSON.parse(l).type !== 'event');
      const events = lines.filter((l) => JSON.parse(l).type === 'event').map((l) => JSON.parse(l));
      const file = join(store.dir, name);
      writeFileSync(file, [...head, ...edit(events).map((e) => JSON.stringify(e))].join('\n') + '\n');
      const out: string[] = [];
      const code = await auditVerifyBundle(file, [], (l) => out.push(l));
      return { code, out: out.join('\n') };
    }

    it('signs checkpoints while sealing, and the live verification checks them', async function () {
      for (let i = 0; i < 100 && (await count(run.gw.db)) < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await count(run.gw.db)).to.be.at.least(2);
      const r = await verifyChain(run.gw.db, { keys: keys() });
      expect(r.ok, JSON.stringify(r.problem)).to.equal(true);
      expect(r.checkpoints.checked).to.be.at.least(2);
    });

    it('exports a bundle through the CLI function and verifies it offline', async function () {
      const h = await auditExport(run.gw, store.dir);
      bundle = h.file;
      expect(bundle.startsWith(store.dir)).to.equal(true);
      const head = (await run.gw.db.get<{ pos: number; hash: string }>('SELECT pos, hash FROM audit_head WHERE id = 1'))!;
      expect(h.head).to.deep.equal({ pos: Number(head.pos), hash: head.hash });
      lines = readFileSync(bundle, 'utf8').trim().split('\n');
      expect(lines.filter((l) => JSON.parse(l).type === 'event')).to.have.length(Number(head.pos));
      expect(lines.filter((l) => JSON.parse(l).type === 'key').length).to.be.at.least(1);
      const out: string[] = [];
      expect(await auditVerifyBundle(bundle, [], (l) => out.push(l))).to.equal(0);
      expect(out[0]).to.equal(`OK: ${head.pos} events verified; ${h.checkpoints} signed checkpoints verified, the last at position ${head.pos}${out[0]!.slice(out[0]!.indexOf(' ('))}`);
      expect(out[1]).to.match(/^signed by gateway-\S+ \((ES256|RS256|EdDSA)\), SPKI SHA-256 [0-9a-f]{64}/);
    });

    it('names an event whose data was altered in the bundle', async function () {
      let seq = 0;
      const r = await verifyEdited('altered.jsonl', (events) => events.map((e) => (e.pos === 5 ? ((seq = e.seq), { ...e, data: e.data.replace('}', ',"extra":1}') }) : e)));
      expect(r.code).to.equal(1);
      expect(r.out).to.equal(`TAMPERED: altered event at position 5 (seq ${seq}): stored hash does not match the event`);
    });

    it('names an event removed from the bundle', async function () {
      const r = await verifyEdited('deleted.jsonl', (events) => events.filter((e) => e.pos !== 7));
      expect(r.code).to.equal(1);
      expect(r.out).to.match(/^TAMPERED: deleted event at position 7: positions 7 to 7 are missing/);
    });

    it('names an event inserted into the bundle with a forged link, the later ones renumbered', async function () {
      const r = await verifyEdited('inserted.jsonl', (events) => {
        const prev = events.find((e) => e.pos === 3).hash;
        const forged = { seq: 424242, caseId: null, at: 0, actor: '{"kind":"user","id":"mallory"}', action: 'case.accepted', data: '{}' };
        const line = { type: 'event', pos: 4, ...forged, hash: linkHash(prev, 4, { ...forged, case_id: null }) };
        return events.flatMap((e) => (e.pos < 4 ? [e] : e.pos === 4 ? [line, { ...e, pos: 5 }] : [{ ...e, pos: e.pos + 1 }]));
      });
      expect(r.code).to.equal(1);
      expect(r.out).to.match(/^TAMPERED: inserted event at position 4 \(seq 424242\)/);
    });

    it('finds the tail of the bundle cut before the last checkpoint', async function () {
      const r = await verifyEdited('cut.jsonl', (events) => events.slice(0, events.length - 2));
      expect(r.code).to.equal(1);
      expect(r.out).to.match(/^TAMPERED: deleted event at position \d+/);
    });

    it('signs a last checkpoint covering the head when the gateway stops', async function () {
      await submitAndAccept(run, 1);
      stopped = true;
      await run.stop();
      const db = store.db();
      try {
        const head = (await db.get<{ pos: number }>('SELECT pos FROM audit_head WHERE id = 1'))!;
        const last = (await db.get<{ pos: number }>('SELECT MAX(pos) AS pos FROM audit_checkpoints'))!;
        expect(Number(last.pos)).to.equal(Number(head.pos));
      } finally {
        await db.close();
      }
    });

    it('finds a chain rewritten in the store (edited and recomputed) by its signed checkpoints', async function () {
      const db = store.db();
      try {
        const rows = await db.all<ChainRow>('SELECT seq, case_id, at, actor, action, data, chain_pos, hash FROM events WHERE chain_pos IS NOT NULL ORDER BY chain_pos');
        let prev = GENESIS;
        for (const r of rows) {
          if (Number(r.chain_pos) === 3) r.data = r.data.replace('}', ',"forged":true}');
          prev = linkHash(prev, Number(r.chain_pos), r);
          if (Number(r.chain_pos) >= 3) await db.run('UPDATE events SET data = $1, hash = $2 WHERE seq = $3', [r.data, prev, r.seq]);
        }
        await db.run('UPDATE audit_head SET hash = $1 WHERE id = 1', [prev]);
        // The chain alone holds together; only the signatures show the rewrite.
        expect((await verifyChain(db)).ok).to.equal(true);
        const r = await verifyChain(db, { keys: keys() });
        expect(r.ok).to.equal(false);
        expect(r.problem!.kind).to.equal('altered');
        expect(r.problem!.position).to.be.at.least(3);
        expect(r.problem!.detail).to.match(/not the one signed/);
      } finally {
        await db.close();
      }
    });
  });
}

if (STORES.includes('postgres')) {
  describe('audit checkpoints of two gateways on one PostgreSQL', function () {
    it('seal and sign side by side without conflicting checkpoints', async function () {
      const store = await freshStore('postgres', 'audit_two');
      const a = await startSigning(store, 2);
      const b = await startSigning(store, 2);
      try {
        // One after the other: a one-time code older than the last one used by the user is refused.
        const ta = await login(a.base, 'secretary', store.schema);
        const tb = await login(b.base, 'secretary', store.schema);
        await Promise.all([submitAndAccept(a, 3, ta), submitAndAccept(b, 3, tb)]);
        await Promise.all([a.gw.sealer.settled(), b.gw.sealer.settled()]);
        await Promise.all([a.gw.checkpoints.now(), b.gw.checkpoints.now()]);
        const positions = (await a.gw.db.all<{ pos: number }>('SELECT pos FROM audit_checkpoints ORDER BY pos')).map((r) => Number(r.pos));
        expect(positions.length).to.be.at.least(2);
        expect(new Set(positions).size).to.equal(positions.length);
        const r = await verifyChain(a.gw.db, { keys: registryKeys(a.gw.keys) });
        expect(r.ok, JSON.stringify(r.problem)).to.equal(true);
        expect(r.checkpoints.checked).to.equal(positions.length);
      } finally {
        await a.stop();
        await b.stop();
        await store.cleanup();
      }
    });
  });
}
