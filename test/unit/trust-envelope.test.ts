// Key registry and signed JSON messages: each algorithm, rotation with overlap, revocation at once, and every refusal code.
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, CompactSign, createLocalJWKSet, exportJWK, importSPKI } from 'jose';
import { GatewayError } from '../../src/domain/errors.js';
import { messageHash, signEnvelope, verifyEnvelope } from '../../src/trust/envelope.js';
import { KeyRegistry, type KeyAlg } from '../../src/trust/keys.js';

const T0 = Date.parse('2026-03-02T02:00:00Z');
const DAY = 86_400_000;

/** The GatewayError that an operation (a promise, or a function that may throw at once) ends with. */
async function refusal(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof GatewayError) return { code: e.code, details: e.details };
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('signed messages and the key registry', function () {
  let dir: string;
  let reg: KeyRegistry;
  const opts = (now = T0) => ({ receiver: 'xuanwu-gateway', windowSeconds: 300, now });
  const envelope = (over: Record<string, unknown> = {}) => ({ messageId: `m-${Math.random()}`, sender: 'xw-fire', receiver: 'xuanwu-gateway', caseId: 'c-1', kind: 'opinion', body: { decision: 'approve' }, ...over });

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'pag-keys-'));
    reg = new KeyRegistry(dir, false);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const alg of ['RS256', 'ES256', 'EdDSA'] as KeyAlg[]) {
    it(`signs and verifies with ${alg}, naming the kid; the signature is standard JWS any JOSE library checks`, async function () {
      const k = reg.generate('xw-fire', alg, { now: T0 });
      const jws = await signEnvelope(reg, 'xw-fire', envelope(), T0);
      const v = await verifyEnvelope(reg, jws, opts(T0 + 1000));
      expect(v).to.include({ kid: k.kid, alg, hash: messageHash(jws) });
      expect(v.envelope).to.include({ sender: 'xw-fire', receiver: 'xuanwu-gateway', caseId: 'c-1', protocolVersion: '1.0', issuedAt: new Date(T0).toISOString() });
      // Independently: the public key file alone, through a JWK set, verifies the same bytes with the header's alg.
      const pub = await importSPKI(readFileSync(join(dir, k.publicKey), 'utf8'), alg);
      const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pub)), kid: k.kid, alg }] });
      const { protectedHeader } = await compactVerify(jws, jwks);
      expect(protectedHeader).to.deep.equal({ alg, kid: k.kid, typ: 'pag-message+jws' });
    });
  }

  it('refuses unsigned, tampered, foreign-key, misaddressed and expired messages, each with its own code', async function () {
    reg.generate('xw-fire', 'ES256', { now: T0 - DAY });
    reg.generate('xw-police', 'ES256', { now: T0 - DAY });
    expect((await refusal(verifyEnvelope(reg, '', opts()))).code).to.equal('MESSAGE_UNSIGNED');
    expect((await refusal(verifyEnvelope(reg, 'not.a.jws', opts()))).code).to.equal('SIGNATURE_INVALID');
    const good = await signEnvelope(reg, 'xw-fire', envelope(), T0);
    const [h, p, s] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), body: { decision: 'refuse' } })).toString('base64url');
    expect(await refusal(verifyEnvelope(reg, `${h}.${forged}.${s}`, opts()))).to.deep.include({ code: 'SIGNATURE_INVALID' });
    // Police signs but claims to be the fire brigade: the kid belongs to another sender.
    const impostor = await signEnvelope(reg, 'xw-police', envelope({ sender: 'xw-fire' }), T0);
    expect(await refusal(verifyEnvelope(reg, impostor, opts()))).to.deep.include({ code: 'KEY_NOT_VALID', details: { reason: 'key of another sender', kid: reg.list('xw-police')[0]!.kid } });
    const elsewhere = await signEnvelope(reg, 'xw-fire', envelope({ receiver: 'qinhuai-gateway' }), T0);
    expect((await refusal(verifyEnvelope(reg, elsewhere, opts()))).code).to.equal('MESSAGE_MISADDRESSED');
    expect((await refusal(verifyEnvelope(reg, good, opts(T0 + 301_000)))).code).to.equal('MESSAGE_EXPIRED');
    expect((await refusal(verifyEnvelope(reg, good, opts(T0 - 301_000)))).code).to.equal('MESSAGE_EXPIRED');
    // A well-formed JWS with an algorithm outside the list (HS256 with a guessed secret) is refused before any key is used.
    const hs = await new CompactSign(new TextEncoder().encode(JSON.stringify(envelope()))).setProtectedHeader({ alg: 'HS256', kid: 'x', typ: 'pag-message+jws' }).sign(new Uint8Array(32));
    expect(await refusal(verifyEnvelope(reg, hs, opts()))).to.deep.include({ code: 'SIGNATURE_INVALID' });
  });

  it('rotates without downtime: the old key verifies until the overlap ends, the new one signs at once', async function () {
    const old = reg.generate('gateway', 'ES256', { now: T0 });
    const before = await signEnvelope(reg, 'gateway', envelope({ sender: 'gateway' }), T0);
    const { added, retiring } = reg.rotate('gateway', 'EdDSA', { overlapDays: 2, now: T0 + DAY });
    expect(retiring.map((k) => k.kid)).to.deep.equal([old.kid]);
    expect(reg.signingKey('gateway', T0 + DAY).entry.kid).to.equal(added.kid);
    const after = await signEnvelope(reg, 'gateway', envelope({ sender: 'gateway', issuedAt: new Date(T0 + DAY).toISOString() }), T0 + DAY);
    expect((await verifyEnvelope(reg, after, opts(T0 + DAY))).kid).to.equal(added.kid);
    // A message signed just before the rotation, checked during the overlap (window widened to reach back a day).
    expect((await verifyEnvelope(reg, before, { ...opts(T0 + 2 * DAY), windowSeconds: 3 * 86_400 })).kid).to.equal(old.kid);
    expect(await refusal(verifyEnvelope(reg, before, { ...opts(T0 + 3 * DAY + 1000), windowSeconds: 5 * 86_400 }))).to.deep.include({ code: 'KEY_NOT_VALID', details: { reason: 'key expired', kid: old.kid } });
  });

  it('revokes at once, also for another registry reading the same folder', async function () {
    const k = reg.generate('xw-fire', 'RS256', { now: T0 });
    const other = new KeyRegistry(dir, false);
    const jws = await signEnvelope(reg, 'xw-fire', envelope(), T0);
    expect((await verifyEnvelope(other, jws, opts())).kid).to.equal(k.kid);
    reg.revoke(k.kid, T0);
    expect(await refusal(verifyEnvelope(other, jws, opts()))).to.deep.include({ code: 'KEY_NOT_VALID', details: { reason: 'key revoked', kid: k.kid } });
    expect((await refusal(() => signEnvelope(reg, 'xw-fire', envelope(), T0))).code).to.equal('KEY_NOT_VALID');
  });

  it('never signs with nor accepts a demo key when the configuration says production', async function () {
    reg.generate('gateway', 'ES256', { now: T0, demo: true });
    const dept = reg.generate('xw-fire', 'ES256', { now: T0, demo: true });
    const jws = await signEnvelope(reg, 'xw-fire', envelope(), T0);
    const prod = new KeyRegistry(dir, true);
    expect(await refusal(verifyEnvelope(prod, jws, opts()))).to.deep.include({ code: 'KEY_NOT_VALID', details: { reason: 'demo key in production', kid: dept.kid } });
    expect((await refusal(() => signEnvelope(prod, 'gateway', envelope({ sender: 'gateway' }), T0))).details.reason).to.match(/demo keys are not used in production/);
  });

  it('imports a department public key as PKCS#1 (RSA, through node-rsa) or SPKI, refusing short RSA keys and other curves', async function () {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const e = reg.import('xw-health', pkcs1, { kid: 'health-2026', now: T0 });
    expect(e).to.include({ kid: 'health-2026', alg: 'RS256', owner: 'xw-health', status: 'active' });
    expect(readFileSync(join(dir, e.publicKey), 'utf8')).to.match(/^-----BEGIN PUBLIC KEY-----/);
    const ed = generateKeyPairSync('ed25519');
    expect(reg.import('xw-police', ed.publicKey.export({ type: 'spki', format: 'pem' }) as string, { now: T0 }).alg).to.equal('EdDSA');
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(() => reg.import('xw-police', short)).to.throw(/1024 bits is too short/);
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(() => reg.import('xw-police', k1)).to.throw(/unsupported key type ec secp256k1/);
    expect(() => reg.import('xw-police', pkcs1, { kid: 'health-2026' })).to.throw(/already registered/);
  });
});
