// HTTP client process: logs demo users in once, follows each department's live stream, and drives whole cases over the REST API.
import { currentTotp } from '../src/trust/totp.js';
import { percentile, pool } from './support.js';

export interface ClientConfig {
  base: string;
  users: { username: string; password: string; totpSecret: string }[];
  departments: string[];
  scope: string[];
  concurrency: number;
  warmup: number;
  maxCount: number;
  maxMs: number;
}

export interface ClientResult {
  warmupCases: number;
  cases: number;
  failed: number;
  seconds: number;
  p50Ms: number | null;
  p99Ms: number | null;
  requests: number;
  errors: string[];
}

let requests = 0;

async function call(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  requests++;
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function login(base: string, u: ClientConfig['users'][number]): Promise<string> {
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: u.username, password: u.password, otp: currentTotp(u.totpSecret) }),
  });
  if (res.status !== 200) throw new Error(`login ${u.username}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Follows a reviewer's /api/events stream and calls `onDelivered` for each review.delivered of that department. */
async function follow(base: string, token: string, signal: AbortSignal, onDelivered: (caseId: string, departmentId: string) => void): Promise<void> {
  const res = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal });
  if (res.status !== 200 || !res.body) throw new Error(`event stream: ${res.status}`);
  const decoder = new TextDecoder();
  let buf = '';
  void (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let event = '';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event === 'review.delivered' && data) {
            const e = JSON.parse(data) as { caseId: string; data: { departmentId: string } };
            onDelivered(e.caseId, e.data.departmentId);
          }
        }
      }
    } catch {
      // aborted at the end of the run
    }
  })();
}

async function run(cfg: ClientConfig): Promise<ClientResult> {
  const tokens = new Map<string, string>();
  for (const u of cfg.users) tokens.set(u.username, await login(cfg.base, u));
  const tok = (name: string) => tokens.get(name)!;

  // Each department's client learns of new work from its own live stream, as a department desk would.
  const waiting = new Map<string, () => void>();
  const early = new Set<string>();
  const onDelivered = (caseId: string, dep: string) => {
    const key = `${caseId}|${dep}`;
    const w = waiting.get(key);
    if (w) {
      waiting.delete(key);
      w();
    } else early.add(key);
  };
  const abort = new AbortController();
  for (const d of cfg.departments) await follow(cfg.base, tok(`reviewer-${d}`), abort.signal, onDelivered);
  const delivered = (caseId: string, dep: string) =>
    new Promise<void>((resolve, reject) => {
      const key = `${caseId}|${dep}`;
      if (early.delete(key)) return resolve();
      const timer = setTimeout(() => {
        waiting.delete(key);
        reject(new Error(`no review.delivered for ${key} within 60 s`));
      }, 60_000);
      waiting.set(key, () => {
        clearTimeout(timer);
        resolve();
      });
    });

  const app = (tag: string, i: number) => ({
    enterpriseName: `南京玄武基准餐饮酒吧有限公司-http-${tag}-${i}`,
    legalForm: 'limited_liability_company',
    registeredCapital: 2_000_000,
    industry: 'catering',
    businessScope: cfg.scope,
    address: '南京市玄武区中山路1号',
    divisionCode: '320102',
    investors: [{ name: '张三', idNumber: '32010219800101001X' }],
    contact: { name: '张三', phone: '13800000000' },
  });
  const expect = (r: { status: number; json: any }, status: number, what: string) => {
    if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.json?.error ?? r.json).slice(0, 200)}`);
    return r.json;
  };
  const flow = async (tag: string, i: number) => {
    const c = expect(await call(cfg.base, tok('secretary'), 'POST', '/api/cases', app(tag, i)), 201, 'submit');
    const all = Promise.all(cfg.departments.map((d) => delivered(c.id, d)));
    expect(await call(cfg.base, tok('secretary'), 'POST', `/api/cases/${c.id}/accept`, {}), 200, 'accept');
    await all;
    await Promise.all(
      cfg.departments.map(async (d) =>
        expect(await call(cfg.base, tok(`reviewer-${d}`), 'POST', `/api/cases/${c.id}/reviews/${d}/opinion`, { decision: 'approve', reasons: '符合条件' }), 200, `opinion ${d}`),
      ),
    );
    const lic = expect(await call(cfg.base, tok('registrar'), 'POST', `/api/cases/${c.id}/licence`, {}), 201, 'licence');
    if (lic.status !== 'licensed' || !lic.licence?.creditCode) throw new Error(`case ${c.id} ended ${lic.status}`);
  };

  const warm = await pool({ concurrency: cfg.concurrency, maxCount: cfg.warmup, maxMs: 30_000, task: (i) => flow('warm', i) });
  if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.errors.join(' | ')}`);
  requests = 0;
  const r = await pool({ concurrency: cfg.concurrency, maxCount: cfg.maxCount, maxMs: cfg.maxMs, task: (i) => flow('run', i) });
  abort.abort();
  return {
    warmupCases: warm.done,
    cases: r.done,
    failed: r.failed,
    seconds: r.elapsedMs / 1000,
    p50Ms: percentile(r.latenciesMs, 50),
    p99Ms: percentile(r.latenciesMs, 99),
    requests,
    errors: r.errors,
  };
}

process.once('message', (cfg: ClientConfig) => {
  run(cfg).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (e: Error) => process.send!({ ok: false, error: e.message }, () => process.exit(1)),
  );
});
