// `pag demo`: starts a gateway with simulated departments and a manual clock, and walks sample applications through every path.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { settingsFromEnv, loadConfig, loadDemoUsers } from '../config/load.js';
import { Gateway } from '../gateway.js';
import { currentTotp } from '../trust/totp.js';

type Json = any; // answers of our own API, read loosely for printing

export async function runDemo(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pag-demo-'));
  const settings = { ...settingsFromEnv(), port: 0, dataDir, databaseUrl: null, clock: 'manual' as const };
  const users = loadDemoUsers(loadConfig(settings.configFile));
  const gw = await Gateway.open({ settings, logger: pino({ level: 'silent' }), pollMs: 50 });
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
  const call = async (username: string, method: string, path: string, body?: unknown): Promise<Json> => {
    const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${await as(username)}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const j = (await r.json()) as Json;
    if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j.error)}`);
    return j;
  };
  const setClock = async (iso: string) => {
    await call('admin', 'PUT', '/api/admin/clock', { now: iso });
    say(`\n  ⏱  clock moved to ${shanghai(iso)}`);
  };
  const settle = async (id: string) => {
    for (let i = 0; i < 100; i++) {
      await gw.dispatcher.runOnce();
      const c = await call('secretary', 'GET', `/api/cases/${id}`);
      if (c.reviews.every((r: Json) => r.state !== 'pending_delivery')) return c;
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
    for (const r of d.reviews) say(`  gateway     notified ${r.departmentId} (${r.level}) - delivered, due ${shanghai(r.dueAt)}`);
    return d;
  };
  const opinion = async (id: string, dep: string, decision: string, reasons: string) => {
    const c = await call(`reviewer-${dep}`, 'POST', `/api/cases/${id}/reviews/${dep}/opinion`, { decision, reasons });
    const r = c.reviews.find((x: Json) => x.departmentId === dep);
    say(`  ${dep.padEnd(11)} ${decision} ("${reasons}") -> review ${r.state}${decision === 'extend' ? `, now due ${shanghai(r.dueAt)}` : ''}; case ${c.status}`);
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
      last = await call(`reviewer-${p.departmentId}`, 'POST', `/api/cases/${c.id}/permits/${p.departmentId}`, { permitNumber: `${p.departmentId.toUpperCase()}-2025-${c.reference.slice(-4)}` });
      say(`  ${p.departmentId.padEnd(11)} reported permit -> case ${last.status}`);
    }
    return last;
  };

  try {
    say(`Parallel approval gateway demo: ${gw.db.description}, simulated departments, manual clock`);
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

    const verify = await call('supervisor', 'GET', '/api/audit/verify');
    say(`\n== Audit: ${verify.ok ? 'chain verified' : 'CHAIN BROKEN'} (${verify.checked} events, head ${String(verify.head.hash).slice(0, 16)}...)`);
    say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return verify.ok ? 0 : 1;
  } finally {
    await gw.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
