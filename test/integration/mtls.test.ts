// Mutual TLS: a department bound to its CA answers over the gateway's HTTPS endpoints only with a certificate that CA
// issued to it; the HTTP adapters present the gateway's client certificate to departments that require one.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { HttpDelivery } from '../../adapters/http-post.js';
import { createSoapAdapter } from '../../adapters/soap/index.js';
import { SAMPLE_MAPPING, startSoapDepartment } from '../../adapters/soap/sim.js';
import { application, freshOtp, freshStore, silentLogger, startGateway, STORES, writeConfig, type Running } from '../support/harness.js';
import { Pki } from '../support/pki.js';
import { certsCopy, signerFor } from '../support/signing.js';

interface Tls { cert?: string; key?: string }
const nothing = async () => ({ ok: false as const, code: 'X', httpStatus: 500, message: '', retryable: true });

for (const kind of STORES) {
  describe(`mutual TLS (${kind})`, function () {
    this.timeout(60_000);
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let certs = '';
    let pki: Pki;
    const realm = `mtls-${kind}`;
    const files = (n: string) => readFileSync(join(pki.dir, n));
    const client: Record<string, { cert: string; key: string }> = {};
    let serverCa: Buffer;
    let port = 0;

    /** One HTTPS request to the gateway, trusting its test CA, with a client certificate if given. */
    function call(method: string, path: string, body: unknown, headers: Record<string, string>, tls: Tls = {}): Promise<{ status: number; body: any }> {
      return new Promise((resolve, reject) => {
        const data = typeof body === 'string' ? body : JSON.stringify(body ?? {});
        const req = request(
          { host: '127.0.0.1', port, path, method, ca: serverCa, ...(tls.cert ? { cert: files(tls.cert), key: files(tls.key!) } : {}), headers: { 'content-type': 'application/json', ...headers, 'content-length': Buffer.byteLength(data) }, agent: false },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
          },
        );
        req.on('error', reject);
        req.end(method === 'GET' ? undefined : data);
      });
    }
    const login = async (username: string) => {
      const u = JSON.parse(readFileSync(join(process.cwd(), 'config/demo-users.json'), 'utf8')).users.find((x: any) => x.username === username);
      const r = await call('POST', '/api/auth/login', { username, password: u.password, otp: freshOtp(realm, username) }, {});
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      return r.body.token as string;
    };
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

    before(async function () {
      store = await freshStore(kind, 'mtls');
      certs = certsCopy(store.dir);
      pki = new Pki(join(certs, 'tls'));
      pki.ca('server-ca');
      pki.issue('gateway-server', 'server-ca', 'localhost', 'server');
      pki.ca('health-ca');
      pki.ca('other-ca');
      client.health = pki.issue('health', 'health-ca', 'xw-health', 'client');
      client.fireFromHealthCa = pki.issue('fire-by-health-ca', 'health-ca', 'xw-fire', 'client');
      client.healthFromOtherCa = pki.issue('health-by-other-ca', 'other-ca', 'xw-health', 'client');
      serverCa = files('server-ca.pem');
      const configFile = writeConfig(store.dir, 'config.json', (cfg) => {
        cfg.gateway.tls = { cert: 'tls/gateway-server.pem', key: 'tls/gateway-server.key' };
        cfg.departments.find((d: any) => d.id === 'xw-health').clientCertificate = { ca: 'tls/health-ca.pem' };
      });
      run = await startGateway(store.db(), { certsDir: certs, configFile });
      port = Number(new URL(run.base).port);
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    it("accepts a bound department's opinion only with a certificate its own CA issued to it; others keep their token alone", async function () {
      const sec = await login('secretary');
      const created = await call('POST', '/api/cases', application(), bearer(sec));
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const id = created.body.id as string;
      expect((await call('POST', `/api/cases/${id}/accept`, {}, bearer(sec))).status).to.equal(200);
      for (let i = 0; i < 100; i++) {
        await run.gw.dispatcher.runOnce();
        if ((await run.gw.cases.get(id)).reviews.every((r) => r.state === 'delivered')) break;
      }
      const health = await login('reviewer-xw-health');
      const opinion = async (dep: string, token: string, tls: Tls) => {
        const jws = await signerFor(dep).jws({ messageId: randomUUID(), kind: 'opinion', departmentId: dep, caseId: id, decision: 'approve', reasons: null });
        return call('POST', `/api/cases/${id}/reviews/${dep}/opinion`, jws, { ...bearer(token), 'content-type': 'application/jose' }, tls);
      };
      const refusals: [Tls, RegExp][] = [
        [{}, /no client certificate/],
        [client.healthFromOtherCa!, /not issued by the department's CA/],
        [client.fireFromHealthCa!, /names xw-fire, not xw-health/],
      ];
      for (const [tls, reason] of refusals) {
        const r = await opinion('xw-health', health, tls);
        expect([r.status, r.body.error.code], reason.source).to.deep.equal([403, 'CHANNEL_NOT_BOUND']);
        const kept = await run.gw.db.get<{ reason: string }>("SELECT reason FROM refused_messages WHERE code = 'CHANNEL_NOT_BOUND' ORDER BY id DESC LIMIT 1");
        expect(kept!.reason).to.match(reason);
      }
      expect((await run.gw.cases.get(id)).reviews.find((r) => r.departmentId === 'xw-health')!.state).to.equal('delivered');

      const ok = await opinion('xw-health', health, client.health!);
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      expect(ok.body.reviews.find((r: any) => r.departmentId === 'xw-health').state).to.equal('approved');
      // A department without a binding still answers over HTTPS with its reviewer's token and signature.
      const fire = await opinion('xw-fire', await login('reviewer-xw-fire'), {});
      expect(fire.status, JSON.stringify(fire.body)).to.equal(200);
    });

    it('refuses a binding whose CA file is outside the certificates folder or missing, naming the field', async function () {
      const admin = await login('admin');
      const dep = run.gw.config.departments.find((d) => d.id === 'xw-fire')!;
      const index = run.gw.config.departments.indexOf(dep);
      for (const ca of ['../../../../etc/ssl/certs/ca-certificates.crt', 'tls/no-such-ca.pem', 'tls/health.pem']) {
        const r = await call('PUT', '/api/admin/departments/xw-fire', { ...dep, clientCertificate: { ca } }, bearer(admin));
        expect([r.status, r.body.error.code], ca).to.deep.equal([422, 'CONFIG_CHANGE_INVALID']);
        expect(r.body.error.message).to.include(`/departments/${index}/clientCertificate/ca`);
      }
      expect(run.gw.config.departments.find((d) => d.id === 'xw-fire')!.clientCertificate).to.equal(undefined);
    });

    describe('HTTP adapter to a department that requires mutual TLS', function () {
      let dept: Server;
      let url = '';
      const seen: (string | null)[] = [];
      before(async function () {
        pki.ca('dept-ca');
        pki.issue('dept-server', 'dept-ca', 'localhost', 'server');
        pki.ca('gateway-client-ca');
        pki.issue('gateway-client', 'gateway-client-ca', 'xuanwu-gateway', 'client');
        pki.issue('stranger-client', 'other-ca', 'xuanwu-gateway', 'client');
        dept = createServer({ cert: files('dept-server.pem'), key: files('dept-server.key'), ca: files('gateway-client-ca.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
          const cert = (req.socket as TLSSocket).getPeerX509Certificate();
          seen.push(cert ? cert.subject : null);
          req.resume();
          req.on('end', () => res.writeHead(202, { 'message-id': 'dept-receipt-1' }).end());
        });
        await new Promise<void>((r) => dept.listen(0, '127.0.0.1', r));
        url = `https://127.0.0.1:${(dept.address() as AddressInfo).port}/hook`;
      });
      after(async function () {
        dept?.closeAllConnections();
        await new Promise((r) => dept?.close(r));
      });
      const delivery = (tls: Record<string, string>) => {
        const d = new HttpDelivery({ url, timeoutMs: 5000, headers: {}, tls }, 'webhook');
        d.open(certs);
        return d;
      };

      it('delivers with the configured client certificate, and the department sees the gateway', async function () {
        const d = delivery({ ca: 'tls/dept-ca.pem', cert: 'tls/gateway-client.pem', key: 'tls/gateway-client.key' });
        try {
          expect(await d.post('m-1', { 'content-type': 'application/jose' }, 'x.y.z', silentLogger(), 'dept')).to.deep.equal({ status: 'delivered', receipt: 'dept-receipt-1' });
          expect(seen.at(-1)).to.match(/CN=xuanwu-gateway/);
          expect((await d.health()).ok).to.equal(true);
        } finally {
          d.close();
        }
      });

      it('fails retryably, with the TLS cause in health, without a certificate, with one the department does not trust, or without trusting its server', async function () {
        for (const tls of <Record<string, string>[]>[{ ca: 'tls/dept-ca.pem' }, { ca: 'tls/dept-ca.pem', cert: 'tls/stranger-client.pem', key: 'tls/stranger-client.key' }, { cert: 'tls/gateway-client.pem', key: 'tls/gateway-client.key' }]) {
          const before = seen.length;
          const d = delivery(tls);
          try {
            const err = await d.post('m-2', {}, 'x.y.z', silentLogger(), 'dept').then(() => null, (e: unknown) => e);
            expect(err, JSON.stringify(tls)).to.include({ name: 'AdapterError', retryable: true });
            const h = await d.health();
            expect(h.ok).to.equal(false);
            expect(h.detail).to.match(/last delivery failed: \S+/);
            expect(seen.length, 'the department handled no request').to.equal(before);
          } finally {
            d.close();
          }
        }
      });

      it('calls a SOAP department behind mutual TLS with the gateway certificate, and fails retryably without one', async function () {
        const dep = await startSoapDepartment({ base: run.base, departmentId: 'xw-police' }, { answer: 'manual' }, {
          cert: files('dept-server.pem'), key: files('dept-server.key'), ca: files('gateway-client-ca.pem'), requestCert: true, rejectUnauthorized: true,
        });
        const ctx = { gatewayId: 'xuanwu-gateway', logger: silentLogger(), inbound: { receive: nothing, accept: nothing, caseStatus: nothing }, departments: ['xw-police'], signer: run.gw.signer, certsDir: certs };
        const notice = (id: string) => ({ id, kind: 'notification', caseId: randomUUID(), departmentId: 'xw-police', sender: 'xuanwu-gateway', attempt: 1, payload: { reference: '320102-1', enterpriseName: '测试', businessScope: ['catering'], reviewDays: 5 } });
        try {
          const ok = createSoapAdapter('soap-tls', { wsdl: dep.wsdl, endpoint: dep.endpoint, ...SAMPLE_MAPPING, timeoutMs: 3000, tls: { ca: 'tls/dept-ca.pem', cert: 'tls/gateway-client.pem', key: 'tls/gateway-client.key' } });
          await ok.start(ctx);
          expect(await ok.send(notice('soap-tls-1'))).to.deep.equal({ status: 'delivered' });
          expect(dep.received.at(-1)!.clientCertificate).to.match(/CN=xuanwu-gateway/);
          await ok.stop();
          const without = createSoapAdapter('soap-tls', { wsdl: dep.wsdl, endpoint: dep.endpoint, ...SAMPLE_MAPPING, timeoutMs: 3000, tls: { ca: 'tls/dept-ca.pem' } });
          await without.start(ctx);
          const err = await without.send(notice('soap-tls-2')).then(() => null, (e: unknown) => e);
          expect(err).to.include({ name: 'AdapterError', retryable: true });
          expect((await without.health()).ok).to.equal(false);
          expect(dep.received).to.have.length(1);
          await without.stop();
        } finally {
          await dep.close();
        }
      });

      it('will not read TLS files outside the certificates folder', async function () {
        const d = delivery({ ca: '../../../../etc/ssl/certs/ca-certificates.crt' });
        const h = await d.health();
        expect(h).to.deep.equal({ ok: false, detail: 'TLS settings unusable: ../../../../etc/ssl/certs/ca-certificates.crt is outside the certificates folder' });
        const err = await d.post('m-3', {}, 'x', silentLogger(), 'dept').then(() => null, (e: unknown) => e);
        expect(err).to.include({ name: 'AdapterError', retryable: true });
      });
    });
  });
}
