// The enterprises known from the provincial pull over the API: filled by a real pull from the simulated province, then
// listed by area, status and name in keyset pages, scoped to a reviewer's area, shown one by one with their applied
// changes, and every bad filter refused with its code.
import { expect } from 'chai';
import { Gateway } from '../../src/gateway.js';
import { STATUS_AFTER, type ChangeKind } from '../../src/domain/province-change.js';
import { inArea } from '../../src/domain/province-subscription.js';
import { MALFORMED_EVERY, simEnterprise, simRecord, type FeedShape } from '../../src/province/sim-data.js';
import { startProvinceSim, type ProvinceSim } from '../../src/province/sim.js';
import { client, freshStore, login, silentLogger, STORES, testSettings, writeConfig, type Client } from '../support/harness.js';
import { demoKeys, GATEWAY_ID } from '../support/signing.js';

interface Truth {
  creditCode: string;
  name: string;
  divisionCode: string;
  status: string;
  version: number;
  legacy: boolean;
  /** The versions of its applied changes, newest first. */
  applied: number[];
  stale: number;
}

/**
 * What a correct pull of records 1..upTo leaves, worked out from the generator in feed order: the newest version of each
 * enterprise wins, an older one arriving later is stale, a record without a credit code is quarantined.
 */
function truthOf(feed: FeedShape, upTo: number): Map<string, Truth> {
  const byIndex = new Map<string, ReturnType<typeof simEnterprise>>();
  for (let i = 0; i < (feed.enterprises ?? 0); i++) byIndex.set(simEnterprise(i).creditCode, simEnterprise(i));
  const out = new Map<string, Truth>();
  for (let s = 1; s <= upTo; s++) {
    if (s % MALFORMED_EVERY === 0) continue;
    const r = simRecord(feed, s) as { creditCode: string; kind: ChangeKind; version: number };
    const e = byIndex.get(r.creditCode)!;
    const t = out.get(r.creditCode) ?? { creditCode: r.creditCode, name: e.name, divisionCode: e.divisionCode, status: '', version: -1, legacy: e.legacy, applied: [], stale: 0 };
    out.set(r.creditCode, t);
    if (r.version <= t.version) {
      t.stale++;
      continue;
    }
    t.version = r.version;
    t.status = STATUS_AFTER[r.kind];
    t.applied.unshift(r.version);
  }
  return out;
}

const qs = (q: Record<string, string | number>) => new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString();

/** Every page of a listing, following next; fails on a page that is not 200. */
async function allPages(c: Client, q: Record<string, string | number>): Promise<{ codes: string[]; items: any[]; pages: number }> {
  const items: any[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const res = await c.get(`/api/enterprises?${qs({ ...q, ...(after ? { after } : {}) })}`);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    pages++;
    items.push(...res.body.enterprises);
    after = res.body.next;
    if (after !== null) expect(after).to.equal(res.body.enterprises.at(-1).creditCode);
    expect(pages).to.be.below(1000);
  } while (after !== null);
  return { codes: items.map((e) => e.creditCode), items, pages };
}

const sorted = (a: string[]) => [...a].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

for (const kind of STORES) {
  describe(`enterprises known from the provincial pull (${kind})`, function () {
    this.timeout(120_000);
    const FEED: FeedShape = { seed: 23, total: 2400, enterprises: 260 };
    let store: Awaited<ReturnType<typeof freshStore>>;
    let sim: ProvinceSim;
    let gw: Gateway;
    let base: string;
    let truth: Map<string, Truth>;
    const as: Record<string, Client> = {};
    const expectedCodes = (keep: (t: Truth) => boolean) => sorted([...truth.values()].filter(keep).map((t) => t.creditCode));

    before(async function () {
      store = await freshStore(kind, 'enterprises');
      sim = await startProvinceSim({ keys: demoKeys(), receiver: GATEWAY_ID, feed: { ...FEED } });
      const configFile = writeConfig(store.dir, 'config.json', (cfg) => {
        cfg.province = { pull: { url: sim.url, pageSize: 500, intervalSeconds: 3600 } };
      });
      gw = await Gateway.open({ settings: testSettings({ configFile }), db: store.db(), logger: silentLogger(), pollMs: 50, pull: false });
      base = `http://127.0.0.1:${(await gw.start()).port}`;
      const r = await gw.province!.runOnce();
      expect(r).to.include({ caughtUp: true, seq: FEED.total, error: null });
      truth = truthOf(FEED, FEED.total);
      for (const u of ['supervisor', 'admin', 'secretary', 'registrar', 'reviewer-xw-health', 'reviewer-nj-fire']) as[u] = client(base, await login(base, u));
    });
    after(async function () {
      await gw?.stop();
      await sim?.close();
      await store?.cleanup();
    });

    it('lists every enterprise exactly once across pages, in credit-code order, each with its current status', async function () {
      // The feed is meant to exercise every status, several areas, legacy codes and stale changes.
      const all = [...truth.values()];
      expect(new Set(all.map((t) => t.status))).to.have.all.keys('operating', 'suspended', 'revoked', 'deregistered');
      expect(all.some((t) => t.legacy) && all.some((t) => t.stale > 0)).to.equal(true);
      const { codes, items, pages } = await allPages(as.supervisor!, { limit: 37 });
      expect(pages).to.equal(Math.ceil(truth.size / 37));
      expect(codes).to.deep.equal(expectedCodes(() => true));
      for (const e of items) {
        const t = truth.get(e.creditCode)!;
        expect(e, e.creditCode).to.deep.include({ name: t.name, divisionCode: t.divisionCode, status: t.status, version: t.version });
        expect(STATUS_AFTER[e.lastKind as ChangeKind]).to.equal(t.status);
        expect(e.occurredAt).to.equal(new Date(Date.parse('2025-01-01T00:00:00Z') + t.version * 1000).toISOString());
        expect(new Date(Date.parse(e.firstSeenAt)).toISOString()).to.equal(e.firstSeenAt);
        if (t.legacy) expect(e.warning, e.creditCode).to.match(/legacy irregularity/);
        else expect(e.warning, e.creditCode).to.equal(null);
        expect(Object.keys(e).sort()).to.deep.equal(['creditCode', 'divisionCode', 'firstSeenAt', 'lastKind', 'name', 'occurredAt', 'status', 'version', 'warning']);
      }
      // The default page is 100; the last page says nothing follows.
      const first = await as.supervisor!.get('/api/enterprises');
      expect(first.body.enterprises).to.have.length(100);
      expect(first.body.next).to.equal(first.body.enterprises[99].creditCode);
      const one = await as.supervisor!.get(`/api/enterprises?limit=500`);
      expect([one.body.enterprises.length, one.body.next]).to.deep.equal([truth.size, null]);
      // A page that ends exactly at the last enterprise says so too.
      expect(truth.size).to.be.below(500);
      const exact = await as.supervisor!.get(`/api/enterprises?limit=${truth.size}`);
      expect([exact.body.enterprises.length, exact.body.next]).to.deep.equal([truth.size, null]);
      const short = await as.supervisor!.get(`/api/enterprises?limit=${truth.size - 1}`);
      expect(short.body.next).to.equal(codes.at(-2));
    });

    it('filters by area (a district itself, a city its districts, a province everything), status and part of the name, alone and together', async function () {
      const cases: [Record<string, string | number>, (t: Truth) => boolean][] = [
        [{ division: '320102' }, (t) => t.divisionCode === '320102'],
        [{ division: '320100' }, (t) => inArea('320100', t.divisionCode)],
        [{ division: '320500' }, (t) => t.divisionCode.startsWith('3205')],
        [{ division: '320000' }, () => true],
        [{ division: '110000' }, () => false],
        [{ status: 'suspended' }, (t) => t.status === 'suspended'],
        [{ status: 'deregistered' }, (t) => t.status === 'deregistered'],
        [{ q: '企业12' }, (t) => t.name.includes('企业12')],
        [{ q: '%' }, () => false],
        [{ division: '320100', status: 'operating', limit: 7 }, (t) => inArea('320100', t.divisionCode) && t.status === 'operating'],
        [{ division: '320104', status: 'revoked', q: '1' }, (t) => t.divisionCode === '320104' && t.status === 'revoked' && t.name.includes('1')],
      ];
      for (const [q, keep] of cases) {
        const want = expectedCodes(keep);
        // Each filter picks some and leaves some, unless it is meant to pick all or none.
        if (q.division !== '320000') expect(want.length, JSON.stringify(q)).to.be.below(truth.size);
        const { codes } = await allPages(as.supervisor!, { limit: 20, ...q });
        expect(codes, JSON.stringify(q)).to.deep.equal(want);
      }
      expect(expectedCodes((t) => inArea('320100', t.divisionCode)).length).to.be.below(truth.size);
      expect(expectedCodes((t) => t.name.includes('企业12')).length).to.be.greaterThan(0);
    });

    it('shows the bureau everything; a reviewer only the area of their department, and nothing of another area', async function () {
      for (const u of ['secretary', 'registrar', 'admin']) expect((await allPages(as[u]!, { limit: 500 })).codes, u).to.deep.equal(expectedCodes(() => true));
      const district = expectedCodes((t) => t.divisionCode === '320102');
      const city = expectedCodes((t) => inArea('320100', t.divisionCode));
      expect(district.length).to.be.greaterThan(0).and.below(city.length);
      expect(city.length).to.be.below(truth.size);
      const xw = as['reviewer-xw-health']!;
      const nj = as['reviewer-nj-fire']!;
      expect((await allPages(xw, { limit: 9 })).codes).to.deep.equal(district);
      expect((await allPages(nj, { limit: 9 })).codes).to.deep.equal(city);
      // Asking for a wider area gives only their own part of it; asking for another area gives nothing.
      expect((await allPages(xw, { division: '320000' })).codes).to.deep.equal(district);
      expect((await allPages(nj, { division: '320104' })).codes).to.deep.equal(expectedCodes((t) => t.divisionCode === '320104'));
      for (const division of ['320104', '320205']) {
        const res = await xw.get(`/api/enterprises?division=${division}`);
        expect([res.status, res.body], division).to.deep.equal([200, { enterprises: [], next: null }]);
      }
      expect((await nj.get('/api/enterprises?division=320500')).body).to.deep.equal({ enterprises: [], next: null });
      // One enterprise: inside the area as to anyone, outside it exactly as a code nobody knows.
      const own = district[0]!;
      const elsewhere = expectedCodes((t) => t.divisionCode === '320506')[0]!;
      expect((await xw.get(`/api/enterprises/${own}`)).status).to.equal(200);
      expect((await nj.get(`/api/enterprises/${own}`)).status).to.equal(200);
      const unknown = simEnterprise(100_000).creditCode;
      const nobody = await xw.get(`/api/enterprises/${unknown}`);
      expect([nobody.status, nobody.body.error.code]).to.deep.equal([404, 'NOT_FOUND']);
      for (const c of [xw, nj]) expect((await c.get(`/api/enterprises/${elsewhere}`)).body).to.deep.equal(nobody.body);
      expect((await as.supervisor!.get(`/api/enterprises/${elsewhere}`)).status).to.equal(200);
    });

    it('shows one enterprise with its applied changes newest first, without the stale ones', async function () {
      const t = [...truth.values()].filter((x) => x.stale > 0).sort((a, b) => b.applied.length - a.applied.length)[0]!;
      expect(t.applied.length).to.be.greaterThan(2);
      const res = await as.registrar!.get(`/api/enterprises/${t.creditCode}`);
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ creditCode: t.creditCode, status: t.status, version: t.version, historyTruncated: false });
      expect(res.body.history.map((h: any) => h.version)).to.deep.equal(t.applied);
      expect(res.body.history[0]).to.include({ kind: res.body.lastKind, status: t.status, occurredAt: res.body.occurredAt, divisionCode: t.divisionCode });
      // The stale changes are stored, yet no part of the history.
      const storedStale = await gw.db.all("SELECT id FROM province_changes WHERE credit_code = $1 AND outcome = 'stale'", [t.creditCode]);
      expect(storedStale).to.have.length(t.stale);
      const ids = new Set(res.body.history.map((h: any) => h.changeId));
      expect(storedStale.some((s) => ids.has(s.id))).to.equal(false);
      for (const h of res.body.history) {
        const r = simRecord(FEED, h.seq) as { id: string; kind: ChangeKind; version: number };
        expect(h).to.include({ changeId: r.id, kind: r.kind, version: r.version, status: STATUS_AFTER[r.kind] });
      }
      // A code is read whatever the case of its letters.
      const legacy = [...truth.values()].find((x) => x.legacy && /[A-Z]/.test(x.creditCode))!;
      const lower = await as.secretary!.get(`/api/enterprises/${legacy.creditCode.toLowerCase()}`);
      expect([lower.status, lower.body.creditCode]).to.deep.equal([200, legacy.creditCode]);
      expect(lower.body.warning).to.match(/legacy irregularity/);
    });

    it('answers NOT_FOUND for a code nobody knows and INVALID_CREDIT_CODE for a path that is no code', async function () {
      const r = await as.admin!.get(`/api/enterprises/${simEnterprise(100_001).creditCode}`);
      expect([r.status, r.body.error.code, r.body.error.details]).to.deep.equal([404, 'NOT_FOUND', { what: 'enterprise' }]);
      for (const bad of ['91320102', '91320102MA1ABCDI1Y', 'MALFORMED-1009', '%E4%BC%81%E4%B8%9A' + 'A'.repeat(16), `${simEnterprise(1).creditCode}0`]) {
        const res = await as.admin!.get(`/api/enterprises/${bad}`);
        expect([res.status, res.body.error?.code], bad).to.deep.equal([422, 'INVALID_CREDIT_CODE']);
      }
    });

    it('refuses unknown filters and bad values with INVALID_ENTERPRISE_FILTER naming the field', async function () {
      const cases: [string, string][] = [
        ['divisionCode=320102', 'divisionCode'],
        ['offset=100', 'offset'],
        ['division=3201', 'division'],
        ['division=32010A', 'division'],
        ['status=active', 'status'],
        ['status=established', 'status'],
        ['status=operating&status=revoked', 'status'],
        ['limit=0', 'limit'],
        ['limit=501', 'limit'],
        ['limit=abc', 'limit'],
        ['after=123', 'after'],
        [`after=${'I'.repeat(18)}`, 'after'],
        [`q=${'企'.repeat(101)}`, 'q'],
      ];
      for (const [query, field] of cases) {
        const res = await as.supervisor!.get(`/api/enterprises?${query}`);
        expect([res.status, res.body.error?.code, res.body.error?.details?.field], query).to.deep.equal([422, 'INVALID_ENTERPRISE_FILTER', field]);
        expect(res.body.error.message).to.contain(field);
      }
      // The reviewer's scope does not hide a bad filter.
      const res = await as['reviewer-xw-health']!.get('/api/enterprises?division=abc');
      expect(res.body.error.code).to.equal('INVALID_ENTERPRISE_FILTER');
    });

    it('keeps paging consistent while the pull goes on: no enterprise twice, none known from the start missed', async function () {
      const before = expectedCodes(() => true);
      const c = as.supervisor!;
      const first = await c.get('/api/enterprises?limit=50');
      const seen: string[] = first.body.enterprises.map((e: any) => e.creditCode);
      sim.feed = { ...sim.feed, total: 3000 };
      expect(await gw.province!.runOnce()).to.include({ caughtUp: true, seq: 3000, error: null });
      truth = truthOf(FEED, 3000);
      const rest = await allPages(c, { limit: 50, after: first.body.next });
      seen.push(...rest.codes);
      expect(new Set(seen).size).to.equal(seen.length);
      expect(seen).to.deep.equal(sorted(seen));
      expect(before.filter((x) => !seen.includes(x))).to.deep.equal([]);
      // Statuses now are those after the second pull.
      const now = await allPages(c, { limit: 500 });
      for (const e of now.items) expect(e.version, e.creditCode).to.equal(truth.get(e.creditCode)!.version);
    });
  });

  describe(`an enterprise with a long history (${kind})`, function () {
    this.timeout(120_000);

    it('shows its newest 100 applied changes and says that there are more', async function () {
      // Ten enterprises over 1300 records: each changes over a hundred times.
      const feed: FeedShape = { seed: 29, total: 1300, enterprises: 10 };
      const store = await freshStore(kind, 'enterprise-history');
      const sim = await startProvinceSim({ keys: demoKeys(), receiver: GATEWAY_ID, feed });
      const configFile = writeConfig(store.dir, 'config.json', (cfg) => (cfg.province = { pull: { url: sim.url, pageSize: 1000, intervalSeconds: 3600 } }));
      const gw = await Gateway.open({ settings: testSettings({ configFile }), db: store.db(), logger: silentLogger(), pollMs: 50, pull: false });
      try {
        const base = `http://127.0.0.1:${(await gw.start()).port}`;
        expect(await gw.province!.runOnce()).to.include({ caughtUp: true, seq: 1300, error: null });
        const truth = truthOf(feed, 1300);
        const long = [...truth.values()].sort((a, b) => b.applied.length - a.applied.length)[0]!;
        expect(long.applied.length).to.be.greaterThan(100);
        const res = await client(base, await login(base, 'supervisor')).get(`/api/enterprises/${long.creditCode}`);
        expect(res.status).to.equal(200);
        expect(res.body.historyTruncated).to.equal(true);
        expect(res.body.history.map((h: any) => h.version)).to.deep.equal(long.applied.slice(0, 100));
      } finally {
        await gw.stop();
        await sim.close();
        await store.cleanup();
      }
    });
  });
}
