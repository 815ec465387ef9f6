// Unit tests of scrypt password hashing: round trip, wrong password, malformed stored values, the dummy hash.
import { expect } from 'chai';
import { DUMMY_HASH, hashPassword, verifyPassword } from '../../src/trust/passwords.js';

describe('trust/passwords', function () {
  // scrypt at N=2^15 takes tens of milliseconds per call.
  this.timeout(20_000);

  it('hashes in the self-describing format with the current parameters', async () => {
    const h = await hashPassword('correct horse battery staple');
    expect(h).to.match(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const h = await hashPassword('correct horse battery staple');
    expect(await verifyPassword('correct horse battery staple', h)).to.equal(true);
    expect(await verifyPassword('correct horse battery stapl', h)).to.equal(false);
    expect(await verifyPassword('', h)).to.equal(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).to.not.equal(b);
    expect(await verifyPassword('same', a)).to.equal(true);
    expect(await verifyPassword('same', b)).to.equal(true);
  });

  it('verifies hashes made with other (e.g. older, cheaper) parameters', async () => {
    // Parameters live in the string, so raising them later keeps old hashes valid.
    const h = (await hashPassword('pw')).split('$');
    expect(h.slice(1, 4)).to.deep.equal(['32768', '8', '1']);
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.from('0123456789abcdef');
    const key = scryptSync('pw', salt, 32, { N: 1024, r: 8, p: 1 });
    const old = `scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await verifyPassword('pw', old)).to.equal(true);
    expect(await verifyPassword('px', old)).to.equal(false);
  });

  it('returns false, never throws, on malformed stored values', async () => {
    const good = await hashPassword('pw');
    const [, n, r, p, salt, hash] = good.split('$');
    const bad = [
      '',
      'plaintext',
      'bcrypt$10$abc',
      `scrypt$${n}$${r}$${p}$${salt}`,
      `scrypt$${n}$${r}$${p}$${salt}$${hash}$extra`,
      `argon2$${n}$${r}$${p}$${salt}$${hash}`,
      `scrypt$1000$${r}$${p}$${salt}$${hash}`, // N not a power of two
      `scrypt$1$${r}$${p}$${salt}$${hash}`,
      `scrypt$${2 ** 30}$${r}$${p}$${salt}$${hash}`, // absurd cost
      `scrypt$${n}$0$${p}$${salt}$${hash}`,
      `scrypt$${n}$${r}$-1$${salt}$${hash}`,
      `scrypt$${n}$x$${p}$${salt}$${hash}`,
      `scrypt$${n}$${r}$${p}$not*base64$${hash}`,
      `scrypt$${n}$${r}$${p}$${salt}$`,
      `scrypt$${n}$${r}$${p}$${salt}$AAAA`, // hash too short
      undefined as unknown as string,
    ];
    for (const s of bad) expect(await verifyPassword('pw', s), String(s)).to.equal(false);
  });

  it('DUMMY_HASH is well formed, uses the current parameters, and matches nothing obvious', async () => {
    const fresh = (await hashPassword('x')).split('$');
    const dummy = DUMMY_HASH.split('$');
    expect(dummy.slice(0, 4)).to.deep.equal(fresh.slice(0, 4));
    expect(Buffer.from(dummy[4]!, 'base64')).to.have.length(16);
    expect(Buffer.from(dummy[5]!, 'base64')).to.have.length(32);
    // Resolves false after a full scrypt computation (not an early return on a parse error).
    for (const pw of ['', 'password', 'admin']) expect(await verifyPassword(pw, DUMMY_HASH)).to.equal(false);
  });
});
