// Reconciling pages of provincial status changes: idempotence, order independence, gaps, stale changes, credit-code verdicts and subscriptions.
import { expect } from 'chai';
import fc from 'fast-check';
import { creditCodeVerdict, planPage, readPage, type Identified, type PagePlan, type Stored } from '../../src/domain/province-change.js';
import { areaPrefix, inArea, routingKey, subscribersOf } from '../../src/domain/province-subscription.js';
import { expectedState, LATE_EVERY, MALFORMED_EVERY, simEnterprise, simRecord } from '../../src/province/sim-data.js';

/** An in-memory store the plans are applied to, as the database would. */
class Memory {
  seen = new Set<string>();
  versions = new Map<string, number>();
  applied = 0;
  stored(): Stored {
    return { seen: new Set(this.seen), versions: new Map(this.versions) };
  }
  apply(p: PagePlan): void {
    for (const c of p.changes) this.seen.add(c.record.id);
    for (const q of p.quarantined) this.seen.add(q.id);
    for (const e of p.enterprises) if ((this.versions.get(e.record.creditCode) ?? -1) < e.record.version) this.versions.set(e.record.creditCode, e.record.version);
    this.applied += p.changes.filter((c) => c.outcome === 'applied').length;
  }
}

const FEED = { seed: 7, total: 3000, enterprises: 200 };
const identified = (from: number, to: number): Identified[] => {
  const out: Identified[] = [];
  for (let s = from; s <= to; s++) {
    const raw = simRecord(FEED, s);
    out.push({ id: raw.id as string, seq: s, raw });
  }
  return out;
};
const plan = (lastSeq: number, records: Identified[], m: Memory): PagePlan => {
  const p = planPage(lastSeq, records, m.stored());
  if ('gap' in p) throw new Error(`unexpected gap ${JSON.stringify(p.gap)}`);
  return p;
};

describe('provincial status changes: reconciliation', function () {
  it('applying a page twice applies it once: every record of the repeat is a duplicate', function () {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 300 }), (start, size) => {
        const m = new Memory();
        const before = identified(1, start - 1);
        m.apply(plan(0, before, m));
        const page = identified(start, start + size - 1);
        const first = plan(start - 1, page, m);
        m.apply(first);
        const again = plan(first.seq, page, m);
        expect(again.changes).to.have.length(0);
        expect(again.quarantined).to.have.length(0);
        expect(again.duplicates).to.equal(page.length);
        expect(again.seq).to.equal(first.seq);
      }),
      { numRuns: 60 },
    );
  });

  it('leaves every enterprise at its newest version whatever order a page serves its records in', function () {
    const page = identified(1, 600);
    const truth = expectedState(FEED, 600);
    fc.assert(
      fc.property(fc.shuffledSubarray(page, { minLength: page.length, maxLength: page.length }), (shuffled) => {
        const m = new Memory();
        m.apply(plan(0, shuffled, m));
        expect(m.versions.size).to.equal(truth.size);
        for (const [code, t] of truth) expect(m.versions.get(code), code).to.equal(t.version);
      }),
      { numRuns: 40 },
    );
  });

  it('gives the same result page by page as in one page, for any page size', function () {
    const truth = expectedState(FEED, 1500);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 700 }), (size) => {
        const m = new Memory();
        let seq = 0;
        while (seq < 1500) {
          const p = plan(seq, identified(seq + 1, Math.min(seq + size, 1500)), m);
          m.apply(p);
          seq = p.seq;
        }
        for (const [code, t] of truth) expect(m.versions.get(code)).to.equal(t.version);
      }),
      { numRuns: 30 },
    );
  });

  it('counts each record once, as applied, stale, quarantined or duplicate (arithmetic over any overlap of pages)', function () {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 0, max: 200 }), (a, overlap) => {
        const m = new Memory();
        const p1 = plan(0, identified(1, a), m);
        m.apply(p1);
        const from = Math.max(1, a - overlap + 1);
        const p2 = plan(p1.seq, identified(from, a + 100), m);
        m.apply(p2);
        const total = (p: PagePlan) => p.changes.length + p.quarantined.length + p.duplicates;
        expect(total(p1)).to.equal(a);
        expect(total(p2)).to.equal(a + 100 - from + 1);
        expect(p2.duplicates).to.equal(a - from + 1);
      }),
      { numRuns: 60 },
    );
  });

  it('finds a gap when the records after the cursor do not run on from it', function () {
    const m = new Memory();
    expect(planPage(10, identified(13, 20), m.stored())).to.deep.equal({ gap: { expected: 11, got: 13 } });
    const holed = identified(11, 20).filter((r) => r.seq !== 15);
    expect(planPage(10, holed, m.stored())).to.deep.equal({ gap: { expected: 15, got: 16 } });
    // Records at or before the cursor are repeats, not a gap.
    expect('gap' in planPage(10, identified(5, 12), m.stored())).to.equal(false);
  });

  it('records an older change that arrives later as stale, without overwriting the newer one', function () {
    const late = LATE_EVERY * 3;
    const m = new Memory();
    const p = plan(0, identified(1, late), m);
    const rec = p.changes.find((c) => c.record.seq === late)!;
    expect(rec.outcome).to.equal('stale');
    const newer = p.changes.find((c) => c.record.seq === late - 7)!;
    expect(newer.record.creditCode).to.equal(rec.record.creditCode);
    expect(rec.record.version).to.be.lessThan(newer.record.version);
  });

  it('quarantines a record without a credit code and one without the fields it needs; warns of a legacy code', function () {
    const m = new Memory();
    const p = plan(0, identified(1, MALFORMED_EVERY), m);
    expect(p.quarantined.map((q) => [q.seq, q.code])).to.deep.equal([[MALFORMED_EVERY, 'INVALID_CREDIT_CODE']]);
    const broken: Identified = { id: 'x-1', seq: MALFORMED_EVERY + 1, raw: { id: 'x-1', seq: MALFORMED_EVERY + 1, creditCode: simEnterprise(1).creditCode, name: '', divisionCode: '320102', kind: 'changed', version: 1, occurredAt: '2025-01-01T00:00:00Z' } };
    const q = plan(MALFORMED_EVERY, [broken], m);
    expect(q.quarantined[0]).to.include({ code: 'PROVINCE_RECORD_MALFORMED' });
    const legacy = p.changes.filter((c) => c.warning);
    expect(legacy.length).to.be.greaterThan(0);
    for (const c of legacy) expect(c.warning).to.match(/legacy irregularity/);
  });

  it('refuses a page whose records cannot be identified', function () {
    expect(() => readPage({ cursor: '', next: '1', more: true, records: 'x' })).to.throw(/list of records/);
    expect(() => readPage({ cursor: '', next: '1', more: true, records: [{ id: 'a' }] })).to.throw(/id and sequence/);
    expect(() => readPage({ cursor: '', next: '2', more: true, records: [{ id: 'a', seq: 1 }, { id: 'b', seq: 1 }] })).to.throw(/given to records/);
    expect(() => readPage(null)).to.throw(/not a JSON object/);
    expect(readPage({ cursor: '', next: '1', more: false, records: [{ id: 'a', seq: 1 }] }).records).to.have.length(1);
  });
});

describe('provincial status changes: credit codes', function () {
  it('accepts valid codes, warns of legacy check characters and quarantines what is no code', function () {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (i) => {
        const e = simEnterprise(i);
        const v = creditCodeVerdict(e.creditCode);
        expect(v.ok).to.equal(true);
        expect(v.ok && v.warning !== null).to.equal(e.legacy);
      }),
      { numRuns: 300 },
    );
    expect(creditCodeVerdict('MALFORMED-1').ok).to.equal(false);
    expect(creditCodeVerdict(42).ok).to.equal(false);
    expect(creditCodeVerdict('91320102ABCDEFGHIJ').ok).to.equal(false);
  });
});

describe('provincial status changes: subscriptions', function () {
  it('covers a district, the districts of a city and everything in a province', function () {
    expect(areaPrefix('320102')).to.equal('320102');
    expect(areaPrefix('320100')).to.equal('3201');
    expect(areaPrefix('320000')).to.equal('32');
    expect(inArea('320100', '320104')).to.equal(true);
    expect(inArea('320100', '320205')).to.equal(false);
    expect(inArea('320000', '320205')).to.equal(true);
    const subs = [{ department: 'a', areas: ['320102'] }, { department: 'b', areas: ['320100'], kinds: ['revoked' as const] }];
    expect(subscribersOf(subs, { divisionCode: '320102', kind: 'changed' }).map((s) => s.department)).to.deep.equal(['a']);
    expect(subscribersOf(subs, { divisionCode: '320104', kind: 'revoked' }).map((s) => s.department)).to.deep.equal(['b']);
    expect(routingKey('320102', 'fire', 'revoked')).to.equal('320102.fire.revoked');
  });

  it('generates the same feed from the same seed', function () {
    expect(simRecord(FEED, 1234)).to.deep.equal(simRecord({ ...FEED }, 1234));
    expect(simRecord(FEED, 1234)).to.not.deep.equal(simRecord({ ...FEED, seed: 8 }, 1234));
  });
});
