// Pulling status changes from the simulated province over loopback: normal pull, repeated, dropped and missed pages, records out
// of order, the province down, pages signed by the wrong key or malformed, legacy codes, unknown enterprises, and a restart mid-pull.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../src/paths.js';
import { Gateway } from '../../src/gateway.js';
import type { PullReport } from '../../src/province/pull.js';
import { expectedState, MALFORMED_EVERY } from '../../src/province/sim-data.js';
import { startProvinceSim, type ProvinceSim } from '../../src/province/sim.js';
import type { Db } from '../../src/store/sql.js';
import { client, freshStore, login, silentLogger, STORES, testSettings, writeConfig } from '../support/harness.js';
import { demoKeys, expectRefusalRecorded, GATEWAY_ID } from '../support/signing.js';

const PAGE = 250;

/** A gateway on `db` with the pull configured; the pull runs in the background only when `pull` is true. */
async function open(db: Db, configFile: string, pull = false): Promise<{ gw: Gateway; base: string }> {
  const gw = await Gateway.open({ settings: testSettings({ configFile }), db, logger: silentLogger(), pollMs: 50, pull });
  const { port } = await gw.start();
  return { gw, base: `http://127.0.0.1:${port}` };
}

/** Everything the store holds of the feed, to compare with what the generator says. */
async function stored(db: Db) {
  const changes = await db.all<{ id: string; seq: number; outcome: string; warning: string | null }>('SELECT id, seq, outcome, warning FROM province_changes ORDER BY seq');
  const quarantined = await db.all<{ id: string; seq: number; code: string }>('SELECT id, seq, code FROM province_quarantine ORDER BY seq');
  // The registry of enterprises first seen in the feed, each with its state: its newest applied change.
  const enterprises = await db.all<{ credit_code: string; version: number; status: string; source: string; warning: string | null }>(
    'SELECT e.credit_code, s.version, s.status, e.source, e.warning FROM enterprises e LEFT JOIN enterprise_status s ON s.credit_code = e.credit_code',
  );
  expect(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM enterprise_status'))!.n)).to.equal(enterprises.length);
  return { changes, quarantined, enterprises };
}

/** Every record 1..total stored exactly once (as a change or quarantined), and each enterprise at its newest version. */
async function expectComplete(db: Db, sim: ProvinceSim, total: number): Promise<void> {
  const s = await stored(db);
  const seqs = [...s.changes.map((c) => Number(c.seq)), ...s.quarantined.map((q) => Number(q.seq))].sort((a, b) => a - b);
  expect(seqs.length, 'records stored').to.equal(total);
  expect(seqs.every((v, i) => v === i + 1), 'no record missing or twice').to.equal(true);
  expect(s.quarantined.map((q) => Number(q.seq))).to.deep.equal(Array.from({ length: Math.floor(total / MALFORMED_EVERY) }, (_, i) => (i + 1) * MALFORMED_EVERY));
  const truth = expectedState(sim.feed, total);
  expect(s.enterprises.length).to.equal(truth.size);
  for (const e of s.enterprises) expect(Number(e.version), e.credit_code).to.equal(truth.get(e.credit_code)?.version);
}

const cursorOf = async (db: Db) => (await db.get<{ cursor: string; seq: number }>('SELECT cursor, seq FROM province_pull'))!;

for (const kind of STORES) {
  describe(`pulling from the provincial system (${kind})`, function () {
    this.timeout(120_000);
    let store: Awaited<ReturnType<typeof freshStore>>;
    let sim: ProvinceSim;
    let gw: Gateway;
    let base: string;
    let configFile: string;
    const pull = (o?: { maxPages?: number }): Promise<PullReport> => gw.province!.runOnce(o);
    const grow = (total: number) => {
      sim.feed = { ...sim.feed, total };
    };

    before(async function () {
      store = await freshStore(kind, 'province-pull');
      sim = await startProvinceSim({ keys: demoKeys(), receiver: GATEWAY_ID, feed: { seed: 11, total: 3000, enterprises: 900 } });
      configFile = writeConfig(store.dir, 'config.json', (cfg) => {
        cfg.province = { pull: { url: sim.url, pageSize: PAGE, intervalSeconds: 3600, retry: { maxAttempts: 5, baseDelayMs: 5, maxDelayMs: 20 } } };
      });
      ({ gw, base } = await open(store.db(), configFile));
    });
    after(async function () {
      await gw?.stop();
      await sim?.close();
      await store?.cleanup();
    });

    it('pulls a few thousand records: unknown enterprises created, legacy codes warned of, codes that are none quarantined, late changes stale', async function () {
      const r = await pull();
      expect(r).to.include({ pages: 12, caughtUp: true, cursor: '3000', seq: 3000, refused: 0, error: null });
      expect(r.applied + r.stale + r.quarantined).to.equal(3000);
      expect(r.quarantined).to.equal(2);
      await expectComplete(gw.db, sim, 3000);
      const s = await stored(gw.db);
      // Every enterprise was unknown to this gateway: each is now a known enterprise, from the province.
      expect(r.created).to.equal(s.enterprises.length);
      expect(s.enterprises.every((e) => e.source === 'province')).to.equal(true);
      // Legacy codes (a wrong check character) are stored, with a warning; malformed ones are quarantined with a code.
      const warned = s.changes.filter((c) => c.warning);
      expect(warned.length).to.equal(r.warnings).and.to.be.greaterThan(0);
      expect(warned.every((c) => /legacy irregularity/.test(c.warning!))).to.equal(true);
      expect(s.quarantined.every((q) => q.code === 'INVALID_CREDIT_CODE')).to.equal(true);
      // An older change arriving after a newer one of its enterprise is recorded, not applied.
      expect(s.changes.filter((c) => c.outcome === 'stale').length).to.equal(r.stale).and.to.be.greaterThan(0);
      // Nothing more: a second run asks once and applies nothing.
      const again = await pull();
      expect(again).to.include({ pages: 1, applied: 0, stale: 0, duplicates: 0, caughtUp: true, cursor: '3000' });
    });

    it('applies a repeated page once', async function () {
      grow(3500);
      sim.faults.repeat = 1;
      const r = await pull();
      expect(r.duplicates).to.equal(PAGE);
      expect(r).to.include({ caughtUp: true, seq: 3500, error: null });
      await expectComplete(gw.db, sim, 3500);
    });

    it('fetches a dropped page again', async function () {
      grow(4000);
      sim.faults.fail = 1;
      const r = await pull();
      expect(r.retries).to.be.at.least(1);
      expect(r).to.include({ caughtUp: true, seq: 4000, error: null });
      await expectComplete(gw.db, sim, 4000);
    });

    it('detects a missed page by the gap in sequence numbers and fetches it again', async function () {
      grow(4500);
      sim.faults.skip = 1;
      const r = await pull();
      expect(r.gaps).to.equal(1);
      expect(r).to.include({ caughtUp: true, seq: 4500, error: null });
      await expectComplete(gw.db, sim, 4500);
    });

    it('applies records served out of order in feed order', async function () {
      grow(5000);
      sim.faults.shuffle = true;
      const r = await pull();
      sim.faults.shuffle = false;
      expect(r).to.include({ caughtUp: true, seq: 5000, error: null });
      await expectComplete(gw.db, sim, 5000);
    });

    it('retries with backoff while the province is down, and gives up for the run without moving the cursor when it stays down', async function () {
      grow(5500);
      sim.faults.down = 3;
      const r = await pull();
      expect(r.retries).to.be.at.least(3);
      expect(r).to.include({ caughtUp: true, seq: 5500, error: null });
      grow(6000);
      sim.faults.down = 50;
      const down = await pull();
      expect(down.error?.code).to.equal('PROVINCE_UNAVAILABLE');
      expect(await cursorOf(gw.db)).to.deep.include({ cursor: '5500' });
      sim.faults.down = 0;
      const back = await pull();
      expect(back).to.include({ caughtUp: true, seq: 6000, error: null });
      await expectComplete(gw.db, sim, 6000);
    });

    it('refuses a page signed by the wrong key: kept, audited, the cursor not advanced', async function () {
      grow(6500);
      sim.faults.wrongKey = 1;
      const r = await pull();
      expect(r).to.include({ refused: 1, pages: 0 });
      expect(r.error?.code).to.equal('KEY_NOT_VALID');
      expect(await cursorOf(gw.db)).to.deep.include({ cursor: '6000' });
      await expectRefusalRecorded(gw, { code: 'KEY_NOT_VALID', channel: 'province-pull' });
      const next = await pull();
      expect(next).to.include({ caughtUp: true, seq: 6500, error: null });
    });

    it('refuses a malformed page the same way', async function () {
      grow(7000);
      sim.faults.malformed = 1;
      const r = await pull();
      expect(r.error?.code).to.equal('PROVINCE_PAGE_INVALID');
      expect(await cursorOf(gw.db)).to.deep.include({ cursor: '6500' });
      await expectRefusalRecorded(gw, { code: 'PROVINCE_PAGE_INVALID', channel: 'province-pull' });
      expect(await pull()).to.include({ caughtUp: true, seq: 7000, error: null });
      await expectComplete(gw.db, sim, 7000);
    });

    it('shows supervisors the cursor, totals, warnings, quarantined records and refused pages', async function () {
      const sup = client(base, await login(base, 'supervisor'));
      const res = await sup.get('/api/province/status');
      expect(res.status).to.equal(200);
      const s = res.body;
      expect(s).to.include({ configured: true, source: 'province', cursor: '7000', seq: 7000 });
      expect(s.totals.quarantined).to.equal(Math.floor(7000 / MALFORMED_EVERY));
      expect(s.totals.refusedPages).to.equal(2);
      expect(s.totals.applied + s.totals.stale + s.totals.quarantined).to.equal(7000);
      expect(s.recentQuarantined[0]).to.include({ code: 'INVALID_CREDIT_CODE' });
      expect(s.recentWarnings.length).to.be.greaterThan(0);
      expect(s.recentRefusedPages.map((p: { code: string }) => p.code)).to.deep.equal(['PROVINCE_PAGE_INVALID', 'KEY_NOT_VALID']);
      expect(s.feed).to.equal(sim.url);
    });

    it('two gateways pulling at once apply every page once', async function () {
      grow(7600);
      const other = await Gateway.open({ settings: testSettings({ configFile }), db: store.db(), logger: silentLogger(), pollMs: 50, pull: false });
      try {
        const [a, b] = await Promise.all([pull(), other.province!.runOnce()]);
        expect(a.error ?? b.error).to.equal(null);
        expect(a.applied + a.stale + a.quarantined + b.applied + b.stale + b.quarantined).to.equal(600);
      } finally {
        await other.stop();
      }
      await expectComplete(gw.db, sim, 7600);
    });

    it('continues after a restart mid-pull with nothing lost or applied twice; the gateway pulls by itself when started', async function () {
      grow(9000);
      const part = await pull({ maxPages: 3 });
      expect(part).to.include({ pages: 3, caughtUp: false, seq: 8350 });
      await gw.stop();
      ({ gw, base } = await open(store.db(), configFile));
      const rest = await pull();
      expect(rest).to.include({ caughtUp: true, seq: 9000, duplicates: 0 });
      await expectComplete(gw.db, sim, 9000);
      const totals = (await gw.db.get<{ applied: number; stale: number; quarantined: number }>('SELECT applied, stale, quarantined FROM province_pull'))!;
      expect(Number(totals.applied) + Number(totals.stale) + Number(totals.quarantined)).to.equal(9000);
      // Started with the pull on, the gateway catches up with the province on its own.
      await gw.stop();
      grow(9600);
      ({ gw, base } = await open(store.db(), configFile, true));
      for (let i = 0; i < 400 && Number((await cursorOf(gw.db)).seq) < 9600; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await cursorOf(gw.db)).to.deep.include({ cursor: '9600' });
      await expectComplete(gw.db, sim, 9600);
    });
  });
}

describe('pag province pull --once', function () {
  this.timeout(60_000);

  it('pulls to the end of the feed, prints what it applied, and applies nothing the second time', async function () {
    const store = await freshStore('sqlite', 'province-cli');
    const sim = await startProvinceSim({ keys: demoKeys(), receiver: GATEWAY_ID, feed: { seed: 3, total: 2500 } });
    try {
      const configFile = writeConfig(store.dir, 'config.json', (cfg) => (cfg.province = { pull: { url: sim.url, pageSize: 1000 } }));
      const run = () => promisify(execFile)(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'province', 'pull', '--once'], { env: { ...process.env, PAG_CONFIG: configFile, DATA_DIR: store.dir, DATABASE_URL: '', LOG_LEVEL: 'warn' } });
      const first = await run();
      expect(first.stdout).to.match(/3 pages, cursor "2500" \(sequence 2500\), caught up/);
      expect(first.stdout).to.match(/quarantined 2\b/);
      const second = await run();
      expect(second.stdout).to.match(/1 page, cursor "2500"/);
      expect(second.stdout).to.match(/applied 0, stale 0/);
    } finally {
      await sim.close();
      await store.cleanup();
    }
  });
});
