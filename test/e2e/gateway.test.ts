// End to end: the gateway and the `pag` command as a user runs them, in their own processes.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ROOT } from '../../src/paths.js';
import { currentTotp } from '../../src/trust/totp.js';
import { application, client, login, type Client } from '../support/harness.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';

const pag = (args: string[], env: Record<string, string>, input?: string) =>
  spawnSync(process.execPath, [join(ROOT, 'bin/pag.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, input, encoding: 'utf8', timeout: 60_000 });

/** Reads server-sent events from a stream until `until` says stop; bounded by a deadline. */
async function readEvents(url: string, token: string, headers: Record<string, string>, until: (events: { id: number; event: string; data: any }[]) => boolean, onOpen: () => unknown = () => undefined) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 10_000);
  const events: { id: number; event: string; data: any }[] = [];
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: ac.signal });
    expect(res.headers.get('content-type')).to.match(/text\/event-stream/);
    const reader = res.body!.getReader();
    let buf = '';
    const take = (chunk: Uint8Array | undefined) => {
      buf += Buffer.from(chunk ?? new Uint8Array()).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':') && l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
        if (f.data) events.push({ id: Number(f.id), event: f.event!, data: JSON.parse(f.data) });
      }
    };
    // The server subscribes before it writes its first line, so once that line is here no later change can be missed.
    take((await reader.read()).value);
    await onOpen();
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      take(value);
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

describe('end to end: the gateway as a user runs it', function () {
  this.timeout(60_000);
  let dir: string;
  let gp: GatewayProcess;
  let env: Record<string, string>;
  let sec: Client;
  let secToken: string;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'pag-e2e-'));
    env = { DATA_DIR: dir, PAG_CLOCK: 'manual' };
    gp = await spawnGateway({ ...env, LOG_LEVEL: 'info' });
    secToken = await login(gp.base, 'secretary');
    sec = client(gp.base, secToken);
  });
  after(async function () {
    await gp?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz and documents its routes in /openapi.json from the same schemas', async function () {
    const h = await (await fetch(`${gp.base}/healthz`)).json();
    expect(h).to.include({ status: 'ok', store: 'sqlite', clock: 'manual' });
    expect(h.adapters.simulated.ok).to.equal(true);
    const doc = await (await fetch(`${gp.base}/openapi.json`)).json();
    expect(doc.openapi).to.equal('3.1.0');
    for (const [name, file] of [['Application', 'application'], ['Opinion', 'opinion'], ['Login', 'login'], ['CalendarYear', 'calendar-year']]) {
      const { $id: _i, $schema: _s, ...schema } = JSON.parse(readFileSync(join(ROOT, `schemas/api/${file}.schema.json`), 'utf8'));
      expect(doc.components.schemas[name]).to.deep.equal(schema);
    }
    for (const p of ['/api/cases', '/api/cases/{id}/accept', '/api/cases/{id}/reviews/{departmentId}/opinion', '/api/cases/{id}/licence', '/api/cases/{id}/permits/{departmentId}', '/api/admin/clock', '/api/events', '/api/refused-messages', '/api/inspections', '/api/cases/{id}/complaints', '/api/complaints', '/api/supervision/report']) {
      expect(doc.paths).to.have.property(p);
    }
    // A department's answers are documented as signed envelopes first, plain JSON only where signatures are not required.
    for (const p of ['/api/cases/{id}/reviews/{departmentId}/opinion', '/api/cases/{id}/permits/{departmentId}', '/api/cases/{id}/inspections/{inspectionId}/result']) {
      expect(Object.keys(doc.paths[p].post.requestBody.content)).to.deep.equal(['application/jose', 'application/json']);
    }
    expect(doc.components.schemas.SignedEnvelope.required).to.include.members(['messageId', 'sender', 'receiver', 'issuedAt', 'protocolVersion']);
  });

  it('streams case changes as server-sent events and lets a reconnecting client catch up', async function () {
    let c: any;
    const seen = await readEvents(`${gp.base}/api/events`, secToken, {}, (ev) => ev.some((e) => e.event === 'case.submitted' && e.data.caseId === c?.id), async () => {
      c = (await sec.post('/api/cases', application())).body;
    });
    const submitted = seen.find((e) => e.event === 'case.submitted' && e.data.caseId === c.id)!;
    expect(submitted.data.caseId).to.equal(c.id);
    await sec.post(`/api/cases/${c.id}/accept`);
    // Reconnect from the last id seen: the events in between arrive, in order, without a gap.
    const caught = await readEvents(`${gp.base}/api/cases/${c.id}/events`, secToken, { 'last-event-id': String(submitted.id) }, (ev) => ev.filter((e) => e.event === 'review.delivered').length === 3);
    const actions = caught.map((e) => e.event);
    expect(actions[0]).to.equal('case.accepted');
    expect(actions.filter((a) => a === 'review.delivered')).to.have.length(3);
    const ids = caught.map((e) => e.id);
    expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
  });

  it("streams to a reviewer the cases of their department, including those submitted after the stream opened, and no others", async function () {
    const reviewer = await login(gp.base, 'reviewer-xw-health');
    let food: any;
    let club: any;
    const seen = await readEvents(
      `${gp.base}/api/events`,
      reviewer,
      {},
      (ev) => ev.some((e) => e.event === 'review.delivered' && e.data.caseId === food?.id && e.data.data.departmentId === 'xw-health'),
      async () => {
        // Both cases reach the streams before acceptance creates any review: at first nothing links either case to health.
        await readEvents(`${gp.base}/api/events`, secToken, {}, (ev) => ev.some((e) => e.event === 'case.submitted' && e.data.caseId === food?.id), async () => {
          club = (await sec.post('/api/cases', application({ industry: 'entertainment', businessScope: ['entertainment'] }))).body;
          food = (await sec.post('/api/cases', application())).body;
        });
        expect((await sec.post(`/api/cases/${club.id}/accept`)).status).to.equal(200);
        expect((await sec.post(`/api/cases/${food.id}/accept`)).status).to.equal(200);
      },
    );
    expect(seen.filter((e) => e.data.caseId === club.id)).to.deep.equal([]);
    expect(seen.map((e) => e.event)).to.include.members(['case.accepted', 'review.delivered']);
    expect(seen.every((e) => e.data.caseId === food.id)).to.equal(true);
  });

  it('creates a user with `pag user add` who can then log in with password and TOTP', async function () {
    const r = pag(['user', 'add', 'clerk-wang', '--role', 'registrar', '--password-stdin'], env, 'correct horse battery\n');
    expect(r.status, r.stderr).to.equal(0);
    const uri = /otpauth:\/\/\S+/.exec(r.stdout)![0];
    const secret = new URL(uri).searchParams.get('secret')!;
    const ok = await fetch(`${gp.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'clerk-wang', password: 'correct horse battery', otp: currentTotp(secret) }) });
    expect(ok.status).to.equal(200);
    const body = await ok.json();
    expect(body.user).to.deep.equal({ username: 'clerk-wang', role: 'registrar', departmentId: null });
    const again = pag(['user', 'add', 'clerk-wang', '--role', 'registrar', '--password-stdin'], env, 'another password\n');
    expect(again.status).to.equal(1);
    expect(again.stderr).to.match(/USER_EXISTS/);
    const wrong = await fetch(`${gp.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'clerk-wang', password: 'wrong password', otp: currentTotp(secret) }) });
    expect(wrong.status).to.equal(401);
    expect((await wrong.json()).error.code).to.equal('LOGIN_FAILED');
  });

  it('lets an administrator disable, test and enable an adapter with `pag adapters` while the gateway runs', async function () {
    const admin = client(gp.base, await login(gp.base, 'admin'));
    const state = async () => (await admin.get('/api/admin/adapters/simulated')).body;
    const off = pag(['adapters', 'disable', 'simulated'], env);
    expect(off.status, off.stderr).to.equal(0);
    expect(off.stdout).to.match(/disabled simulated; configuration version \d+/);
    // The running gateway polls the stored configuration every two seconds.
    for (let i = 0; i < 100 && (await state()).enabled !== false; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await state()).to.deep.include({ enabled: false });
    const test = pag(['adapters', 'test', 'simulated', '--department', 'xw-fire'], env);
    expect(test.status, test.stderr).to.equal(0);
    expect(test.stdout).to.match(/^OK simulated -> xw-fire: delivered in \d+ ms/);
    const on = pag(['adapters', 'enable', 'simulated'], env);
    expect(on.status, on.stderr).to.equal(0);
    for (let i = 0; i < 100 && (await state()).enabled !== true; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await state()).to.deep.include({ enabled: true, health: { ok: true, detail: 'in-process simulated department' } });
    const list = pag(['adapters', 'list'], env);
    expect(list.stdout).to.match(/^simulated\s+fake\s+enabled\s+xw-police/m);
    const bad = pag(['adapters', 'remove', 'simulated'], env);
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/CONFIG_CHANGE_INVALID.*\/departments\/0\/adapter/);
  });

  it('manages the key registry with `pag keys`: generate, import, rotate with overlap, revoke', async function () {
    const certs = mkdtempSync(join(tmpdir(), 'pag-certs-'));
    try {
      const k = { ...env, PAG_CERTS_DIR: certs };
      const gen = pag(['keys', 'generate', '--owner', 'gateway', '--alg', 'EdDSA'], k);
      expect(gen.status, gen.stderr).to.equal(0);
      const kid = gen.stdout.split(/\s+/)[0]!;
      expect(gen.stdout).to.match(/gateway\s+EdDSA\s+active/);
      const pub = join(certs, 'department.pem');
      writeFileSync(pub, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
      const imp = pag(['keys', 'import', '--owner', 'xw-fire', '--file', pub, '--kid', 'fire-1'], k);
      expect(imp.stdout).to.match(/^fire-1\s+xw-fire\s+ES256\s+active/);
      const rot = pag(['keys', 'rotate', '--owner', 'gateway', '--overlap-days', '2'], k);
      expect(rot.stdout).to.match(/^new\s+\S+\s+gateway\s+EdDSA\s+active/m);
      expect(rot.stdout).to.match(new RegExp(`^retiring ${kid}\\s+gateway\\s+EdDSA\\s+retiring`, 'm'));
      const rev = pag(['keys', 'revoke', 'fire-1'], k);
      expect(rev.stdout).to.match(/^revoked fire-1\s+xw-fire\s+ES256\s+revoked/);
      const list = JSON.parse(pag(['keys', 'list', '--json'], k).stdout);
      expect(list.map((x: any) => [x.owner, x.status])).to.deep.equal([['gateway', 'retiring'], ['xw-fire', 'revoked'], ['gateway', 'active']]);
      const bad = pag(['keys', 'generate', '--owner', 'gateway', '--alg', 'HS256'], k);
      expect(bad.status).to.equal(1);
      expect(bad.stderr).to.match(/KEY_NOT_VALID/);
    } finally {
      rmSync(certs, { recursive: true, force: true });
    }
  });

  it('runs `pag demo`: every path, with departments on REST, XML, SOAP and AMQP, a provincial pull through an outage, ending with a verified audit chain', function () {
    const r = pag(['demo'], {});
    expect(r.status, r.stderr + r.stdout).to.equal(0);
    for (const line of [
      /notified xw-environment \(district\) over XML over HTTP - delivered/,
      /xw-health\s+approve \(.*\) over AMQP \(RabbitMQ\) -> review approved/,
      /xw-fire\s+extend \(.*\) over REST webhook -> review extended, now due 2025-10-14/,
      /notified xw-culture \(district\) over SOAP - delivered/,
      /timekeeper {2}xw-culture deemed_approved; case awaiting_licence/,
      /xw-police\s+refuse .* -> review refused; case terminated/,
      /refused \[rule below-capital-threshold\]/,
      /reported permit over AMQP \(RabbitMQ\) -> case operating/,
      /unified social credit code 91320102MA\w{8}; case operating/,
      /== 8\. The province/,
      /pass 1: .*repeated [1-9]\d*, quarantined 0; sequence 600, caught up; .*, [2-9] retries/,
      /pass 2: PROVINCE_UNAVAILABLE \(.*HTTP 503\) after 3 attempts; 0 pages applied, cursor stays at sequence 600/,
      /province back, pass 3: .*quarantined 1; sequence 1020, caught up/,
      /quarantine {2}record 1009: INVALID_CREDIT_CODE/,
      /enterprise {2}91\w{16} .*: (operating|suspended|revoked|deregistered) \(.*legacy irregularity/,
      /== Audit: chain verified/,
    ]) {
      expect(r.stdout).to.match(line);
    }
    expect(r.stdout).not.to.match(/PROBLEM/);
    // Every record of the feed once: applied, stale or quarantined; repeats, warnings and an error that has passed beside.
    const status = /GET \/api\/province\/status: \d+ pages, applied (\d+), stale (\d+) .*, repeated (\d+), quarantined (\d+), credit-code warnings (\d+); \d+ enterprises; last error none/.exec(r.stdout);
    expect(status, 'the province status line').to.not.equal(null);
    const [applied, stale, repeated, quarantined, warnings] = status!.slice(1).map(Number) as [number, number, number, number, number];
    expect(applied + stale + quarantined).to.equal(1020);
    expect(applied).to.be.greaterThan(900);
    expect(stale).to.be.greaterThan(0);
    expect(repeated).to.be.greaterThan(0);
    expect(quarantined).to.equal(1);
    expect(warnings).to.be.greaterThan(0);
    // The subscribing department's queue held exactly what the gateway published, each signed by the gateway.
    const told = /xw-health\s+(\d+) change notices in 320102 published on the topic exchange pag-demo-\d+\.province\.changes; its queue held (\d+), (\d+) signed by the gateway/.exec(r.stdout);
    expect(told, 'the change notices line').to.not.equal(null);
    expect(Number(told![1])).to.be.greaterThan(0);
    expect(told!.slice(2).map(Number)).to.deep.equal([Number(told![1]), Number(told![1])]);
  });

  it('answers unknown routes and bad requests with catalogue errors and no stack trace', async function () {
    const r = await sec.get('/api/nothing-here');
    expect(r.status).to.equal(404);
    expect(r.body.error.code).to.equal('ROUTE_NOT_FOUND');
    const bad = await sec.post('/api/cases/not-a-case/accept');
    expect(bad.status).to.equal(404);
    expect(bad.body.error.code).to.equal('NOT_FOUND');
    const text = await fetch(`${gp.base}/api/cases`, { method: 'POST', headers: { authorization: `Bearer ${secToken}`, 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).to.equal(415);
    expect(JSON.stringify([r.body, bad.body])).not.to.match(/\.js:\d+/);
  });

  it('keeps passwords, tokens, TOTP secrets and identity numbers out of its logs', async function () {
    await sec.post('/api/cases', application({ investors: [{ name: '王五', idNumber: '110101199003074514' }] }));
    const demo = JSON.parse(readFileSync(join(ROOT, 'config/demo-users.json'), 'utf8'));
    const logs = gp.output();
    expect(logs).to.match(/"msg":"gateway listening"/);
    for (const secret of ['demo-password', 'correct horse battery', secToken, '110101199003074514', demo.users[0].totpSecret]) {
      expect(logs.includes(secret), `log contains ${secret.slice(0, 12)}...`).to.equal(false);
    }
  });

  it('validates credit codes with `pag uscc validate`', function () {
    const ok = pag(['uscc', 'validate', '91350100M000100Y43', '110108000000016'], {});
    expect(ok.status).to.equal(0);
    expect(ok.stdout).to.match(/^OK 91350100M000100Y43/m);
    const bad = pag(['uscc', 'validate', '91350100M000100Y44'], {});
    expect(bad.status).to.equal(1);
    expect(bad.stdout).to.match(/^INVALID/m);
  });

  it('stops a bad configuration at start-up with the path of the bad field', function () {
    const cfg = JSON.parse(readFileSync(join(ROOT, 'config/default.json'), 'utf8'));
    cfg.departments[1].level = 'county';
    cfg.$schema = undefined;
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(cfg));
    const r = pag(['check-config', file], {});
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/CONFIG_INVALID/).and.to.match(/\/departments\/1\/level/);
    const started = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'start'], { cwd: ROOT, env: { ...process.env, PAG_CONFIG: file, PORT: '0', DATA_DIR: dir }, encoding: 'utf8', timeout: 30_000 });
    expect(started.status).to.equal(1);
    expect(started.stderr).to.match(/\/departments\/1\/level/);
  });

  it('gives with `pag stats` the figures the running gateway gives, and the same after `pag stats rebuild`', async function () {
    const sup = client(gp.base, await login(gp.base, 'supervisor'));
    expect((await sec.post('/api/cases', application({ enterpriseName: '统计测试有限公司' }))).status).to.equal(201);
    const fromApi = async () => {
      // The API reads the rollup a moment behind the last change: ask until two answers agree.
      let last = '';
      for (let i = 0; i < 50; i++) {
        const now = JSON.stringify((await sup.get('/api/stats')).body);
        if (now === last) return JSON.parse(now);
        last = now;
        await new Promise((r) => setTimeout(r, 300));
      }
      throw new Error('statistics did not settle');
    };
    const api = await fromApi();
    expect(api.cases.total).to.be.greaterThan(0);
    const cli = pag(['stats'], env);
    expect(cli.status, cli.stderr).to.equal(0);
    expect(JSON.parse(cli.stdout)).to.deep.equal(api);
    const rebuilt = pag(['stats', 'rebuild'], env);
    expect(rebuilt.status, rebuilt.stderr).to.equal(0);
    expect(rebuilt.stdout).to.match(new RegExp(`^statistics rollup rebuilt from ${api.cases.total} cases: \\d+ rows`));
    expect(JSON.parse(pag(['stats'], env).stdout)).to.deep.equal(api);
    expect(await fromApi()).to.deep.equal(api);
  });

  it('verifies the audit chain with `pag audit verify` and names the first tampered event', async function () {
    await gp.kill('SIGTERM');
    const ok = pag(['audit', 'verify'], env);
    expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/^OK: \d+ events verified/);
    const db = new Database(join(dir, 'gateway.sqlite'));
    db.prepare('DELETE FROM events WHERE chain_pos = 3').run();
    db.close();
    const bad = pag(['audit', 'verify'], env);
    expect(bad.status).to.equal(1);
    expect(bad.stdout).to.match(/TAMPERED: deleted event at position 3/);
  });
});
