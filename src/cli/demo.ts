// `pag demo`: starts a gateway with simulated departments on every channel and a manual clock, and walks sample applications through every path.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { pino } from 'pino';
import { brokerUrl } from '../../adapters/amqp/index.js';
import { AmqpDepartmentSim } from '../../adapters/amqp/sim.js';
import { SAMPLE_MAPPING, startSoapDepartment, type SoapDepartment } from '../../adapters/soap/sim.js';
import { startXmlDepartment, type XmlDepartment } from '../../adapters/xml/sim.js';
import type { Actor } from '../domain/types.js';
import { settingsFromEnv, loadConfig, loadDemoUsers } from '../config/load.js';
import { Gateway } from '../gateway.js';
import { DepartmentSigner } from '../trust/department.js';
import { peeringStep } from './demo-peer.js';
import { provinceStep, startDemoProvince } from './demo-province.js';
import { currentTotp } from '../trust/totp.js';

type Json = any; // answers of our own API, read loosely for printing

/** How a simulated department answers: through the gateway's REST API, or through its own channel. */
interface Desk {
  channel: string;
  opinion(caseId: string, decision: 'approve' | 'refuse' | 'extend', reasons: string): Promise<void>;
  permit(caseId: string, permitNumber: string): Promise<void>;
}

/** A department webhook that checks the gateway's signature on every notification and acknowledges it (its reviewers answer through the REST API). */
async function webhook(signer: DepartmentSigner): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void signer.openJson(Buffer.concat(chunks).toString('utf8')).then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
        (e: { code?: string }) => res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.code ?? 'SIGNATURE_INVALID' })),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/notify`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** Whether a RabbitMQ answers (the AMQP department needs one; the demo goes on without it). */
async function brokerReachable(url: string): Promise<boolean> {
  try {
    const c = await connect(url, { timeout: 2000 });
    await c.close();
    return true;
  } catch {
    return false;
  }
}

export async function runDemo(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pag-demo-'));
  const fileSettings = { ...settingsFromEnv(), port: 0, dataDir, databaseUrl: null, clock: 'manual' as const };
  const province = await startDemoProvince(fileSettings, dataDir);
  const settings = { ...fileSettings, configFile: province.configFile };
  const users = loadDemoUsers(loadConfig(settings.configFile));
  // The province step runs each pull itself (as `pag province pull --once`), so none runs in the background.
  const gw = await Gateway.open({ settings, logger: pino({ level: 'silent' }), pollMs: 50, pull: false }).catch(async (e: unknown) => {
    await province.close();
    throw e;
  });
  const { port } = await gw.start();
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  const say = (line: string) => console.log(line);
  const shanghai = (iso: string | null) => (iso ? new Date(Date.parse(iso) + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 16) + ' (Shanghai)' : '-');

  const tokens = new Map<string, string>();
  const as = async (username: string) => {
    let t = tokens.get(username);
    if (!t) {
      const u = users.find((x) => x.username === username)!;
      const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: u.password, otp: currentTotp(u.totpSecret) }) });
      t = ((await r.json()) as Json).token as string;
      tokens.set(username, t);
    }
    return t;
  };
  const call = async (username: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Json> => {
    const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${await as(username)}`, 'content-type': contentType }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const j = (await r.json()) as Json;
    if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j.error)}`);
    return j;
  };
  const setClock = async (iso: string) => {
    await call('admin', 'PUT', '/api/admin/clock', { now: iso });
    say(`\n  ⏱  clock moved to ${shanghai(iso)}`);
  };
  const settle = async (id: string) => {
    for (let i = 0; i < 400; i++) {
      await gw.dispatcher.runOnce();
      const c = await call('secretary', 'GET', `/api/cases/${id}`);
      if (c.reviews.every((r: Json) => r.state !== 'pending_delivery')) return c;
      // An AMQP department's receipt comes back through the broker a moment later.
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('notifications were not delivered');
  };
  const app = (name: string, scope: string[], capital: number) => ({
    enterpriseName: name, legalForm: 'limited_liability_company', registeredCapital: capital, industry: scope[0], businessScope: scope,
    address: '南京市玄武区珠江路88号', divisionCode: '320102', investors: [{ name: '李四', idNumber: '320102198001010011' }], contact: { name: '李四', phone: '13900000000' },
  });
  const submitAndAccept = async (title: string, a: ReturnType<typeof app>) => {
    say(`\n== ${title}`);
    const c = await call('secretary', 'POST', '/api/cases', a);
    say(`  secretary   submitted "${a.enterpriseName}" (${a.businessScope.join(', ')}, ${a.registeredCapital.toLocaleString('en')} yuan) -> ${c.reference} ${c.status}${c.refusedRule ? ` [rule ${c.refusedRule}]` : ''}`);
    if (c.status !== 'submitted') return c;
    await call('secretary', 'POST', `/api/cases/${c.id}/accept`);
    const d = await settle(c.id);
    for (const r of d.reviews) say(`  gateway     notified ${r.departmentId} (${r.level}) over ${deskOf(r.departmentId).channel} - delivered, due ${shanghai(r.dueAt)}`);
    return d;
  };
  const opinion = async (id: string, dep: string, decision: 'approve' | 'refuse' | 'extend', reasons: string) => {
    const desk = deskOf(dep);
    await desk.opinion(id, decision, reasons);
    const c = await call('secretary', 'GET', `/api/cases/${id}`);
    const r = c.reviews.find((x: Json) => x.departmentId === dep);
    say(`  ${dep.padEnd(14)} ${decision} ("${reasons}") over ${desk.channel} -> review ${r.state}${decision === 'extend' ? `, now due ${shanghai(r.dueAt)}` : ''}; case ${c.status}`);
    return c;
  };
  const licence = async (id: string) => {
    const c = await call('registrar', 'POST', `/api/cases/${id}/licence`);
    say(`  registrar   issued licence, unified social credit code ${c.licence.creditCode}; case ${c.status}${c.permits.length ? `, ${c.permits.length} permit${c.permits.length > 1 ? 's' : ''} due ${shanghai(c.permits[0].dueAt)}` : ''}`);
    return c;
  };
  const permits = async (c: Json) => {
    let last = c;
    for (const p of c.permits) {
      const desk = deskOf(p.departmentId);
      await desk.permit(c.id, `${p.departmentId.toUpperCase()}-2025-${c.reference.slice(-4)}`);
      last = await call('secretary', 'GET', `/api/cases/${c.id}`);
      say(`  ${p.departmentId.padEnd(14)} reported permit over ${desk.channel} -> case ${last.status}`);
    }
    return last;
  };

  // Each department on a channel of its own, as an administrator would set it up: through the running configuration.
  const admin: Actor = { kind: 'user', id: 'admin', role: 'admin', adapter: 'demo' };
  const desks = new Map<string, Desk>();
  // Departments answering through the REST API sign their answers with their (demo) keys, as every channel requires.
  const gatewayId = gw.config.gateway.id;
  const restDesk = (dep: string, channel: string): Desk => {
    const signer = new DepartmentSigner(gw.keys, dep, gatewayId);
    return {
      channel,
      opinion: async (id, decision, reasons) =>
        void (await call(`reviewer-${dep}`, 'POST', `/api/cases/${id}/reviews/${dep}/opinion`, await signer.jws({ messageId: randomUUID(), kind: 'opinion', departmentId: dep, caseId: id, decision, reasons }), 'application/jose')),
      permit: async (id, permitNumber) =>
        void (await call(`reviewer-${dep}`, 'POST', `/api/cases/${id}/permits/${dep}`, await signer.jws({ messageId: randomUUID(), kind: 'permit', departmentId: dep, caseId: id, permitNumber }), 'application/jose')),
    };
  };
  const moveTo = async (dep: string, adapter: string, entry: Record<string, unknown>) => {
    await gw.putAdapter(adapter, entry, admin);
    const d = gw.config.departments.find((x) => x.id === dep)!;
    await gw.putDepartment({ ...d, adapter }, admin);
  };
  const closers: (() => Promise<void>)[] = [province.close];
  const hook = await webhook(new DepartmentSigner(gw.keys, 'xw-fire', gatewayId));
  closers.push(hook.close);
  await moveTo('xw-fire', 'fire-webhook', { kind: 'rest', options: { url: hook.url, timeoutMs: 5000 } });
  desks.set('xw-fire', restDesk('xw-fire', 'REST webhook'));
  const xml: XmlDepartment = await startXmlDepartment({ base, departmentId: 'xw-environment', keys: gw.keys, gatewayId }, { answer: 'manual' });
  closers.push(() => xml.close());
  await moveTo('xw-environment', 'environment-xml', { kind: 'xml', options: { url: xml.url, timeoutMs: 5000 } });
  const viaSim = (sim: { answers: { send: (m: any) => Promise<unknown> } }, dep: string, channel: string): Desk => ({
    channel,
    opinion: async (id, decision, reasons) => {
      const r: Json = await sim.answers.send({ messageId: randomUUID(), kind: 'opinion', departmentId: dep, caseId: id, decision, reasons });
      if (!r?.ok) throw new Error(`${dep} opinion over ${channel}: ${JSON.stringify(r)}`);
    },
    permit: async (id, permitNumber) => {
      const r: Json = await sim.answers.send({ messageId: randomUUID(), kind: 'permit', departmentId: dep, caseId: id, permitNumber });
      if (!r?.ok) throw new Error(`${dep} permit over ${channel}: ${JSON.stringify(r)}`);
    },
  });
  desks.set('xw-environment', viaSim(xml, 'xw-environment', 'XML over HTTP'));
  const soapDep: SoapDepartment = await startSoapDepartment({ base, departmentId: 'xw-culture', keys: gw.keys, gatewayId }, { answer: 'manual' });
  closers.push(() => soapDep.close());
  await moveTo('xw-culture', 'culture-soap', { kind: 'soap', options: { wsdl: soapDep.wsdl, endpoint: soapDep.endpoint, ...SAMPLE_MAPPING } });
  desks.set('xw-culture', viaSim(soapDep, 'xw-culture', 'SOAP'));
  const amqpUrl = brokerUrl({});
  let amqpNote = 'RabbitMQ not reachable: the health bureau stays on the in-process simulated adapter';
  let amqp: { url: string; prefix: string } | null = null;
  if (await brokerReachable(amqpUrl)) {
    // Own exchange and queue names, so the demo never meets a running gateway's messages on the same broker.
    const prefix = `pag-demo-${process.pid}`;
    await moveTo('xw-health', 'health-amqp', { kind: 'amqp', options: { prefix }, retry: { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 2000, receiptTimeoutMs: 10_000 } });
    const sim = new AmqpDepartmentSim({ departmentId: 'xw-health', prefix, keys: gw.keys, gatewayId, token: () => as('reviewer-xw-health'), behaviour: { receipt: true, answer: 'silent' } });
    await sim.start();
    closers.push(async () => {
      await sim.stop();
      await deleteDemoTopology(amqpUrl, prefix, gw.config.departments.filter((d) => d.adapter === 'health-amqp').map((d) => d.id));
    });
    // AMQP is asynchronous: the opinion is in once the gateway has taken it from the queue.
    const landed = async (id: string, done: (c: Json) => boolean) => {
      for (let i = 0; i < 200; i++) {
        if (done(await call('secretary', 'GET', `/api/cases/${id}`))) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('the AMQP department\'s message did not arrive');
    };
    desks.set('xw-health', {
      channel: 'AMQP (RabbitMQ)',
      opinion: async (id, decision, reasons) => {
        await sim.opinion(id, decision, reasons);
        await landed(id, (c) => c.reviews.find((r: Json) => r.departmentId === 'xw-health')?.state !== 'delivered');
      },
      permit: async (id, permitNumber) => {
        await sim.permit(id, permitNumber);
        await landed(id, (c) => c.permits.find((p: Json) => p.departmentId === 'xw-health')?.reportedAt);
      },
    });
    amqpNote = `AMQP department on ${new URL(amqpUrl).host} (exchanges ${prefix}.*)`;
    amqp = { url: amqpUrl, prefix };
  }
  const deskOf = (dep: string) => desks.get(dep) ?? restDesk(dep, 'in-process simulated adapter');

  try {
    say(`Parallel approval gateway demo: ${gw.db.description}, manual clock`);
    say(`  departments: xw-fire over a REST webhook, xw-environment over XML, xw-culture over SOAP, xw-health over ${desks.has('xw-health') ? 'AMQP' : 'the in-process adapter'}, the others in process`);
    say(`  ${amqpNote}; configuration version ${gw.configVersion}`);
    await setClock('2025-09-26T02:00:00Z');

    const a = await submitAndAccept('1. Approval: a restaurant, all departments approve', app('玄武湖畔餐饮有限公司', ['catering'], 2_000_000));
    for (const d of ['xw-health', 'xw-environment', 'xw-fire']) await opinion(a.id, d, 'approve', '符合条件 conditions met');
    await permits(await licence(a.id));

    const b = await submitAndAccept('2. Extension: a café; the fire brigade needs a superior review', app('紫金山咖啡有限公司', ['cafe'], 300_000));
    await opinion(b.id, 'xw-fire', 'extend', '需市消防支队复核 superior review');
    await opinion(b.id, 'xw-health', 'approve', '卫生条件合格 hygiene ok');
    await setClock('2025-10-14T15:00:00Z');
    await opinion(b.id, 'xw-fire', 'approve', '复核通过 review passed');
    await licence(b.id);

    const c = await submitAndAccept('3. Deemed approval: a bookstore; the culture bureau stays silent', app('鸡鸣寺书店有限公司', ['bookstore'], 50_000));
    await setClock('2025-10-24T16:30:00Z');
    const c2 = await call('secretary', 'GET', `/api/cases/${c.id}`);
    say(`  timekeeper  ${c2.reviews.map((r: Json) => `${r.departmentId} ${r.state}`).join(', ')}; case ${c2.status}`);
    await licence(c.id);

    const d = await submitAndAccept('4. Refusal: a bar too close to a school', app('新街口音乐酒吧有限公司', ['bar'], 800_000));
    const d2 = await opinion(d.id, 'xw-police', 'refuse', '距离学校不足200米 within 200 m of a school');
    say(`  gateway     ${d2.reviews.filter((r: Json) => r.state === 'cancelled').map((r: Json) => r.departmentId).join(', ')} cancelled and told; case ${d2.status}`);

    await submitAndAccept('5. Outside the pilot: a small trading company', app('玄武小商贸有限公司', ['retail'], 100_000));

    const f = await submitAndAccept('6. No pre-approval needed: a large retailer gets its licence at once', app('中山路百货有限公司', ['retail'], 5_000_000));
    await licence(f.id);

    const peered = await peeringStep(fileSettings, say);
    const pulled = await provinceStep({ gw, province, say, call, amqp });

    const verify = await call('supervisor', 'GET', '/api/audit/verify');
    say(`\n== Audit: ${verify.ok ? 'chain verified' : 'CHAIN BROKEN'} (${verify.checked} events, ${verify.checkpoints.checked} signed checkpoints, head ${String(verify.head.hash).slice(0, 16)}...)`);
    say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return verify.ok && peered && pulled ? 0 : 1;
  } finally {
    await gw.stop();
    for (const close of closers.reverse()) await close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Removes the demo's own exchanges and queues from the broker. */
async function deleteDemoTopology(url: string, prefix: string, departments: string[]): Promise<void> {
  const { names, deleteTopology } = await import('../../adapters/amqp/topology.js');
  const c = await connect(url);
  try {
    await deleteTopology(await c.createChannel(), names(prefix), departments);
  } finally {
    await c.close();
  }
}
