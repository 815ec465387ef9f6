// Unit tests of the login guard: IP rate limit, username lockout and its expiry, success reset, bounded memory.
import { expect } from 'chai';
import { GatewayError } from '../../src/domain/errors.js';
import { LoginGuard } from '../../src/trust/login-guard.js';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

function codeOf(f: () => void): string | null {
  try {
    f();
    return null;
  } catch (e) {
    expect(e).to.be.instanceOf(GatewayError);
    return (e as GatewayError).code;
  }
}

/** One failed login as the service does it: check, then record the failure. */
function fail(g: LoginGuard, user: string, ip: string, now: number): void {
  g.check(user, ip, now);
  g.recordFailure(user, ip, now);
}

describe('trust/login-guard', () => {
  it('locks a username after 5 consecutive failures, with LOGIN_FAILED', () => {
    const g = new LoginGuard();
    for (let i = 0; i < 4; i++) fail(g, 'alice', `10.0.0.${i}`, T0 + i);
    expect(g.isLocked('alice', T0 + 4)).to.equal(false);
    fail(g, 'alice', '10.0.0.9', T0 + 4);
    expect(g.isLocked('alice', T0 + 5)).to.equal(true);
    // Refused with the same code as a wrong factor, from any IP, whatever the factors would have been.
    expect(codeOf(() => g.check('alice', '192.0.2.1', T0 + 6))).to.equal('LOGIN_FAILED');
    // Other users are unaffected.
    expect(codeOf(() => g.check('bob', '192.0.2.1', T0 + 6))).to.equal(null);
  });

  it('unlocks after 15 minutes, with a fresh failure budget', () => {
    const g = new LoginGuard();
    for (let i = 0; i < 5; i++) fail(g, 'alice', '10.0.0.1', T0 + i * 1000);
    const lockedAt = T0 + 4000;
    expect(g.isLocked('alice', lockedAt + 15 * MIN - 1)).to.equal(true);
    // Failures reported while locked do not extend the lock.
    g.recordFailure('alice', '10.0.0.1', lockedAt + 10 * MIN);
    expect(g.isLocked('alice', lockedAt + 15 * MIN)).to.equal(false);
    const after = lockedAt + 15 * MIN;
    expect(codeOf(() => g.check('alice', '10.0.0.1', after))).to.equal(null);
    g.recordFailure('alice', '10.0.0.1', after);
    expect(g.isLocked('alice', after + 1)).to.equal(false);
  });

  it('a success resets the failure streak', () => {
    const g = new LoginGuard();
    for (let i = 0; i < 4; i++) fail(g, 'alice', '10.0.0.1', T0 + i);
    g.check('alice', '10.0.0.1', T0 + 10);
    g.recordSuccess('alice', '10.0.0.1', T0 + 10);
    for (let i = 0; i < 4; i++) fail(g, 'alice', '10.0.0.2', T0 + 20 + i);
    expect(g.isLocked('alice', T0 + 30)).to.equal(false);
    fail(g, 'alice', '10.0.0.2', T0 + 31);
    expect(g.isLocked('alice', T0 + 32)).to.equal(true);
  });

  it('counts usernames case-insensitively so variants cannot dodge the lock', () => {
    const g = new LoginGuard();
    for (const u of ['alice', 'Alice', 'ALICE', 'aLice', 'alicE']) fail(g, u, '10.0.0.1', T0);
    expect(g.isLocked('alice', T0 + 1)).to.equal(true);
  });

  it('forgets a failure streak after 15 quiet minutes', () => {
    const g = new LoginGuard();
    for (let i = 0; i < 4; i++) fail(g, 'alice', '10.0.0.1', T0 + i);
    fail(g, 'alice', '10.0.0.1', T0 + 3 + 15 * MIN);
    expect(g.isLocked('alice', T0 + 4 + 15 * MIN)).to.equal(false);
  });

  it('rate-limits an IP to 10 attempts per minute, with retry seconds', () => {
    const g = new LoginGuard();
    for (let i = 0; i < 10; i++) g.check(`user${i}`, '203.0.113.7', T0 + i * 1000);
    let err: unknown;
    try {
      g.check('someone', '203.0.113.7', T0 + 15_000);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(GatewayError);
    expect((err as GatewayError).code).to.equal('LOGIN_RATE_LIMITED');
    expect((err as GatewayError).details).to.deep.equal({ seconds: 45 }); // oldest attempt leaves the window at T0+60 s
    expect((err as GatewayError).message).to.contain('45 seconds');
    // Another IP is unaffected; the limited IP is free again once its oldest attempt is a minute old.
    expect(codeOf(() => g.check('someone', '203.0.113.8', T0 + 15_000))).to.equal(null);
    expect(codeOf(() => g.check('someone', '203.0.113.7', T0 + 59_999))).to.equal('LOGIN_RATE_LIMITED');
    expect(codeOf(() => g.check('someone', '203.0.113.7', T0 + 60_000))).to.equal(null);
    expect(codeOf(() => g.check('someone', '203.0.113.7', T0 + 60_001))).to.equal('LOGIN_RATE_LIMITED');
  });

  it('applies the IP limit before revealing anything about the username', () => {
    const g = new LoginGuard();
    for (let i = 0; i < 5; i++) fail(g, 'alice', '10.0.0.1', T0 + i);
    for (let i = 5; i < 10; i++) g.check('x', '10.0.0.1', T0 + i);
    expect(codeOf(() => g.check('alice', '10.0.0.1', T0 + 20))).to.equal('LOGIN_RATE_LIMITED');
  });

  it('groups IPv6 clients by /64 and IPv4-mapped addresses with IPv4', () => {
    const g = new LoginGuard({ maxAttemptsPerIp: 2 });
    g.check('a', '2001:db8:1:2::1', T0);
    g.check('a', '2001:db8:1:2:ffff:0:0:9', T0);
    expect(codeOf(() => g.check('a', '2001:0db8:0001:0002::abcd', T0))).to.equal('LOGIN_RATE_LIMITED');
    expect(codeOf(() => g.check('a', '2001:db8:1:3::1', T0))).to.equal(null);
    g.check('a', '198.51.100.4', T0);
    g.check('a', '::ffff:198.51.100.4', T0);
    expect(codeOf(() => g.check('a', '198.51.100.4', T0))).to.equal('LOGIN_RATE_LIMITED');
  });

  it('keeps memory bounded, evicting unlocked entries before locked ones', () => {
    const g = new LoginGuard({ maxEntries: 100, maxAttemptsPerIp: 1_000_000 });
    for (let i = 0; i < 5; i++) fail(g, 'victim', '10.0.0.1', T0);
    for (let i = 0; i < 1000; i++) {
      g.check(`u${i}`, `10.1.${i >> 8}.${i & 255}`, T0 + 1);
      g.recordFailure(`u${i}`, `10.1.${i >> 8}.${i & 255}`, T0 + 1);
    }
    expect(g.size.users).to.be.at.most(100);
    expect(g.size.ips).to.be.at.most(100);
    expect(g.isLocked('victim', T0 + 2)).to.equal(true);
    // Once expired, old entries are pruned wholesale when the cap is next reached.
    const later = T0 + 60 * MIN;
    for (let i = 0; i < 20; i++) g.recordFailure(`late${i}`, '10.2.0.1', later);
    expect(g.size.users).to.be.at.most(20);
    expect(g.isLocked('victim', later)).to.equal(false);
  });
});
