// Unit tests of TOTP: secret shape, provisioning URI, window of ±1 step, replay refusal; fixed times, no sleeping.
import { expect } from 'chai';
import { currentTotp, newTotpSecret, totpStep, totpUri, verifyTotp } from '../../src/trust/totp.js';

// RFC 6238 appendix B test secret ("12345678901234567890" in base32).
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const T0 = 1_700_000_010_000; // 10 s into a 30 s step
const STEP = Math.floor(T0 / 30_000);

describe('trust/totp', () => {
  it('matches the RFC 6238 SHA1 vectors (last 6 digits)', () => {
    expect(currentTotp(RFC_SECRET, 59_000)).to.equal('287082');
    expect(currentTotp(RFC_SECRET, 1_111_111_109_000)).to.equal('081804');
    expect(currentTotp(RFC_SECRET, 1_234_567_890_000)).to.equal('005924');
  });

  it('makes random 20-byte base32 secrets', () => {
    const a = newTotpSecret();
    const b = newTotpSecret();
    expect(a).to.match(/^[A-Z2-7]{32}$/); // 20 bytes = 160 bits = 32 base32 characters
    expect(a).to.not.equal(b);
  });

  it('builds an otpauth:// URI with issuer, label, SHA1, 6 digits and 30 s', () => {
    const secret = newTotpSecret();
    const u = new URL(totpUri('Approval Gateway', 'alice', secret));
    expect(u.protocol).to.equal('otpauth:');
    expect(u.host).to.equal('totp');
    expect(decodeURIComponent(u.pathname)).to.equal('/Approval Gateway:alice');
    expect(u.searchParams.get('issuer')).to.equal('Approval Gateway');
    expect(u.searchParams.get('secret')).to.equal(secret);
    expect(u.searchParams.get('algorithm')).to.equal('SHA1');
    expect(u.searchParams.get('digits')).to.equal('6');
    expect(u.searchParams.get('period')).to.equal('30');
  });

  it('accepts the current code and reports its step', () => {
    const s = newTotpSecret();
    expect(totpStep(T0)).to.equal(STEP);
    expect(verifyTotp(s, currentTotp(s, T0), null, T0)).to.deep.equal({ ok: true, step: STEP });
  });

  it('accepts codes one step early or late, with their own step', () => {
    const s = newTotpSecret();
    expect(verifyTotp(s, currentTotp(s, T0 - 30_000), null, T0)).to.deep.equal({ ok: true, step: STEP - 1 });
    expect(verifyTotp(s, currentTotp(s, T0 + 30_000), null, T0)).to.deep.equal({ ok: true, step: STEP + 1 });
  });

  it('refuses codes two steps early or late', () => {
    const s = RFC_SECRET;
    const near = [-1, 0, 1].map((d) => currentTotp(s, T0 + d * 30_000));
    for (const d of [-2, 2]) {
      const code = currentTotp(s, T0 + d * 30_000);
      // Guard against a (one-in-a-million) collision with a code inside the window making the test meaningless.
      expect(near).to.not.include(code);
      expect(verifyTotp(s, code, null, T0)).to.deep.equal({ ok: false });
    }
  });

  it('refuses a replay of the step already used, and any older step', () => {
    const s = newTotpSecret();
    const code = currentTotp(s, T0);
    const first = verifyTotp(s, code, null, T0);
    expect(first).to.deep.equal({ ok: true, step: STEP });
    expect(verifyTotp(s, code, STEP, T0 + 5_000)).to.deep.equal({ ok: false });
    expect(verifyTotp(s, currentTotp(s, T0 - 30_000), STEP, T0)).to.deep.equal({ ok: false });
    // The next step's code is still good.
    expect(verifyTotp(s, currentTotp(s, T0 + 30_000), STEP, T0 + 30_000)).to.deep.equal({ ok: true, step: STEP + 1 });
  });

  it('refuses malformed and wrong codes', () => {
    const s = newTotpSecret();
    const good = currentTotp(s, T0);
    const wrong = String((Number(good) + 1) % 1_000_000).padStart(6, '0');
    for (const t of ['', '12345', '1234567', 'abcdef', ` ${good}`, `${good}\n`, wrong]) {
      expect(verifyTotp(s, t, null, T0), JSON.stringify(t)).to.deep.equal({ ok: false });
    }
  });

  it('uses real time by default', () => {
    const s = newTotpSecret();
    expect(verifyTotp(s, currentTotp(s), null).ok).to.equal(true);
  });
});
