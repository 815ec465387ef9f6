// Signatures per second: the gateway's JWS signing and verification (src/trust/envelope.ts) against bare node:crypto on the same bytes.
import { randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEnvelope, verifyEnvelope } from '../src/trust/envelope.js';
import { KeyRegistry, KEY_ALGS, type KeyAlg } from '../src/trust/keys.js';

export interface SigningResult {
  alg: KeyAlg;
  /** Operations per second, one at a time (the cost of one operation, as a request handler pays it). */
  gatewaySignPerSec: number;
  bareSignPerSec: number;
  gatewayVerifyPerSec: number;
  bareVerifyPerSec: number;
}

const SENDER = 'bench-department';
const RECEIVER = 'bench-gateway';

/**
 * Calls per second of two operations, one call at a time, measured in alternating slices of about 50 ms until either
 * has made `maxCount` calls or `maxMs` has passed in all: whatever else the machine does then weighs on both alike,
 * which one run of each after the other would not ensure.
 */
async function ratePair(a: () => unknown, b: () => unknown, o: { maxCount: number; maxMs: number }): Promise<[number, number]> {
  for (let i = 0; i < 50; i++) {
    await a();
    await b();
  }
  const n = [0, 0];
  const ms = [0, 0];
  const start = performance.now();
  while (Math.max(n[0]!, n[1]!) < o.maxCount && performance.now() - start < o.maxMs) {
    for (const [i, op] of [a, b].entries()) {
      const t0 = performance.now();
      let k = 0;
      while (performance.now() - t0 < 50 && k < o.maxCount) {
        await op();
        k++;
      }
      n[i]! += k;
      ms[i]! += performance.now() - t0;
    }
  }
  return [n[0]! / (ms[0]! / 1000), n[1]! / (ms[1]! / 1000)];
}

/** What node:crypto computes for a JWS signature of `alg` (JOSE's ES256 signature is r||s, not DER). */
function bareOps(alg: KeyAlg, privateKey: KeyObject, publicKey: KeyObject, input: Buffer, signature: Buffer) {
  const hash = alg === 'EdDSA' ? null : 'sha256';
  const opts = (key: KeyObject) => (alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key);
  return {
    sign: () => sign(hash, input, opts(privateKey)),
    verify: () => {
      if (!verify(hash, input, opts(publicKey), signature)) throw new Error('bare verification failed');
    },
  };
}

/** For each algorithm: the gateway's sign and verify (envelope, jose, registry lookup) and node:crypto's, in the same run. */
export async function measureSigning(o: { maxCount: number; maxMs: number }): Promise<SigningResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'pag-bench-keys-'));
  const registry = new KeyRegistry(dir, false);
  const out: SigningResult[] = [];
  for (const alg of KEY_ALGS) {
    // A fresh key per algorithm, so the newest active key (the one signEnvelope takes) is of this algorithm.
    registry.generate(SENDER, alg, { now: Date.now() - 1000 * (KEY_ALGS.length - KEY_ALGS.indexOf(alg)) });
    const { entry, key: privateKey } = registry.signingKey(SENDER);
    if (entry.alg !== alg) throw new Error(`expected a ${alg} signing key, got ${entry.alg}`);
    // Made before the timing, so the figure is the signer's work and not the making of ids.
    const envelopes = Array.from({ length: 1024 }, () => ({
      messageId: randomUUID(), sender: SENDER, receiver: RECEIVER, caseId: randomUUID(), kind: 'opinion',
      body: { decision: 'approve', reasons: '符合条件' },
    }));
    let next = 0;
    const envelope = () => envelopes[next++ & 1023]!;
    const jws = await signEnvelope(registry, SENDER, envelope());
    const [h, p, s] = jws.split('.') as [string, string, string];
    const found = registry.verificationKey(entry.kid, SENDER, alg);
    if ('refusal' in found) throw new Error(found.refusal);
    const bare = bareOps(alg, privateKey, found.key, Buffer.from(`${h}.${p}`), Buffer.from(s, 'base64url'));
    bare.verify();
    const [gatewaySignPerSec, bareSignPerSec] = await ratePair(() => signEnvelope(registry, SENDER, envelope()), bare.sign, { ...o, maxMs: 2 * o.maxMs });
    const [gatewayVerifyPerSec, bareVerifyPerSec] = await ratePair(() => verifyEnvelope(registry, jws, { receiver: RECEIVER, windowSeconds: 3600 }), bare.verify, { ...o, maxMs: 2 * o.maxMs });
    out.push({ alg, gatewaySignPerSec, bareSignPerSec, gatewayVerifyPerSec, bareVerifyPerSec });
  }
  return out;
}

/**
 * A copy of the demo key registry in which each listed department signs with a new key of `alg` (its demo RSA key
 * revoked), so the HTTP benchmark's departments sign as a department using that algorithm would.
 */
export function benchCerts(from: string, into: string, departments: string[], alg: KeyAlg): string {
  const dir = join(into, 'certs');
  cpSync(from, dir, { recursive: true });
  const registry = new KeyRegistry(dir, false);
  for (const d of departments) {
    for (const k of registry.list(d)) if (k.status !== 'revoked') registry.revoke(k.kid);
    registry.generate(d, alg, { now: Date.now() - 60_000 });
  }
  return dir;
}
