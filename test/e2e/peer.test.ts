// End to end: two gateways as processes (`pag start`), a district's and its city's, peered; the city one stopped and started again.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { application, client, login, type Client } from '../support/harness.js';
import { configA, configB, peeredCerts, until } from '../support/peering.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';

/** A port free now, for a gateway whose address the other's configuration must name before either starts. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

describe('end to end: two peered gateways as processes', function () {
  this.timeout(120_000);
  let dir: string;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let envA: Record<string, string>;
  let envB: Record<string, string>;
  let secA: Client;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'pag-e2e-peer-'));
    const [dA, dB, dQ] = ['a', 'b', 'q'].map((n) => mkdtempSync(join(dir, `${n}-`)));
    const certs = peeredCerts(dA!, dB!, dQ!);
    const [pA, pB] = [await freePort(), await freePort()];
    envA = { PORT: String(pA), DATA_DIR: dA!, PAG_CERTS_DIR: certs.a, PAG_CONFIG: configA(dA!, `http://127.0.0.1:${pB}`), PAG_CLOCK: 'manual' };
    envB = { PORT: String(pB), DATA_DIR: dB!, PAG_CERTS_DIR: certs.b, PAG_CONFIG: configB(dB!, `http://127.0.0.1:${pA}`), PAG_CLOCK: 'manual' };
    [a, b] = await Promise.all([spawnGateway(envA), spawnGateway(envB)]);
    secA = client(a.base, await login(a.base, 'secretary'));
  });
  after(async function () {
    await a?.kill('SIGTERM');
    await b?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const reviewOf = async (c: Client, id: string) => ((await c.get(`/api/cases/${id}`)).body?.reviews ?? []).find((r: any) => r.departmentId === 'nj-fire');

  it("files a hotel case at the district, answers its city fire review at the city's gateway, and sees it approved at the district", async function () {
    const created = await secA.post('/api/cases', application({ businessScope: ['hotel'] }));
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id as string;
    expect((await secA.post(`/api/cases/${id}/accept`)).status).to.equal(200);

    const njFire = client(b.base, await login(b.base, 'reviewer-nj-fire'));
    const mirrored = await until('the mirror case at the city', async () => ((await reviewOf(njFire, id))?.state === 'delivered' ? njFire.get(`/api/cases/${id}`) : null));
    expect(mirrored.body.origin.gateway).to.equal('xuanwu-gateway');
    const atA = await reviewOf(secA, id);
    await until("the district's deadline at the city", async () => (await reviewOf(njFire, id))?.dueAt === atA.dueAt);

    expect((await njFire.post(`/api/cases/${id}/reviews/nj-fire/opinion`, { decision: 'approve', reasons: '同意', messageId: `e2e-${id}` })).status).to.equal(200);
    const approved = await until('approved at the district', async () => ((await reviewOf(secA, id))?.state === 'approved' ? reviewOf(secA, id) : null));
    expect(approved.answeredBy).to.equal('reviewer-nj-fire@nanjing-gateway');
  });

  it("keeps the district's notification while the city's gateway is down and delivers it after its restart", async function () {
    await b.kill('SIGKILL');
    const created = await secA.post('/api/cases', application({ businessScope: ['hotel'] }));
    const id = created.body.id as string;
    expect((await secA.post(`/api/cases/${id}/accept`)).status).to.equal(200);
    const admin = client(a.base, await login(a.base, 'admin'));
    // Backing off between attempts, the notification waits as waiting_retry most of the time.
    await until('a retry at the district', async () => ((await admin.get('/api/outbox?state=waiting_retry')).body.messages as any[]).some((m) => m.caseId === id && m.adapter === 'to-nanjing'));
    expect((await reviewOf(secA, id)).state).to.equal('pending_delivery');
    b = await spawnGateway(envB);
    await until('delivered after the restart', async () => (await reviewOf(secA, id))?.state === 'delivered');
    const njFire = client(b.base, await login(b.base, 'reviewer-nj-fire'));
    await until('the mirror case at the city', async () => (await reviewOf(njFire, id))?.state === 'delivered');
  });
});
