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

/** Runs `op` one call at a time until `maxCount` calls or `maxMs` elapsed; returns calls per second. */
async function rate(op: () => unknown, o: { maxCount: number; maxMs: number }): Promise<number> {
  for (let i = 0; i < 50; i++) await op();
  const t0 = performance.now();
  let n = 0;
  while (n < o.maxCount && performance.now() - t0 < o.maxMs) {
    await op();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
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
    out.push({
      alg,
      gatewaySignPerSec: await rate(() => signEnvelope(registry, SENDER, envelope()), o),
      bareSignPerSec: await rate(bare.sign, o),
      gatewayVerifyPerSec: await rate(() => verifyEnvelope(registry, jws, { receiver: RECEIVER, windowSeconds: 3600 }), o),
      bareVerifyPerSec: await rate(bare.verify, o),
    });
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
