// HTTP client process: logs demo users in once, follows each department's live stream, and drives whole cases over the REST API.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { DepartmentSigner } from '../src/trust/department.js';
import { KeyRegistry } from '../src/trust/keys.js';
import { currentTotp } from '../src/trust/totp.js';
import { stepClock, stepMeans, type StepTimes } from './inprocess.js';
import { percentile, pool } from './support.js';

export interface ClientConfig {
  base: string;
  /** The key registry (demo keys) the departments sign their opinions with, and the gateway's id they address. */
  certsDir: string;
  /** false: opinions go as plain JSON (a gateway that does not require signatures). */
  sign: boolean;
  gatewayId: string;
  users: { username: string; password: string; totpSecret: string }[];
  departments: string[];
  scope: string[];
  concurrency: number;
  warmup: number;
  maxCount: number;
  maxMs: number;
  /** Who follows /api/events: one stream as the secretary (default), or one per reviewer (BENCH_HTTP_STREAMS=reviewers). */
  streams: 'secretary' | 'reviewers';
}

export interface ClientResult {
  warmupCases: number;
  cases: number;
  failed: number;
  seconds: number;
  p50Ms: number | null;
  p99Ms: number | null;
  requests: number;
  /** Requests sent again after the keep-alive race (counted once in `requests`). */
  retries: number;
  /** CPU time of the client process over the timed run, as a share of one core. */
  cpuShare: number;
  /** Mean milliseconds per step of a case, as the client saw them (timed run only). */
  stepMeansMs: Record<string, number>;
  errors: string[];
}

let requests = 0;

// node:http with a keep-alive agent rather than fetch: under load, fetch (undici) left some requests waiting ~10 s for a
// connection it opened only when the load stopped, a client artefact that inflated the tail and the drain of each run.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

let retries = 0;

/** One request; retried once only in the documented keep-alive race (a reused idle socket the server closed before reading). */
async function call(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  requests++;
  try {
    return await send(base, token, method, path, body);
  } catch (e) {
    if ((e as { reusedIdleSocket?: boolean }).reusedIdleSocket) {
      retries++;
      return send(base, token, method, path, body);
    }
    throw e;
  }
}

function send(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  // A string body is a department's signed message (compact JWS); anything else is JSON.
  const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const type = typeof body === 'string' ? 'application/jose' : 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, {
      method,
      agent,
      headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': type, 'content-length': payload.length } : {}) },
    });
    let answered = false;
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (!answered && req.reusedSocket && e.code === 'ECONNRESET') Object.assign(e, { reusedIdleSocket: true });
      reject(e);
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.end(payload);
  });
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

/** Follows an /api/events stream and calls `onDelivered` for each review.delivered it carries. */
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

  // Clients learn of delivered notifications from the live stream. Per-reviewer streams would be the natural choice, but a
  // reviewer's stream hides every case whose case.submitted event it saw before acceptance created the reviews (the
  // visibility cache in src/http/app.ts remembers "not visible"), so by default one secretary stream serves all desks.
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
  if (cfg.streams === 'reviewers') for (const d of cfg.departments) await follow(cfg.base, tok(`reviewer-${d}`), abort.signal, onDelivered);
  else await follow(cfg.base, tok('secretary'), abort.signal, onDelivered);
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
  const steps: StepTimes = new Map();
  // Departments sign their opinions, as the gateway requires: the signing is part of what a client does per case.
  const keys = new KeyRegistry(cfg.certsDir, false);
  const signers = new Map(cfg.departments.map((d) => [d, new DepartmentSigner(keys, d, cfg.gatewayId)]));
  const flow = async (tag: string, i: number) => {
    const mark = stepClock(steps);
    const c = expect(await call(cfg.base, tok('secretary'), 'POST', '/api/cases', app(tag, i)), 201, 'submit');
    mark('submit');
    const all = Promise.all(cfg.departments.map((d) => delivered(c.id, d)));
    expect(await call(cfg.base, tok('secretary'), 'POST', `/api/cases/${c.id}/accept`, {}), 200, 'accept');
    mark('accept');
    await all;
    mark('delivery seen');
    await Promise.all(
      cfg.departments.map(async (d) =>
        expect(
          await call(cfg.base, tok(`reviewer-${d}`), 'POST', `/api/cases/${c.id}/reviews/${d}/opinion`,
            cfg.sign
              ? await signers.get(d)!.jws({ messageId: randomUUID(), kind: 'opinion', departmentId: d, caseId: c.id, decision: 'approve', reasons: '符合条件' })
              : { decision: 'approve', reasons: '符合条件' }),
          200,
          `opinion ${d}`,
        ),
      ),
    );
    mark('4 opinions');
    const lic = expect(await call(cfg.base, tok('registrar'), 'POST', `/api/cases/${c.id}/licence`, {}), 201, 'licence');
    mark('licence');
    if (lic.status !== 'licensed' || !lic.licence?.creditCode) throw new Error(`case ${c.id} ended ${lic.status}`);
  };

  const warm = await pool({ concurrency: cfg.concurrency, maxCount: cfg.warmup, maxMs: 30_000, task: (i) => flow('warm', i) });
  if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.errors.join(' | ')}`);
  requests = 0;
  retries = 0;
  steps.clear();
  const cpu0 = process.cpuUsage();
  const r = await pool({ concurrency: cfg.concurrency, maxCount: cfg.maxCount, maxMs: cfg.maxMs, task: (i) => flow('run', i) });
  const cpu = process.cpuUsage(cpu0);
  abort.abort();
  return {
    warmupCases: warm.done,
    cases: r.done,
    failed: r.failed,
    seconds: r.elapsedMs / 1000,
    p50Ms: percentile(r.latenciesMs, 50),
    p99Ms: percentile(r.latenciesMs, 99),
    requests,
    retries,
    stepMeansMs: stepMeans(steps),
    // Share of one core this client used in the timed run: near 1, the figure is bounded by the client, not the gateway.
    cpuShare: (cpu.user + cpu.system) / 1000 / r.elapsedMs,
    errors: r.errors,
  };
}

process.once('message', (cfg: ClientConfig) => {
  run(cfg).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (e: Error) => process.send!({ ok: false, error: e.message }, () => process.exit(1)),
  );
});
