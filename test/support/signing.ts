// Test support for signed messages: departments' signers over the demo keys, a private copy of the key registry, refusal checks.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from '../../adapters/adapter.js';
import type { Gateway } from '../../src/gateway.js';
import { CERTS_DIR } from '../../src/paths.js';
import { DepartmentSigner } from '../../src/trust/department.js';
import { KeyRegistry } from '../../src/trust/keys.js';
import { client, type Client } from './harness.js';

/** The demo configuration's gateway id: the receiver of every department message and the sender of the gateway's. */
export const GATEWAY_ID = 'xuanwu-gateway';

/** The committed demo registry, read-only in tests (a test that changes keys works on a copy). */
export const demoKeys = (): KeyRegistry => new KeyRegistry(CERTS_DIR, false);

/** A department's signer over `keys` (default: the demo keys). */
export const signerFor = (departmentId: string, keys: KeyRegistry = demoKeys()): DepartmentSigner => new DepartmentSigner(keys, departmentId, GATEWAY_ID);

/** Copies the demo registry into `dir` (for a gateway started with certsDir there), so a test may revoke or add keys. */
export function certsCopy(dir: string): string {
  const to = join(dir, 'certs');
  cpSync(CERTS_DIR, to, { recursive: true });
  return to;
}

/** A webhook or AMQP body of the gateway's, opened as the department: the verified envelope in the old webhook shape. */
export async function openGatewayJson(raw: string, departmentId: string): Promise<Record<string, any>> {
  const { envelope: e } = await signerFor(departmentId).openJson(raw);
  return { messageId: e.messageId, kind: e.kind, sender: e.sender, receiver: e.receiver, caseId: e.caseId, issuedAt: e.issuedAt, payload: e.body };
}

/** The refused-message record and the audit event a refusal left, with the case unchanged: the shared assertion of refusal tests. */
export async function expectRefusalRecorded(gw: Gateway, o: { code: string; channel: string; messageId?: string; caseId?: string; before?: unknown; after?: () => Promise<unknown> }): Promise<void> {
  const rows = await gw.db.all<any>('SELECT channel, claimed_sender, message_id, code, reason, raw FROM refused_messages WHERE code = $1 AND channel = $2 ORDER BY id DESC', [o.code, o.channel]);
  const row = o.messageId ? rows.find((r) => r.message_id === o.messageId) : rows[0];
  expect(row, `refused_messages row ${o.code} on ${o.channel} ${o.messageId ?? ''}`).to.not.equal(undefined);
  expect(row.raw).to.not.match(/Bearer|eyJhbGciOiJIUzI1NiI/);
  const events = await gw.db.all<any>("SELECT case_id, data FROM events WHERE action = 'message.refused'");
  const ev = events.map((e) => ({ caseId: e.case_id, data: JSON.parse(e.data) })).find((e) => e.data.code === o.code && e.data.channel === o.channel && (!o.messageId || e.data.messageId === o.messageId));
  expect(ev, `message.refused event ${o.code} on ${o.channel}`).to.not.equal(undefined);
  expect(ev!.caseId).to.equal(null);
  if (o.after) expect(await o.after()).to.deep.equal(o.before);
}

/**
 * A reviewer's REST client that answers as a department does: the opinion and permit routes get the department's signed
 * envelope (application/jose, signed with the key of the department in the path); other calls go as they are. The same
 * message id is sent with the same signed bytes (a resend, not a replay).
 */
export function signingClient(base: string, token: string): Client {
  const plain = client(base, token);
  const sent = new Map<string, string>();
  const post = async (path: string, body?: unknown, headers?: Record<string, string>) => {
    const m = /^\/api\/cases\/([^/]+)\/(?:reviews\/([^/]+)\/opinion|permits\/([^/]+))$/.exec(path);
    if (!m || typeof body !== 'object' || body === null) return plain.post(path, body, headers);
    const b = body as { decision?: 'approve' | 'refuse' | 'extend'; reasons?: string; permitNumber?: string; messageId?: string };
    const departmentId = (m[2] ?? m[3])!;
    const messageId = b.messageId ?? randomUUID();
    let jws = sent.get(messageId);
    if (!jws) {
      const msg: IncomingMessage = m[2]
        ? { messageId, kind: 'opinion', departmentId, caseId: m[1]!, decision: b.decision, reasons: b.reasons ?? null }
        : { messageId, kind: 'permit', departmentId, caseId: m[1]!, permitNumber: b.permitNumber };
      jws = await signerFor(departmentId).jws(msg);
      sent.set(messageId, jws);
    }
    return plain.post(path, jws, { 'content-type': 'application/jose', ...headers });
  };
  return { ...plain, post };
}
