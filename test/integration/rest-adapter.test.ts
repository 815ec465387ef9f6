// The JSON/REST webhook adapter against a real HTTP peer: delivery, retries with backoff, failure, resend.
import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import { application, client, freshStore, login, startGateway, STORES, writeConfig } from '../support/harness.js';
import { openGatewayJson } from '../support/signing.js';

/** A department's webhook whose answers the test scripts: a list of status codes, then 200 for ever. It opens each body as the department (the gateway's signature checked). */
async function webhook(port = 0) {
  const received: { headers: Record<string, unknown>; body: any }[] = [];
  const script: number[] = [];
  const app = express();
  app.use(express.text({ type: 'application/jose' }));
  app.post('/notify', async (req, res) => {
    received.push({ headers: req.headers, body: await openGatewayJson(String(req.body), 'xw-culture') });
    res.status(script.shift() ?? 200).json({ ok: true });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  const bound = (server.address() as { port: number }).port;
  return { port: bound, url: `http://127.0.0.1:${bound}/notify`, received, script, close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }) };
}

for (const kind of STORES) {
  describe(`REST webhook adapter (${kind})`, function () {
    it('delivers with a message id, retries server errors and an endpoint that was down, fails on a refusal, and resends on request', async function () {
      const store = await freshStore(kind, 'rest');
      const peer = await webhook();
      const file = writeConfig(store.dir, 'rest.json', (cfg) => {
        cfg.adapters.culture = { kind: 'rest', options: { url: peer.url, timeoutMs: 2000 }, retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 5000 } };
        cfg.departments.find((d: any) => d.id === 'xw-culture').adapter = 'culture';
      });
      // The test steps the dispatcher itself, so that each attempt happens exactly when it says.
      const run = await startGateway(store.db(), { configFile: file }, { dispatch: false });
      const db = run.gw.db;
      // Retries wait in real time; the test moves a message's next attempt to now instead of waiting.
      const due = () => db.run(`UPDATE outbox SET next_attempt_at = 0 WHERE state = 'waiting_retry'`);
      try {
        const sec = client(run.base, await login(run.base, 'secretary'));
        const admin = client(run.base, await login(run.base, 'admin'));
        await admin.put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        const newCase = async () => {
          const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
          await sec.post(`/api/cases/${c.id}/accept`);
          return c.id as string;
        };

        // 1. Two server errors, then success: three attempts, one delivery, clock starts at the delivery.
        peer.script.push(503, 500);
        const a = await newCase();
        await run.gw.dispatcher.runOnce();
        let msg = await db.get<any>('SELECT id, state, attempts, next_attempt_at FROM outbox WHERE case_id = $1', [a]);
        expect(msg).to.include({ state: 'waiting_retry', attempts: 1 });
        expect(Number(msg.next_attempt_at)).to.be.greaterThan(Date.now() + 500);
        expect((await sec.get(`/api/cases/${a}`)).body.reviews[0].state).to.equal('pending_delivery');
        await due();
        await run.gw.dispatcher.runOnce();
        await due();
        await run.gw.dispatcher.runOnce();
        msg = await db.get<any>('SELECT id, state, attempts FROM outbox WHERE case_id = $1', [a]);
        expect(msg).to.include({ state: 'delivered', attempts: 3 });
        const attempts = await db.all<any>('SELECT outcome FROM delivery_attempts WHERE message_id = $1 ORDER BY id', [msg.id]);
        expect(attempts.map((x) => x.outcome)).to.deep.equal(['retryable_error', 'retryable_error', 'delivered']);
        expect(peer.received).to.have.length(3);
        const last = peer.received[2]!;
        expect(last.headers['message-id']).to.equal(msg.id);
        // A compact JWS of the envelope, signed with the gateway's key (opened and checked by the webhook above).
        expect(last.headers['content-type']).to.equal('application/jose');
        expect(last.body).to.include({ messageId: msg.id, kind: 'notification', sender: 'xuanwu-gateway', receiver: 'xw-culture', caseId: a });
        expect(last.body.payload.enterpriseName).to.be.a('string');
        expect((await sec.get(`/api/cases/${a}`)).body.reviews[0].state).to.equal('delivered');

        // 2. A 400 is a refusal: no retry; the message is failed, visible, audited, and can be resent.
        peer.script.push(400);
        const b = await newCase();
        await run.gw.dispatcher.runOnce();
        const failed = (await admin.get('/api/outbox?state=failed')).body.messages;
        expect(failed).to.have.length(1);
        expect(failed[0]).to.include({ caseId: b, departmentId: 'xw-culture', state: 'failed', attempts: 1 });
        const sup = client(run.base, await login(run.base, 'supervisor'));
        expect((await sup.get('/api/supervision/overdue')).body.failedDeliveries.map((f: any) => f.caseId)).to.include(b);
        expect((await sup.post(`/api/outbox/${failed[0].id}/resend`)).status).to.equal(403);
        expect((await admin.post(`/api/outbox/${failed[0].id}/resend`)).status).to.equal(200);
        await run.gw.dispatcher.runOnce();
        expect((await sec.get(`/api/cases/${b}`)).body.reviews[0].state).to.equal('delivered');
        expect((await admin.post(`/api/outbox/${failed[0].id}/resend`)).status).to.equal(404);
        const timeline = (await sec.get(`/api/cases/${b}`)).body.timeline.map((e: any) => e.action);
        expect(timeline).to.include('delivery.failed');

        // 3. Endpoint down, then back: the message waits and is delivered once when the department's system returns.
        await peer.close();
        const d = await newCase();
        await run.gw.dispatcher.runOnce();
        expect(await db.get<any>('SELECT state, attempts FROM outbox WHERE case_id = $1', [d])).to.include({ state: 'waiting_retry', attempts: 1 });
        const back = await webhook(peer.port);
        try {
          await due();
          await run.gw.dispatcher.runOnce();
          expect(await db.get<any>('SELECT state, attempts FROM outbox WHERE case_id = $1', [d])).to.include({ state: 'delivered', attempts: 2 });
          expect(back.received.map((x) => x.body.caseId)).to.deep.equal([d]);
          expect((await sec.get(`/api/cases/${d}`)).body.reviews[0].state).to.equal('delivered');
        } finally {
          await back.close();
        }

        // 4. Endpoint down for good: retries until the policy's attempts are spent, then failed.
        const c = await newCase();
        for (let i = 0; i < 3; i++) {
          await due();
          await run.gw.dispatcher.runOnce();
        }
        msg = await db.get<any>('SELECT state, attempts, last_error FROM outbox WHERE case_id = $1', [c]);
        expect(msg).to.include({ state: 'failed', attempts: 3 });
        expect(msg.last_error).to.match(/unreachable/);
        const health = await (await fetch(`${run.base}/healthz`)).json();
        expect(health.adapters.culture.ok).to.equal(false);

        // The same story in the metrics: a: 2 errors + 1 delivery; b: refused, resent, delivered; d: 1 error + 1 delivery; c: 3 errors.
        const text = await (await fetch(`${run.base}/metrics`)).text();
        const metric = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (ch) => `\\${ch}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
        expect(metric('pag_delivery_attempts_total{adapter="culture",outcome="delivered"}')).to.equal(3);
        expect(metric('pag_delivery_attempts_total{adapter="culture",outcome="retryable_error"}')).to.equal(6);
        expect(metric('pag_delivery_attempts_total{adapter="culture",outcome="rejected"}')).to.equal(1);
        expect(metric('pag_delivery_retries_total{adapter="culture"}')).to.equal(5);
        expect(metric('pag_outbox_messages{adapter="culture",state="delivered"}')).to.equal(3);
        expect(metric('pag_outbox_messages{adapter="culture",state="failed"}')).to.equal(1);
        expect(metric('pag_delivery_latency_seconds_count{adapter="culture"}')).to.equal(3);
      } finally {
        await run.stop();
        await peer.close().catch(() => undefined);
        await store.cleanup();
      }
    });
  });
}
