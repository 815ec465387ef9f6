// Every refusal of a department's signed message on every channel (REST, XML, SOAP, AMQP): its code, its record, its audit event, and the case untouched.
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from '../../adapters/adapter.js';
import { AmqpDepartmentSim } from '../../adapters/amqp/sim.js';
import { callGateway, gatewayClient } from '../../adapters/soap/sim.js';
import { Gateway } from '../../src/gateway.js';
import type { DepartmentSigner, SignOptions } from '../../src/trust/department.js';
import { KeyRegistry } from '../../src/trust/keys.js';
import { incomingDocument, readResult } from '../../src/xml/approval.js';
import { AMQP_TEST_URL, amqpConfig, deleteRun, uniquePrefix, until } from '../support/amqp.js';
import { application, client, freshStore, login, silentLogger, STORES, testSettings, type Client } from '../support/harness.js';
import { certsCopy, expectRefusalRecorded, GATEWAY_ID, signerFor } from '../support/signing.js';

type ChannelName = 'rest' | 'xml' | 'soap' | 'amqp';
const CHANNELS: ChannelName[] = ['rest', 'xml', 'soap', 'amqp'];
const JSON_CHANNELS = new Set<ChannelName>(['rest', 'amqp']);
const DEP = 'xw-culture';

/** A signer whose registry names the culture bureau's kid but holds another private key: a forged signature under a real kid. */
function forger(dir: string): DepartmentSigner {
  const keys = new KeyRegistry(certsCopy(dir), false);
  const entry = keys.list(DEP).find((k) => k.privateKey)!;
  writeFileSync(join(keys.dir, entry.privateKey!), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  return signerFor(DEP, new KeyRegistry(keys.dir, false));
}

/** Changes the signed content without signing again. */
function tamper(channel: ChannelName, bytes: string): string {
  if (!JSON_CHANNELS.has(channel)) return bytes.replace('<reasons>不符合</reasons>', '<reasons>符合</reasons>');
  const [h, p, s] = bytes.split('.');
  const e = JSON.parse(Buffer.from(p!, 'base64url').toString());
  e.body.reasons = '符合';
  return `${h}.${Buffer.from(JSON.stringify(e)).toString('base64url')}.${s}`;
}

for (const kind of STORES) {
  describe(`signed messages refused on every channel (${kind})`, function () {
    this.timeout(90_000);
    const prefix = uniquePrefix(`refusals-${kind}`);

    it('refuses unsigned, forged, foreign-key, tampered, expired, misaddressed, replayed and revoked-key messages with their own codes, keeps and audits each, and changes no case', async function () {
      const store = await freshStore(kind, 'refusals');
      const certs = certsCopy(store.dir);
      const file = amqpConfig(store.dir, prefix, [DEP], { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, receiptTimeoutMs: 30_000 });
      const gw = await Gateway.open({ settings: testSettings({ configFile: file, certsDir: certs }), db: store.db(), logger: silentLogger(), pollMs: 50 });
      const { port } = await gw.start();
      const base = `http://127.0.0.1:${port}`;
      const sim = new AmqpDepartmentSim({ departmentId: DEP, url: AMQP_TEST_URL, prefix, token: () => login(base, `reviewer-${DEP}`), behaviour: { receipt: true, answer: 'silent' } });
      await sim.start();
      try {
        const sec = client(base, await login(base, 'secretary'));
        await client(base, await login(base, 'admin')).put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        const token = await login(base, `reviewer-${DEP}`);
        const soap = await gatewayClient(base);
        const signer = signerFor(DEP);
        const forged = forger(store.dir);
        const newCase = async () => {
          const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
          await sec.post(`/api/cases/${c.id}/accept`);
          await until('the notification delivered by the department\'s receipt', async () => (await sec.get(`/api/cases/${c.id}`)).body.reviews[0].state === 'delivered');
          return c.id as string;
        };
        const snapshot = async (id: string) => {
          const c = (await sec.get(`/api/cases/${id}`)).body;
          return { status: c.status, reviews: c.reviews, timeline: c.timeline.length };
        };

        /** Sends an opinion's bytes over one channel and returns the code it was refused with ('OK' if accepted). */
        const send = async (channel: ChannelName, bytes: string, m: IncomingMessage, signed = true): Promise<string> => {
          if (channel === 'rest') {
            const r = await client(base, token).post(`/api/cases/${m.caseId}/reviews/${DEP}/opinion`, bytes, { 'content-type': signed ? 'application/jose' : 'application/json' });
            return r.status === 200 ? 'OK' : r.body.error.code;
          }
          if (channel === 'xml') {
            const res = await fetch(`${base}/xml/messages`, { method: 'POST', headers: { 'content-type': 'application/xml', authorization: `Bearer ${token}` }, body: bytes });
            const r = readResult(await res.text());
            return r.ok ? 'OK' : r.code;
          }
          if (channel === 'soap') {
            const r = (await callGateway(soap, 'SubmitOpinion', { document: bytes }, token)) as { ok?: boolean; code?: string };
            return r.ok === false ? r.code! : 'OK';
          }
          const results = () => sim.results.filter((x) => x.body.inReplyTo === m.messageId);
          const seen = results().length;
          await sim.publish('opinion', Buffer.from(bytes), { messageId: m.messageId, caseId: m.caseId, contentType: signed ? 'application/jose' : 'application/json', headers: { authorization: `Bearer ${token}` } });
          const result = await until(`the result for ${m.messageId}`, async () => results()[seen]);
          return result.body.ok ? 'OK' : result.body.code;
        };
        const sign = (channel: ChannelName, s: DepartmentSigner, m: IncomingMessage, o: SignOptions = {}) => (JSON_CHANNELS.has(channel) ? s.jws(m, o) : Promise.resolve(s.xml(m, o)));
        const unsigned = (channel: ChannelName, m: IncomingMessage) =>
          channel === 'rest'
            ? JSON.stringify({ decision: m.decision, reasons: m.reasons, messageId: m.messageId })
            : channel === 'amqp'
              ? JSON.stringify({ departmentId: DEP, decision: m.decision, reasons: m.reasons })
              : incomingDocument(m, { receiver: GATEWAY_ID, issuedAt: new Date().toISOString() });
        const tenMinutesAgo = () => new Date(Date.now() - 600_000).toISOString();

        for (const channel of CHANNELS) {
          const target = await newCase();
          const before = await snapshot(target);
          const opinion = (id: string, caseId = target): IncomingMessage => ({ messageId: `${channel}-${id}`, kind: 'opinion', departmentId: DEP, caseId, decision: 'refuse', reasons: '不符合' });
          const check = async (what: string, m: IncomingMessage, bytes: string, code: string, signed = true) => {
            expect(await send(channel, bytes, m, signed), `${channel}: ${what}`).to.equal(code);
            await expectRefusalRecorded(gw, { code, channel: channel === 'amqp' ? 'amqp' : channel, messageId: m.messageId, before, after: () => snapshot(target) });
          };

          let m = opinion('unsigned');
          await check('unsigned', m, unsigned(channel, m), 'MESSAGE_UNSIGNED', false);
          m = opinion('forged');
          await check('signed with another key under the department\'s kid', m, await sign(channel, forged, m), 'SIGNATURE_INVALID');
          m = opinion('foreign-key');
          await check('signed with another department\'s key', m, await sign(channel, signer, m, { signAs: 'xw-fire' }), 'KEY_NOT_VALID');
          m = opinion('tampered');
          await check('altered after signing', m, tamper(channel, await sign(channel, signer, m)), 'SIGNATURE_INVALID');
          m = opinion('expired');
          await check('issued ten minutes ago', m, await sign(channel, signer, m, { issuedAt: tenMinutesAgo() }), 'MESSAGE_EXPIRED');
          m = opinion('misaddressed');
          await check('addressed to another gateway', m, await sign(channel, signer, m, { receiver: 'qinhuai-gateway' }), 'MESSAGE_MISADDRESSED');

          // Replayed: a message id first used for an opinion on another case, then again with content about this one.
          const other = await newCase();
          const first: IncomingMessage = { ...opinion('replayed', other), decision: 'approve', reasons: null };
          expect(await send(channel, await sign(channel, signer, first), first), `${channel}: the first use of the id`).to.equal('OK');
          m = opinion('replayed');
          await check('the same id with other content', m, await sign(channel, signer, m), 'MESSAGE_REPLAYED');

          // Revoked: refused from the next message on; the registry is restored afterwards (as an administrator would import it again).
          const registry = join(certs, 'registry.json');
          const saved = readFileSync(registry, 'utf8');
          gw.keys.revoke(gw.keys.list(DEP)[0]!.kid);
          m = opinion('revoked');
          await check('signed with a revoked key', m, await sign(channel, signer, m), 'KEY_NOT_VALID');
          writeFileSync(registry, saved);
          // The registry is re-read when its modification time changes; set one that surely differs from the revocation's.
          const later = new Date(Date.now() + 5_000);
          utimesSync(registry, later, later);
          expect((await snapshot(target)).status).to.equal('in_review');
        }
        // The refusals as a supervisor sees them; a reviewer may not list them.
        const listed = (await client(base, await login(base, 'supervisor')).get('/api/refused-messages?limit=500')).body.messages;
        expect(listed.length).to.be.at.least(CHANNELS.length * 8);
        expect(listed[0]).to.have.keys(['id', 'at', 'channel', 'claimedSender', 'messageId', 'kind', 'caseId', 'code', 'reason', 'raw']);
        expect(listed.every((r: any) => !/Bearer/.test(r.raw))).to.equal(true);
        expect((await client(base, token).get('/api/refused-messages')).status).to.equal(403);
      } finally {
        await sim.stop();
        await gw.stop();
        await deleteRun(prefix, [DEP]);
        await store.cleanup();
      }
    });

    it('lets unsigned answers in only when the configuration does not require signatures', async function () {
      const store = await freshStore(kind, 'unsigned');
      const cfg = JSON.parse(readFileSync(amqpConfig(store.dir, `${prefix}-unsigned`, [], {}), 'utf8'));
      cfg.gateway.signatures = { required: false };
      delete cfg.adapters.amqp;
      const file = join(store.dir, 'unsigned.json');
      writeFileSync(file, JSON.stringify(cfg));
      const gw = await Gateway.open({ settings: testSettings({ configFile: file }), db: store.db(), logger: silentLogger(), pollMs: 50 });
      const { port } = await gw.start();
      const base = `http://127.0.0.1:${port}`;
      try {
        const sec = client(base, await login(base, 'secretary'));
        await client(base, await login(base, 'admin')).put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        const reviewer = client(base, await login(base, `reviewer-${DEP}`));
        const newCase = async () => {
          const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
          await sec.post(`/api/cases/${c.id}/accept`);
          await gw.dispatcher.runOnce();
          return c.id as string;
        };
        // Plain JSON on the REST route, as before signed messages.
        const a = await newCase();
        const plain = await reviewer.post(`/api/cases/${a}/reviews/${DEP}/opinion`, { decision: 'approve', messageId: 'plain-opinion-1' });
        expect(plain.status, JSON.stringify(plain.body)).to.equal(200);
        expect(plain.body.status).to.equal('awaiting_licence');
        // An unsigned XML document over POST /xml/messages.
        const b = await newCase();
        const doc = incomingDocument({ messageId: 'plain-opinion-2', kind: 'opinion', departmentId: DEP, caseId: b, decision: 'approve' }, { receiver: GATEWAY_ID, issuedAt: new Date().toISOString() });
        const res = await fetch(`${base}/xml/messages`, { method: 'POST', headers: { 'content-type': 'application/xml', authorization: `Bearer ${await login(base, `reviewer-${DEP}`)}` }, body: doc });
        expect(readResult(await res.text())).to.include({ ok: true, caseStatus: 'awaiting_licence' });
        // A signed message is still checked: a bad signature is refused even here.
        const c = await newCase();
        const m: IncomingMessage = { messageId: 'signed-bad', kind: 'opinion', departmentId: DEP, caseId: c, decision: 'approve', reasons: null };
        const forgedKey = await reviewer.post(`/api/cases/${c}/reviews/${DEP}/opinion`, await signerFor(DEP).jws(m, { signAs: 'xw-fire' }), { 'content-type': 'application/jose' });
        expect(forgedKey.body.error.code).to.equal('KEY_NOT_VALID');
        expect(await gw.db.all<any>('SELECT message_id FROM refused_messages')).to.deep.equal([{ message_id: 'signed-bad' }]);
      } finally {
        await gw.stop();
        await store.cleanup();
      }
    });

    it('neither signs with nor accepts a demo key when the configuration says production', async function () {
      const store = await freshStore(kind, 'production');
      const cfg = JSON.parse(readFileSync(amqpConfig(store.dir, `${prefix}-prod`, [], {}), 'utf8'));
      cfg.gateway.environment = 'production';
      delete cfg.adapters.amqp;
      const file = join(store.dir, 'production.json');
      writeFileSync(file, JSON.stringify(cfg));
      const gw = await Gateway.open({ settings: testSettings({ configFile: file }), db: store.db(), logger: silentLogger(), pollMs: 50, dispatch: false });
      const { port } = await gw.start();
      const base = `http://127.0.0.1:${port}`;
      try {
        // No demo users in production: tokens are issued directly, as a login with password and one-time code would.
        const as = (username: string, role: 'secretary' | 'reviewer', departmentId?: string): Promise<Client> =>
          gw.tokens.issue({ sub: username, username, role, amr: ['pwd', 'otp'], ...(departmentId ? { departmentId } : {}) }).then((t) => client(base, t));
        const sec = await as('secretary-1', 'secretary');
        const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
        expect((await sec.post(`/api/cases/${c.id}/accept`)).status).to.equal(200);
        const before = (await sec.get(`/api/cases/${c.id}`)).body;
        const reviewer = await as('reviewer-1', 'reviewer', DEP);
        const m: IncomingMessage = { messageId: 'prod-1', kind: 'opinion', departmentId: DEP, caseId: c.id, decision: 'approve', reasons: null };
        const r = await reviewer.post(`/api/cases/${c.id}/reviews/${DEP}/opinion`, await signerFor(DEP).jws(m), { 'content-type': 'application/jose' });
        expect(r.status).to.equal(401);
        expect(r.body.error.code).to.equal('KEY_NOT_VALID');
        const xml = await gw.inbound.receive({ format: 'xmldsig', raw: signerFor(DEP).xml({ ...m, messageId: 'prod-2' }) }, { adapter: 'xml', token: 'unused' });
        expect(xml).to.include({ ok: false, code: 'KEY_NOT_VALID' });
        expect(await gw.db.all<any>("SELECT message_id, reason FROM refused_messages WHERE code = 'KEY_NOT_VALID' ORDER BY id")).to.deep.equal([
          { message_id: 'prod-1', reason: 'signature: The signing key may not be used: demo key in production' },
          { message_id: 'prod-2', reason: 'signature: The signing key may not be used: demo key in production' },
        ]);
        await expectRefusalRecorded(gw, { code: 'KEY_NOT_VALID', channel: 'rest', messageId: 'prod-1', before: before.timeline.length, after: async () => (await sec.get(`/api/cases/${c.id}`)).body.timeline.length });
        // The gateway's own demo keys sign nothing either: a notification cannot leave until it has a key of its own.
        const out = { id: 'x', kind: 'notification', caseId: c.id, departmentId: DEP, sender: gw.config.gateway.id, attempt: 1, payload: {} };
        expect(await gw.signer.json(out).then(() => 'signed', (e: { code?: string }) => e.code)).to.equal('KEY_NOT_VALID');
        expect(await gw.signer.xml(out, '<a/>').then(() => 'signed', (e: { code?: string }) => e.code)).to.equal('KEY_NOT_VALID');
      } finally {
        await gw.stop();
        await store.cleanup();
      }
    });
  });
}
