// Password hashing with scrypt, self-describing so the cost parameters can be raised without invalidating old hashes.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 2 ** 15;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Upper bounds on parameters read back from storage, so a corrupted record cannot make verify allocate gigabytes.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/**
 * A valid hash with the current parameters of a password nobody knows (it was random and discarded).
 * Verify against it when the username is unknown, so that case costs the same time as a wrong password;
 * callers must treat the result as a failure regardless.
 */
export const DUMMY_HASH = 'scrypt$32768$8$1$jF3+BAr459PX3Q7LKN3wLA==$XrbDJmDDHvyICPLtGRyuJ0AhGXOuOHPh8URR10RvDAo=';

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function deriveKey(pw: string, salt: Buffer, keyLen: number, n: number, r: number, p: number): Promise<Buffer> {
  // scrypt needs about 128*N*r bytes; Node's 32 MiB default maxmem is exactly too small for N=2^15, r=8.
  const opts: ScryptOptions = { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(pw.normalize('NFC'), salt, keyLen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a password as `scrypt$<N>$<r>$<p>$<saltB64>$<hashB64>`. */
export async function hashPassword(pw: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveKey(pw, salt, KEY_BYTES, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface Parsed {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function parse(stored: string): Parsed | null {
  if (typeof stored !== 'string') return null;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [, nS, rS, pS, saltS, hashS] = parts as [string, string, string, string, string, string];
  if (![nS, rS, pS].every((s) => /^[1-9]\d{0,9}$/.test(s))) return null;
  const n = Number(nS);
  const r = Number(rS);
  const p = Number(pS);
  // scrypt requires N to be a power of two greater than 1.
  if (n < 2 || n > MAX_N || (n & (n - 1)) !== 0 || r > MAX_R || p > MAX_P) return null;
  if (!B64.test(saltS) || !B64.test(hashS)) return null;
  const salt = Buffer.from(saltS, 'base64');
  const hash = Buffer.from(hashS, 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  return { n, r, p, salt, hash };
}

/** True when `pw` matches `stored`; false (never throws) for a wrong password or a malformed stored value. */
export async function verifyPassword(pw: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  let key: Buffer;
  try {
    key = await deriveKey(pw, parsed.salt, parsed.hash.length, parsed.n, parsed.r, parsed.p);
  } catch {
    return false;
  }
  return timingSafeEqual(key, parsed.hash);
}
