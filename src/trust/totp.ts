// Time-based one-time codes (RFC 6238: SHA1, 6 digits, 30 s) with replay protection; always real time, never the workflow clock.
import { HOTP, Secret, TOTP } from 'otpauth';

const PERIOD = 30;
const DIGITS = 6;
const ALGORITHM = 'SHA1';
// Accept the previous and next step to tolerate clock drift between phone and server.
const WINDOW = 1;

/** Outcome of a TOTP check; `step` is the 30-second counter that matched, to be stored as the new last-used step. */
export type TotpResult = { ok: true; step: number } | { ok: false };

/** A new random 20-byte secret, base32-encoded. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The otpauth:// provisioning URI (for a QR code) of a secret. */
export function totpUri(issuer: string, username: string, secret: string): string {
  return new TOTP({
    issuer,
    label: username,
    secret: Secret.fromBase32(secret),
    algorithm: ALGORITHM,
    digits: DIGITS,
    period: PERIOD,
  }).toString();
}

/** The 30-second step number at `nowMs`. */
export function totpStep(nowMs: number = Date.now()): number {
  return TOTP.counter({ period: PERIOD, timestamp: nowMs });
}

/**
 * Checks `token` against steps now-1..now+1, skipping any step <= lastUsedStep so a code
 * (or an older one) cannot be used twice. `nowMs` defaults to real time.
 */
export function verifyTotp(secret: string, token: string, lastUsedStep: number | null, nowMs: number = Date.now()): TotpResult {
  if (typeof token !== 'string' || !/^\d{6}$/.test(token)) return { ok: false };
  const key = Secret.fromBase32(secret);
  const current = totpStep(nowMs);
  // Current step first, then the neighbours, as otpauth itself orders them.
  for (const step of [current, current - 1, current + 1]) {
    if (Math.abs(step - current) > WINDOW) continue;
    if (lastUsedStep !== null && step <= lastUsedStep) continue;
    // window 0: compare this one step only, with otpauth's constant-time comparison.
    if (HOTP.validate({ token, secret: key, algorithm: ALGORITHM, digits: DIGITS, counter: step, window: 0 }) === 0) {
      return { ok: true, step };
    }
  }
  return { ok: false };
}

/** The code valid at `nowMs` (default real time); for tests and the demo. */
export function currentTotp(secret: string, nowMs: number = Date.now()): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: ALGORITHM,
    digits: DIGITS,
    period: PERIOD,
    timestamp: nowMs,
  });
}
