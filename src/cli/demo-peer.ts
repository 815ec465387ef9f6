// `pag demo`, peering step: a district gateway and its city's, each with its own store and keys, a hotel's city fire review answered at the city.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, loadDemoUsers, type Settings } from '../config/load.js';
import { Gateway } from '../gateway.js';
import { KeyRegistry } from '../trust/keys.js';
import { currentTotp } from '../trust/totp.js';

type Json = any; // answers of our own API, read loosely for printing

const CITY = 'nanjing-gateway';

/** The district's configuration file as a document, with its relative paths made absolute (the copies live elsewhere). */
export function document(file: string): Json {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  delete doc.$schema;
  const abs = (p: string) => (isAbsolute(p) ? p : join(dirname(file), p));
  doc.calendar = abs(doc.calendar);
  if (doc.gateway.demoUsers) doc.gateway.demoUsers = abs(doc.gateway.demoUsers);
  for (const a of Object.values(doc.adapters) as Json[]) if (a.kind === 'soap' && a.options?.wsdl && !/^https?:/.test(a.options.wsdl)) a.options.wsdl = abs(a.options.wsdl);
  return doc;
}

/** Runs the step and prints it; returns whether the district saw the city's approval. */
export async function peeringStep(base: Settings, say: (line: string) => void): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'pag-demo-peer-'));
  const gateways: Gateway[] = [];
  try {
    const district = document(base.configFile);
    const districtId = district.gateway.id as string;
    // Each gateway its own key registry (copies of the demo one), with a fresh gateway key the other registers under its id.
    const certs = (n: string) => {
      const to = join(dir, n, 'certs');
      cpSync(base.certsDir, to, { recursive: true });
      const reg = new KeyRegistry(to, false);
      const e = reg.generate('gateway', 'ES256', { demo: true });
      return { dir: to, reg, pem: readFileSync(join(to, e.publicKey), 'utf8'), kid: e.kid };
    };
    const [a, b] = [certs('district'), certs('city')];
    a.reg.import(CITY, b.pem, { kid: b.kid });
    b.reg.import(districtId, a.pem, { kid: a.kid });

    const open = async (name: string, doc: Json, certsDir: string) => {
      const configFile = join(dir, name, 'config.json');
      writeFileSync(configFile, JSON.stringify(doc));
      const gw = await Gateway.open({ settings: { ...base, port: 0, configFile, certsDir, dataDir: join(dir, name), databaseUrl: null, clock: 'manual' }, logger: pino({ level: 'silent' }), pollMs: 20 });
      gateways.push(gw);
      return { gw, url: `http://127.0.0.1:${(await gw.start()).port}` };
    };
    // The city first, its way back to the district set once the district listens.
    const city = structuredClone(district);
    Object.assign(city.gateway, { id: CITY, name: '南京市并联审批网关 Nanjing city gateway', authority: '320100' });
    city.adapters['to-district'] = { kind: 'gateway', options: { url: 'http://127.0.0.1:9/api/peer/messages', gateway: districtId } };
    city.peers = [{ id: districtId, adapter: 'to-district', departments: ['nj-fire'] }];
    const B = await open('city', city, b.dir);
    const nj = district.departments.find((d: Json) => d.id === 'nj-fire');
    Object.assign(nj, { adapter: 'to-city', hosted: false });
    district.adapters['to-city'] = { kind: 'gateway', options: { url: `${B.url}/api/peer/messages`, gateway: CITY } };
    district.peers = [{ id: CITY, adapter: 'to-city' }];
    const A = await open('district', district, a.dir);
    await B.gw.putAdapter('to-district', { kind: 'gateway', options: { url: `${A.url}/api/peer/messages`, gateway: districtId } }, { kind: 'system', id: 'demo', role: 'dispatcher' });

    const users = loadDemoUsers(loadConfig(base.configFile));
    // One login per user and gateway: a one-time code is good once.
    const tokens = new Map<string, string>();
    const call = async (url: string, username: string, method: string, path: string, body?: unknown): Promise<Json> => {
      let token = tokens.get(`${url}|${username}`);
      if (!token) {
        const u = users.find((x) => x.username === username)!;
        const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: u.password, otp: currentTotp(u.totpSecret) }) });
        token = ((await login.json()) as Json).token as string;
        tokens.set(`${url}|${username}`, token);
      }
      const r = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const j = (await r.json()) as Json;
      if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j.error)}`);
      return j;
    };
    const poll = async (what: string, check: () => Promise<boolean>) => {
      for (let i = 0; i < 400; i++) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`peering step: ${what} did not happen`);
    };
    const review = async (gw: Gateway, id: string) => (await gw.cases.get(id).catch(() => null))?.reviews.find((r) => r.departmentId === 'nj-fire');

    say('\n== 7. Peering: a hotel at the district; its city fire review is served by the city\'s own gateway');
    const c = await call(A.url, 'secretary', 'POST', '/api/cases', {
      enterpriseName: '玄武湖宾馆有限公司', legalForm: 'limited_liability_company', registeredCapital: 3_000_000, industry: 'hotel', businessScope: ['hotel'],
      address: '南京市玄武区玄武巷1号', divisionCode: '320102', investors: [{ name: '王五', idNumber: '320102198001010011' }], contact: { name: '王五', phone: '13900000001' },
    });
    await call(A.url, 'secretary', 'POST', `/api/cases/${c.id}/accept`);
    await poll('the mirror case at the city', async () => (await review(B.gw, c.id))?.state === 'delivered');
    const mirror = await B.gw.cases.get(c.id);
    say(`  ${districtId} sent nj-fire's review to ${CITY} (signed by its gateway key) -> mirror case ${mirror.reference} ${mirror.status}`);
    await call(B.url, 'reviewer-nj-fire', 'POST', `/api/cases/${c.id}/reviews/nj-fire/opinion`, { decision: 'approve', reasons: '消防条件合格 fire safety ok' });
    await poll('the approval at the district', async () => (await review(A.gw, c.id))?.state === 'approved');
    const r = (await review(A.gw, c.id))!;
    say(`  ${CITY} forwarded nj-fire's signed opinion with a reviewer assertion -> at ${districtId}: review ${r.state} by ${r.answeredBy}; mirror case ${(await B.gw.cases.get(c.id)).status}`);
    return true;
  } finally {
    for (const gw of gateways.reverse()) await gw.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
