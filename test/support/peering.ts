// Test support for gateway peering: two gateways' key registries that know each other, their configurations, and signed peer messages.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintAssertion, type ReviewerFacts } from '../../src/peer/assertion.js';
import { DepartmentSigner } from '../../src/trust/department.js';
import { signEnvelope } from '../../src/trust/envelope.js';
import { KeyRegistry } from '../../src/trust/keys.js';
import { writeConfig } from './harness.js';
import { certsCopy } from './signing.js';

/** The district gateway (the demo configuration's id) and the city gateway it peers with. */
export const A_ID = 'xuanwu-gateway';
export const B_ID = 'nanjing-gateway';
/** A second peer of A, to forge an assertion by a gateway that does not serve the department. */
export const Q_ID = 'qinhuai-gateway';

/** A key registry of its own per gateway (copies of the demo one), each with a fresh gateway key whose public half the others import. */
export function peeredCerts(dirA: string, dirB: string, dirQ: string): { a: string; b: string; q: string } {
  const a = certsCopy(dirA);
  const b = certsCopy(dirB);
  const q = certsCopy(dirQ);
  const own = (dir: string) => {
    const reg = new KeyRegistry(dir, false);
    const e = reg.generate('gateway', 'ES256');
    // The same kid on both sides: a signature names its key by kid.
    return { pem: readFileSync(join(dir, e.publicKey), 'utf8'), kid: e.kid };
  };
  const pa = own(a);
  const pb = own(b);
  const pq = own(q);
  new KeyRegistry(a, false).import(B_ID, pb.pem, { kid: pb.kid });
  new KeyRegistry(a, false).import(Q_ID, pq.pem, { kid: pq.kid });
  new KeyRegistry(b, false).import(A_ID, pa.pem, { kid: pa.kid });
  return { a, b, q };
}

/** A's configuration: nj-fire is served by B (and `then`, if given, chains a route to it). */
export function configA(dir: string, bUrl: string, change: (cfg: any) => void = () => {}): string {
  return writeConfig(dir, 'config-a.json', (cfg) => {
    const nj = cfg.departments.find((d: any) => d.id === 'nj-fire');
    nj.adapter = 'to-nanjing';
    nj.hosted = false;
    cfg.adapters['to-nanjing'] = { kind: 'gateway', options: { url: `${bUrl}/api/peer/messages`, gateway: B_ID, timeoutMs: 2000 }, retry: { maxAttempts: 50, baseDelayMs: 20, maxDelayMs: 100 } };
    cfg.adapters['to-qinhuai'] = { kind: 'gateway', options: { url: 'http://127.0.0.1:9/api/peer/messages', gateway: Q_ID } };
    cfg.peers = [{ id: B_ID, adapter: 'to-nanjing' }, { id: Q_ID, adapter: 'to-qinhuai' }];
    change(cfg);
  });
}

/** B's configuration: the city gateway hosts nj-fire and lets A ask it (only it). */
export function configB(dir: string, aUrl: string): string {
  return writeConfig(dir, 'config-b.json', (cfg) => {
    cfg.gateway.id = B_ID;
    cfg.gateway.name = '南京市并联审批网关 Nanjing city parallel approval gateway';
    cfg.gateway.authority = '320100';
    cfg.adapters['to-xuanwu'] = { kind: 'gateway', options: { url: `${aUrl}/api/peer/messages`, gateway: A_ID, timeoutMs: 2000 }, retry: { maxAttempts: 50, baseDelayMs: 20, maxDelayMs: 100 } };
    cfg.peers = [{ id: A_ID, adapter: 'to-xuanwu', departments: ['nj-fire'] }];
  });
}

/** A peer message signed by `keys`' gateway key as `sender`. */
export function peerMessage(keys: KeyRegistry, sender: string, receiver: string, kind: string, caseId: string | null, body: Record<string, unknown>, messageId = randomUUID()): string {
  return signEnvelope(keys, 'gateway', { messageId, sender, receiver, caseId, kind, body });
}

/** nj-fire's reviewer as B asserts them. */
export const njReviewer: ReviewerFacts = { username: 'reviewer-nj-fire', departmentId: 'nj-fire', role: 'reviewer', level: 'city', amr: ['pwd', 'otp'] };

/**
 * An opinion B forwards to A: nj-fire's signed opinion (to B), and an assertion; each part may be spoiled by the test.
 */
export async function forwardedOpinion(o: {
  keysB: KeyRegistry;
  caseId: string;
  decision?: 'approve' | 'refuse';
  department?: (jws: string) => string;
  assertion?: () => Promise<string>;
  messageId?: string;
  sender?: string;
  senderKeys?: KeyRegistry;
  /** The department answered in XML with an enveloped XML-DSig signature (XML over HTTP, SOAP). */
  xml?: boolean;
}): Promise<string> {
  const signer = new DepartmentSigner(o.keysB, 'nj-fire', B_ID);
  const msg = { messageId: o.messageId ?? randomUUID(), kind: 'opinion' as const, departmentId: 'nj-fire', caseId: o.caseId, decision: o.decision ?? 'approve', reasons: o.decision === 'refuse' ? '不符合消防条件' : null };
  const dept = o.xml ? signer.xml(msg) : await signer.jws(msg);
  const assertion = o.assertion ? await o.assertion() : await mintAssertion(o.keysB, B_ID, A_ID, njReviewer);
  return peerMessage(o.senderKeys ?? o.keysB, o.sender ?? B_ID, A_ID, 'opinion', o.caseId, { caseId: o.caseId, departmentId: 'nj-fire', department: { format: o.xml ? 'xmldsig' : 'jws', raw: o.department ? o.department(dept) : dept }, assertion });
}

/** Changes a compact JWS's payload and keeps its signature: what a tampering relay would send. */
export function tamper(jws: string, change: (payload: any) => void): string {
  const [h, p, s] = jws.split('.');
  const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
  change(payload);
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}

/** Polls until `check` holds (the gateways' dispatchers run on their own); fails naming `what` after a bounded number of tries. */
export async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}
