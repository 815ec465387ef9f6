// Unit tests of access tokens: round trip, expiry, audience/issuer, tampering, alg none; one opaque error for all.
import { expect } from 'chai';
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { GatewayError } from '../../src/domain/errors.js';
import { TokenService, type Principal } from '../../src/trust/tokens.js';

const OPTS = { issuer: 'pag-test', audience: 'pag-api', ttlSeconds: 600 };
const ALICE: Principal = { sub: 'u-1', username: 'alice', role: 'reviewer', departmentId: 'market', amr: ['pwd', 'otp'] };

async function expectUnauthenticated(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(GatewayError);
    const g = e as GatewayError;
    expect(g.code).to.equal('UNAUTHENTICATED');
    expect(g.details).to.deep.equal({}); // says nothing about why
    return;
  }
  expect.fail('expected UNAUTHENTICATED');
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('trust/tokens', () => {
  let svc: TokenService;
  before(async () => {
    svc = await TokenService.create(OPTS);
  });

  it('round-trips a principal with the standard claims', async () => {
    const t = await svc.issue(ALICE);
    expect(await svc.verify(t)).to.deep.equal(ALICE);
    expect(decodeProtectedHeader(t)).to.deep.equal({ alg: 'HS256', typ: 'JWT' });
    const c = decodeJwt(t);
    expect(c).to.include({ iss: 'pag-test', aud: 'pag-api', sub: 'u-1', username: 'alice', role: 'reviewer', dept: 'market' });
    expect(c.amr).to.deep.equal(['pwd', 'otp']);
    expect(c.exp! - c.iat!).to.equal(600);
    expect(Math.abs(c.iat! - Date.now() / 1000)).to.be.lessThan(5);
    expect(c.jti).to.be.a('string').with.length.greaterThan(0);
    expect(decodeJwt(await svc.issue(ALICE)).jti).to.not.equal(c.jti);
  });

  it('omits dept for principals without a department', async () => {
    const admin: Principal = { sub: 'u-2', username: 'root', role: 'admin', amr: ['pwd', 'otp'] };
    const t = await svc.issue(admin);
    expect(decodeJwt(t)).to.not.have.property('dept');
    expect(await svc.verify(t)).to.deep.equal(admin);
  });

  it('refuses an expired token', async () => {
    const t = await svc.issue(ALICE);
    expect((await svc.verify(t, Date.now() + 599_000)).username).to.equal('alice');
    await expectUnauthenticated(svc.verify(t, Date.now() + 601_000));
  });

  it('refuses a token for another audience or from another issuer, even with the same key', async () => {
    const key = new Uint8Array(32).fill(7);
    const mine = await TokenService.create({ ...OPTS, secret: key });
    const otherAud = await TokenService.create({ ...OPTS, audience: 'other-api', secret: key });
    const otherIss = await TokenService.create({ ...OPTS, issuer: 'someone-else', secret: key });
    await expectUnauthenticated(mine.verify(await otherAud.issue(ALICE)));
    await expectUnauthenticated(mine.verify(await otherIss.issue(ALICE)));
    expect(await mine.verify(await mine.issue(ALICE))).to.deep.equal(ALICE);
  });

  it('refuses a token signed with another key (e.g. from before a restart)', async () => {
    const other = await TokenService.create(OPTS);
    await expectUnauthenticated(svc.verify(await other.issue(ALICE)));
  });

  it('refuses a tampered token', async () => {
    const t = await svc.issue(ALICE);
    const [h, , s] = t.split('.');
    const payload = { ...decodeJwt(t), role: 'admin' };
    await expectUnauthenticated(svc.verify(`${h}.${b64url(payload)}.${s}`));
    // Flip one signature character.
    const sig = s!;
    const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    await expectUnauthenticated(svc.verify(`${h}.${t.split('.')[1]}.${flipped}`));
  });

  it('refuses alg none tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: OPTS.issuer, aud: OPTS.audience, sub: 'u-1', iat: now, exp: now + 60, jti: 'x', username: 'alice', role: 'admin', amr: ['pwd', 'otp'] };
    await expectUnauthenticated(svc.verify(`${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`));
    const unsecured = new UnsecuredJWT({ username: 'alice', role: 'admin', amr: [] })
      .setIssuer(OPTS.issuer).setAudience(OPTS.audience).setSubject('u-1').setIssuedAt().setExpirationTime('1m').setJti('y').encode();
    await expectUnauthenticated(svc.verify(unsecured));
  });

  it('refuses validly signed tokens with missing or ill-typed claims', async () => {
    const key = new Uint8Array(32).fill(9);
    const mine = await TokenService.create({ ...OPTS, secret: key });
    const sign = (claims: Record<string, unknown>, withJti = true) => {
      let j = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(OPTS.issuer).setAudience(OPTS.audience).setSubject('u-1').setIssuedAt().setExpirationTime('1m');
      if (withJti) j = j.setJti('z');
      return j.sign(key);
    };
    const ok = { username: 'alice', role: 'registrar', amr: ['pwd'] };
    expect((await mine.verify(await sign(ok))).role).to.equal('registrar');
    await expectUnauthenticated(mine.verify(await sign(ok, false)));
    await expectUnauthenticated(mine.verify(await sign({ ...ok, role: 'god' })));
    await expectUnauthenticated(mine.verify(await sign({ ...ok, username: 42 })));
    await expectUnauthenticated(mine.verify(await sign({ ...ok, amr: 'pwd' })));
    await expectUnauthenticated(mine.verify(await sign({ ...ok, dept: 7 })));
  });

  it('refuses garbage', async () => {
    for (const t of ['', 'abc', 'a.b.c', 'a.b', '...']) await expectUnauthenticated(svc.verify(t));
  });

  it('rejects short secrets and bad options at creation', async () => {
    for (const bad of [{ ...OPTS, secret: new Uint8Array(16) }, { ...OPTS, ttlSeconds: 0 }, { ...OPTS, audience: '' }]) {
      let threw = false;
      try {
        await TokenService.create(bad);
      } catch {
        threw = true;
      }
      expect(threw, JSON.stringify(bad)).to.equal(true);
    }
  });
});
