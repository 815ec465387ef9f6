// Unit tests of the audit chain without a store: the walker names altered, inserted and deleted events; checkpoints and bundles are checked.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS, linkHash, walkChain, type ChainRow } from '../../src/bus/audit.js';
import { verifyBundle, type BundleEvent, type BundleHeader, type BundleKey } from '../../src/bus/audit-bundle.js';
import { checkCheckpoints, registryKeys, signCheckpoint, type StoredCheckpoint } from '../../src/bus/checkpoints.js';
import { KeyRegistry } from '../../src/trust/keys.js';

/** A sealed chain of n events, linked as the sealer links them. */
function chain(n: number): ChainRow[] {
  const rows: ChainRow[] = [];
  let prev = GENESIS;
  for (let pos = 1; pos <= n; pos++) {
    const e = { seq: pos * 10, case_id: `c${pos % 3}`, at: 1_700_000_000_000 + pos, actor: '{"kind":"user","id":"sec"}', action: 'case.submitted', data: JSON.stringify({ n: pos }) };
    prev = linkHash(prev, pos, e);
    rows.push({ ...e, chain_pos: pos, hash: prev });
  }
  return rows;
}

/** Renumbers rows from `from` on by `by`, as someone hiding a change would. */
const shift = (rows: ChainRow[], from: number, by: number) => rows.map((r) => (r.chain_pos >= from ? { ...r, chain_pos: r.chain_pos + by } : r));

describe('audit chain walker', function () {
  it('accepts an intact chain and ends at its head', function () {
    const rows = chain(10);
    const w = walkChain(rows, { pos: 10, hash: rows[9]!.hash });
    expect(w.problem).to.equal(undefined);
    expect(w.checked).to.equal(10);
    expect(w.last).to.deep.equal({ pos: 10, hash: rows[9]!.hash });
  });

  it('names an altered event by position and seq', function () {
    const rows = chain(10);
    rows[4] = { ...rows[4]!, data: '{"n":999}' };
    expect(walkChain(rows).problem).to.include({ kind: 'altered', position: 5, seq: 50 });
  });

  it('names the last event when it was altered', function () {
    const rows = chain(4);
    rows[3] = { ...rows[3]!, action: 'case.refused' };
    expect(walkChain(rows).problem).to.include({ kind: 'altered', position: 4, seq: 40 });
  });

  it('names an inserted event whose link to its predecessor was forged', function () {
    const rows = chain(10);
    const forged = { seq: 999, case_id: null, at: 0, actor: '{"kind":"user","id":"mallory"}', action: 'case.accepted', data: '{}' };
    const withForged = [...rows.slice(0, 3), { ...forged, chain_pos: 4, hash: linkHash(rows[2]!.hash, 4, forged) }, ...shift(rows.slice(3), 4, 1)];
    expect(walkChain(withForged).problem).to.include({ kind: 'inserted', position: 4, seq: 999 });
  });

  it('names an inserted event with a bad link', function () {
    const rows = chain(10);
    const forged = { seq: 998, case_id: null, at: 0, actor: '{}', action: 'x', data: '{}', chain_pos: 4, hash: 'f'.repeat(64) };
    expect(walkChain([...rows.slice(0, 3), forged, ...shift(rows.slice(3), 4, 1)]).problem).to.include({ kind: 'inserted', position: 4, seq: 998 });
  });

  it('names an event inserted at a position already taken', function () {
    const rows = chain(10);
    const forged = { seq: 997, case_id: null, at: 0, actor: '{}', action: 'x', data: '{}' };
    const dup = [...rows.slice(0, 3), { ...forged, chain_pos: 4, hash: linkHash(rows[2]!.hash, 4, forged) }, ...rows.slice(3)];
    expect(walkChain(dup).problem).to.include({ kind: 'inserted', position: 4, seq: 997 });
  });

  it('names a removed event by its position, renumbered or not', function () {
    const rows = chain(10);
    expect(walkChain([...rows.slice(0, 6), ...rows.slice(7)]).problem).to.include({ kind: 'deleted', position: 7 });
    // Renumbered to close the gap: the event after it no longer links.
    expect(walkChain([...rows.slice(0, 6), ...shift(rows.slice(7), 8, -1)]).problem).to.include({ kind: 'altered', position: 7, seq: 80 });
  });

  it('finds a tail cut short against the head', function () {
    const rows = chain(10);
    expect(walkChain(rows.slice(0, 8), { pos: 10, hash: rows[9]!.hash }).problem).to.include({ kind: 'deleted', position: 9 });
  });
});

describe('audit checkpoints', function () {
  let dir: string;
  let reg: KeyRegistry;
  let other: KeyRegistry;
  const rows = chain(20);
  const walked = walkChain(rows, undefined, new Set([10, 20]));

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'pag-cp-'));
    reg = new KeyRegistry(join(dir, 'a'), false);
    reg.generate('gateway', 'ES256');
    other = new KeyRegistry(join(dir, 'b'), false);
    other.generate('gateway', 'ES256');
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const sign = (pos: number, r = reg) => signCheckpoint(r, 'gw', { pos, hash: rows[pos - 1]!.hash });

  it('accepts checkpoints signed by the gateway key that match the recomputed chain', async function () {
    const r = await checkCheckpoints([await sign(10), await sign(20)], walked, registryKeys(reg));
    expect(r.problem).to.equal(undefined);
    expect(r).to.include({ checked: 2, skipped: 0 });
    expect(r.last!.pos).to.equal(20);
  });

  it('passes over checkpoints of a key the registry revoked since, and counts on the later ones', async function () {
    const r3 = new KeyRegistry(join(dir, 'c'), false);
    const old = r3.generate('gateway', 'ES256', { now: Date.now() - 60_000 });
    const first = await sign(10, r3);
    r3.revoke(old.kid);
    r3.generate('gateway', 'ES256');
    const r = await checkCheckpoints([first, await sign(20, r3)], walked, registryKeys(r3));
    expect(r.problem).to.equal(undefined);
    expect(r).to.include({ checked: 1, skipped: 1 });
    expect(r.last!.pos).to.equal(20);
  });

  it('refuses a forged signature', async function () {
    const cp = await sign(10);
    const [h, p, s] = cp.jws.split('.');
    const bad = { ...cp, jws: `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}` };
    const r = await checkCheckpoints([bad], walked, registryKeys(reg));
    expect(r.problem).to.include({ kind: 'checkpoint', position: 10 });
    expect(r.problem!.detail).to.match(/signature does not verify/);
  });

  it('refuses a signed payload changed after signing', async function () {
    const cp = await sign(10);
    const [h, , s] = cp.jws.split('.');
    const payload = Buffer.from(JSON.stringify({ pos: 10, hash: 'a'.repeat(64), at: new Date().toISOString(), kid: cp.kid, gateway: 'gw' })).toString('base64url');
    const r = await checkCheckpoints([{ ...cp, hash: 'a'.repeat(64), jws: `${h}.${payload}.${s}` }], walked, registryKeys(reg));
    expect(r.problem).to.include({ kind: 'checkpoint', position: 10 });
  });

  it('finds a chain that does not match a validly signed checkpoint (rewritten and recomputed)', async function () {
    const cp = await signCheckpoint(reg, 'gw', { pos: 10, hash: 'b'.repeat(64) });
    const r = await checkCheckpoints([cp], walked, registryKeys(reg));
    expect(r.problem).to.include({ kind: 'altered', position: 10 });
    expect(r.problem!.detail).to.match(/not the one signed/);
  });

  it('refuses a checkpoint signed with a key that is not the gateway key', async function () {
    const r = await checkCheckpoints([await sign(10, other)], walked, registryKeys(reg));
    expect(r.problem).to.include({ kind: 'checkpoint', position: 10 });
    expect(r.problem!.detail).to.match(/unknown key/);
  });

  it('finds a chain that ends before a signed checkpoint', async function () {
    const short = walkChain(rows.slice(0, 15), undefined, new Set([20]));
    const r = await checkCheckpoints([await sign(20)], short, registryKeys(reg));
    expect(r.problem).to.include({ kind: 'deleted', position: 16 });
  });

  describe('offline bundles', function () {
    const keyLine = (r: KeyRegistry): BundleKey => {
      const k = r.list('gateway')[0]!;
      return { type: 'key', kid: k.kid, owner: k.owner, alg: k.alg, status: k.status, notBefore: k.notBefore, notAfter: k.notAfter, spki: readFileSync(join(r.dir, k.publicKey), 'utf8') };
    };
    const eventLine = (r: ChainRow): BundleEvent => ({ type: 'event', pos: r.chain_pos, seq: r.seq, caseId: r.case_id, at: r.at, actor: r.actor, action: r.action, data: r.data, hash: r.hash });
    function write(name: string, cps: StoredCheckpoint[], events: ChainRow[], key = keyLine(reg)): string {
      const header: BundleHeader = { type: 'pag-audit-bundle', version: 1, exportedAt: new Date().toISOString(), gateway: 'gw', head: { pos: cps.at(-1)?.pos ?? 0, hash: cps.at(-1)?.hash ?? GENESIS }, events: events.length, checkpoints: cps.length };
      const file = join(dir, name);
      writeFileSync(file, [header, key, ...cps.map((c) => ({ type: 'checkpoint', ...c })), ...events.map(eventLine)].map((o) => JSON.stringify(o)).join('\n') + '\n');
      return file;
    }

    it('verifies a whole bundle and reports the keys with their fingerprints', async function () {
      const r = await verifyBundle(write('good.jsonl', [await sign(10), await sign(20)], rows));
      expect(r.ok, JSON.stringify(r.problem)).to.equal(true);
      expect(r).to.include({ checked: 20, checkpoints: 2 });
      expect(r.keys[0]!.fingerprint).to.match(/^[0-9a-f]{64}$/);
    });

    it('finds a tail cut after the last checkpoint as uncovered, and one cut before it as deleted', async function () {
      const cps = [await sign(10), await sign(20)];
      const uncovered = await verifyBundle(write('tail.jsonl', cps.slice(0, 1), rows));
      expect(uncovered.problem).to.include({ kind: 'checkpoint', position: 11 });
      const cut = await verifyBundle(write('cut.jsonl', cps, rows.slice(0, 17)));
      expect(cut.problem).to.include({ kind: 'deleted', position: 18 });
    });

    it('fails a checkpoint whose bundled key is marked revoked (the bundle cannot be trusted to say so)', async function () {
      const r = await verifyBundle(write('revoked.jsonl', [await sign(10), await sign(20)], rows, { ...keyLine(reg), status: 'revoked' }));
      expect(r.problem).to.include({ kind: 'checkpoint', position: 10 });
      expect(r.problem!.detail).to.match(/key revoked/);
    });

    it('refuses a bundle whose key was swapped for another', async function () {
      const r = await verifyBundle(write('swapped.jsonl', [await sign(10), await sign(20)], rows, { ...keyLine(other), kid: keyLine(reg).kid }));
      expect(r.problem).to.include({ kind: 'checkpoint', position: 10 });
    });

    it('refuses a key not among the trusted ones when keys are pinned', async function () {
      const file = write('pinned.jsonl', [await sign(10), await sign(20)], rows);
      expect((await verifyBundle(file, { trusted: [keyLine(reg).spki] })).ok).to.equal(true);
      const r = await verifyBundle(file, { trusted: [keyLine(other).spki] });
      expect(r.problem!.detail).to.match(/not one of the trusted keys/);
    });

    it('names an altered event in a bundle', async function () {
      const altered = rows.map((r) => (r.chain_pos === 12 ? { ...r, data: '{"n":-1}' } : r));
      const r = await verifyBundle(write('altered.jsonl', [await sign(10), await sign(20)], altered));
      expect(r.problem).to.include({ kind: 'altered', position: 12, seq: 120 });
    });

    it('refuses a file that is not a bundle', async function () {
      const file = join(dir, 'junk.jsonl');
      writeFileSync(file, '{"hello":1}\n');
      try {
        await verifyBundle(file);
        expect.fail('no error');
      } catch (e) {
        expect((e as { code?: string }).code).to.equal('AUDIT_BUNDLE_INVALID');
      }
    });
  });
});
