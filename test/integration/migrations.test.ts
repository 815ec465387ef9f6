// Schema migrations over each store: 16 (chain positions unique among sealed events only) and 17 (SQLite finds unsealed events by seq) keep every event and the chain.
import { expect } from 'chai';
import { linkHash, seal, verifyChain } from '../../src/bus/audit.js';
import { appendEvents } from '../../src/store/case-repo.js';
import { migrate } from '../../src/store/migrations.js';
import type { Db } from '../../src/store/sql.js';
import { freshStore, STORES } from '../support/harness.js';

const ACTOR = { kind: 'system', id: 'migration-test', role: 'dispatcher' } as const;

async function addEvents(db: Db, caseId: string, n: number, at: number): Promise<void> {
  await db.tx((sql) => appendEvents(sql, caseId, at, ACTOR, Array.from({ length: n }, (_, i) => ({ action: 'test.event', data: { i, caseId } }))));
}

/** Seals as the sealer did before migration 17 (by the empty position alone), for a store made at an earlier version. */
async function sealAsBefore(db: Db): Promise<number> {
  return db.tx(async (sql) => {
    const head = (await sql.get<{ pos: number; hash: string }>('SELECT pos, hash FROM audit_head WHERE id = 1'))!;
    const rows = await sql.all<any>('SELECT seq, case_id, at, actor, action, data FROM events WHERE chain_pos IS NULL ORDER BY seq');
    let pos = Number(head.pos);
    let hash = head.hash;
    for (const r of rows) {
      pos += 1;
      hash = linkHash(hash, pos, r);
      await sql.run('UPDATE events SET chain_pos = $2, hash = $3 WHERE seq = $1', [r.seq, pos, hash]);
    }
    await sql.run('UPDATE audit_head SET pos = $1, hash = $2 WHERE id = 1', [pos, hash]);
    return rows.length;
  });
}

const allEvents = (db: Db) => db.all<Record<string, unknown>>('SELECT seq, case_id, at, actor, action, data, chain_pos, hash FROM events ORDER BY seq');

for (const kind of STORES) {
  describe(`schema migrations (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let db: Db;

    before(async function () {
      store = await freshStore(kind, 'migrations');
      db = store.db();
    });
    after(async function () {
      await db?.close();
      await store?.cleanup();
    });

    it('16 and 17: keep every event, sealed or not, its sequence and the chain, and hold sealed positions unique', async function () {
      await migrate(db, 15);
      await addEvents(db, 'case-a', 5, 1_000);
      expect(await sealAsBefore(db)).to.equal(5);
      await addEvents(db, 'case-b', 3, 2_000);
      const before = await allEvents(db);
      expect(before.filter((e) => e.chain_pos === null)).to.have.length(3);

      await migrate(db);
      expect(await allEvents(db)).to.deep.equal(before);
      expect((await db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations'))!.v).to.equal(17);
      if (kind === 'sqlite') {
        // The last sealed event's seq is where the sealer goes on from; the index of unsealed events is gone.
        expect(Number((await db.get<{ s: number }>('SELECT sealed_seq AS s FROM audit_head WHERE id = 1'))!.s)).to.equal(Number(before[4]!.seq));
        expect(await db.all("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'events_unsealed'")).to.have.length(0);
      }

      // Sealing goes on from the head, new events follow the old ones, and the whole chain verifies.
      await addEvents(db, 'case-c', 2, 3_000);
      const sealed = await seal(db);
      expect(sealed.map((e) => e.id)).to.deep.equal([6, 7, 8, 9, 10]);
      const after = await allEvents(db);
      expect(after.map((e) => Number(e.seq))).to.deep.equal([...before.map((e) => Number(e.seq)), Number(before[before.length - 1]!.seq) + 1, Number(before[before.length - 1]!.seq) + 2]);
      const report = await verifyChain(db);
      expect(report).to.deep.include({ ok: true, checked: 10, unsealed: 0 });

      // Any number of unsealed events, but one event per sealed position.
      await addEvents(db, 'case-d', 2, 4_000);
      let refused: unknown = null;
      await db.run('UPDATE events SET chain_pos = 3 WHERE chain_pos = 4').catch((e: unknown) => (refused = e));
      expect(String((refused as Error | null)?.message), 'a second event at position 3').to.match(/unique|duplicate key/i);
      expect(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE chain_pos IS NULL'))!.n)).to.equal(2);
    });
  });
}
