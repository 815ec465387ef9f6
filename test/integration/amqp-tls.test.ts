// AMQP over TLS: the adapter connects with amqps://, checks the broker's certificate against the configured CA and presents
// the gateway's client certificate. The broker side is a TLS front (node:tls, requiring client certificates) before the
// machine's RabbitMQ, as a TLS-terminating proxy would be in production.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { createAmqpAdapter } from '../../adapters/amqp/index.js';
import { silentLogger } from '../support/harness.js';
import { deleteRun, uniquePrefix, until } from '../support/amqp.js';
import { Pki } from '../support/pki.js';

const BROKER = { host: '127.0.0.1', port: Number(new URL(process.env.AMQP_URL ?? 'amqp://127.0.0.1:5672').port || 5672) };
const noSigner = { json: async () => 'x.y.z', xml: async () => '<x/>' };
const refuse = async () => ({ ok: false as const, code: 'X', httpStatus: 500, message: '', retryable: true });

describe('AMQP adapter over TLS', function () {
  this.timeout(30_000);
  const prefix = uniquePrefix('tls');
  let dir = '';
  let pki: Pki;
  let front: Server;
  let port = 0;
  const clients: (string | null)[] = [];
  const rejected: string[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'pag-amqp-tls-'));
    pki = new Pki(join(dir, 'tls'));
    pki.ca('broker-ca');
    pki.issue('broker', 'broker-ca', 'localhost', 'server');
    pki.ca('client-ca');
    pki.issue('gateway', 'client-ca', 'xuanwu-gateway', 'client');
    pki.ca('stranger-ca');
    pki.issue('stranger', 'stranger-ca', 'xuanwu-gateway', 'client');
    const file = (n: string) => readFileSync(join(pki.dir, n));
    front = createServer({ cert: file('broker.pem'), key: file('broker.key'), ca: file('client-ca.pem'), requestCert: true, rejectUnauthorized: true }, (sock: TLSSocket) => {
      clients.push(sock.getPeerX509Certificate()?.subject ?? null);
      const up = netConnect(BROKER);
      sock.pipe(up).pipe(sock);
      const close = () => (sock.destroy(), up.destroy());
      sock.on('error', close);
      up.on('error', close);
      sock.on('close', close);
      up.on('close', close);
    });
    front.on('tlsClientError', (e) => rejected.push(e.message));
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    port = (front.address() as AddressInfo).port;
  });
  after(async function () {
    await new Promise((r) => front?.close(r));
    await deleteRun(prefix, ['xw-culture']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = async (tls: Record<string, string>) => {
    const a = createAmqpAdapter('amqp', { url: `amqps://guest:guest@127.0.0.1:${port}`, prefix, connectTimeoutMs: 1000, reconnect: { initialDelayMs: 100, maxDelayMs: 500 }, tls });
    await a.start({ gatewayId: 'xuanwu-gateway', logger: silentLogger(), inbound: { receive: refuse, accept: refuse, caseStatus: refuse }, departments: ['xw-culture'], signer: noSigner, certsDir: dir });
    return a;
  };

  it('connects with the gateway client certificate, trusting the broker through the configured CA, and publishes with confirms', async function () {
    const a = await start({ ca: 'tls/broker-ca.pem', cert: 'tls/gateway.pem', key: 'tls/gateway.key', servername: 'localhost' });
    try {
      await until('the adapter connected', async () => (await a.health()).ok);
      expect(clients.some((c) => c !== null && /CN=xuanwu-gateway/.test(c))).to.equal(true);
      const out = await a.send({ id: `tls-${Date.now()}`, kind: 'notification', caseId: 'c-1', departmentId: 'xw-culture', sender: 'xuanwu-gateway', attempt: 1, payload: {} });
      // Confirmed by the broker over the TLS connection; delivery itself waits for the department's receipt.
      expect(out.status).to.equal('sent');
    } finally {
      await a.stop();
    }
  });

  it('stays disconnected, saying why, with a certificate the broker does not trust or a broker it cannot verify', async function () {
    for (const tls of <Record<string, string>[]>[
      { ca: 'tls/broker-ca.pem', cert: 'tls/stranger.pem', key: 'tls/stranger.key', servername: 'localhost' },
      { cert: 'tls/gateway.pem', key: 'tls/gateway.key', servername: 'localhost' },
    ]) {
      const a = await start(tls);
      try {
        const h = await a.health();
        expect(h.ok, JSON.stringify(tls)).to.equal(false);
        expect(h.detail).to.match(/disconnected from amqps:\/\/127\.0\.0\.1:\d+\/: \S+/);
        expect(h.detail).to.not.include('guest:guest');
        const err = await a.send({ id: 'x', kind: 'notification', caseId: 'c', departmentId: 'xw-culture', sender: 'g', attempt: 1, payload: {} }).then(() => null, (e: unknown) => e);
        expect(err).to.include({ name: 'AdapterError', retryable: true });
      } finally {
        await a.stop();
      }
    }
    expect(rejected.length, 'the broker front refused the stranger').to.be.greaterThan(0);
  });

  it('does not start with TLS files outside the certificates folder', async function () {
    const a = await start({ ca: '../../etc/ssl/certs/ca-certificates.crt' });
    try {
      const h = await a.health();
      expect(h.ok).to.equal(false);
      expect(h.detail).to.include('TLS settings unusable: ../../etc/ssl/certs/ca-certificates.crt is outside the certificates folder');
    } finally {
      await a.stop();
    }
  });
});
