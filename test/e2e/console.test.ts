// End to end: the browser console in Debian's Chromium (playwright-core, never a downloaded browser) against the gateway as a user starts it.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../../src/paths.js';
import { currentTotp } from '../../src/trust/totp.js';
import { application, client } from '../support/harness.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'screenshots');
const WAIT = 10_000;
const demoUsers = JSON.parse(readFileSync(join(ROOT, 'config/demo-users.json'), 'utf8')) as { users: { username: string; totpSecret: string }[] };
const HOSTILE_NAME = '<img src=x onerror=alert(1)>玄武"湖畔\'餐饮</td>有限公司';
const HOSTILE_REASONS = '<script>alert(2)</script><img src=x onerror=alert(3)> 同意';

/** A code for a fresh TOTP step each time (a code is accepted once per user), shared with the API logins of the harness. */
const usedSteps = new Map<string, number>();
function otp(username: string): string {
  const u = demoUsers.users.find((x) => x.username === username)!;
  const now = Date.now();
  const step = Math.max(Math.floor(now / 30_000) - 1, (usedSteps.get(username) ?? -Infinity) + 1);
  if (step > Math.floor(now / 30_000) + 1) throw new Error('too many logins of one user within a minute');
  usedSteps.set(username, step);
  return currentTotp(u.totpSecret, step * 30_000 + 1000);
}

/**
 * A token of `username` whose last one-time code is older than the step-up window, as a session left open for a while
 * would carry: signed with the gateway's own token key, read from its store.
 */
function staleToken(dataDir: string, username: string): Promise<string> {
  const db = new Database(join(dataDir, 'gateway.sqlite'), { readonly: true });
  try {
    const secret = Buffer.from((db.prepare("SELECT value FROM settings WHERE key = 'token_secret'").get() as { value: string }).value, 'base64');
    const u = db.prepare('SELECT id, role FROM users WHERE username = ?').get(username) as { id: string; role: string };
    const gatewayId = (JSON.parse(readFileSync(join(ROOT, 'config/default.json'), 'utf8')) as { gateway: { id: string } }).gateway.id;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ username, role: u.role, amr: ['pwd', 'otp'], su: now - 3600 })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(gatewayId)
      .setAudience(`${gatewayId}/api`)
      .setSubject(u.id)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti(randomUUID())
      .sign(new Uint8Array(secret));
  } finally {
    db.close();
  }
}

/** Everything a page did that it should not: dialogs (injected script), uncaught errors, CSP violations in the console. */
interface Watched { page: Page; dialogs: string[]; errors: string[] }
async function open(ctx: BrowserContext): Promise<Watched> {
  const page = await ctx.newPage();
  const w: Watched = { page, dialogs: [], errors: [] };
  page.on('dialog', (d) => {
    w.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => w.errors.push(e.message));
  page.on('console', (m) => {
    // A 401 or 422 the console handles is logged by Chromium as a failed resource; anything else is a fault.
    if (m.type() === 'error' && !/status of (401|403|404|409|422)/.test(m.text())) w.errors.push(m.text());
  });
  return w;
}

/** A token over the API, with a code from the same step book as the browser logins. */
/** API tokens, one login per user and gateway: each one-time code is good once, and codes come only every 30 seconds. */
const apiTokens = new Map<string, string>();
async function apiLogin(base: string, username: string): Promise<string> {
  const known = apiTokens.get(`${base}|${username}`);
  if (known) return known;
  const token = await freshApiLogin(base, username);
  apiTokens.set(`${base}|${username}`, token);
  return token;
}
async function freshApiLogin(base: string, username: string): Promise<string> {
  const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'demo-password', otp: otp(username) }) });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

async function logIn(page: Page, base: string, username: string): Promise<void> {
  await page.goto(`${base}/#/login`);
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', 'demo-password');
  await page.fill('input[name="otp"]', otp(username));
  await page.click('form button[type="submit"]');
  await page.waitForFunction(() => !location.hash.startsWith('#/login') && document.getElementById('logout')?.hidden === false, undefined, { timeout: WAIT });
}

/**
 * Text that fails WCAG 2.1 AA contrast against what is behind it: below 4.5:1, or 3:1 for large text (24px, or 18.66px
 * bold). The background is the nearest opaque one among the element and its ancestors (translucent ones blended on it).
 */
const lowContrast = (page: Page) =>
  page.evaluate(() => {
    const rgba = (c: string) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return [255, 255, 255, 1];
      const p = m[1]!.split(/[ ,/]+/).filter(Boolean).map(Number);
      return [p[0]!, p[1]!, p[2]!, p.length > 3 ? p[3]! : 1];
    };
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: Element | null): number[] => {
      const layers: number[][] = [];
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3]! > 0) layers.push(c);
        if (c[3] === 1) break;
      }
      let out = [255, 255, 255];
      for (const c of layers.reverse()) out = out.map((v, i) => c[i]! * c[3]! + v * (1 - c[3]!));
      return out;
    };
    const bad: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set<Element>();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || seen.has(el) || !n.textContent!.trim()) continue;
      seen.add(el);
      const st = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      if (st.visibility === 'hidden' || st.display === 'none' || box.width === 0 || el.closest('[hidden], .skip, svg')) continue;
      const fg = rgba(st.color);
      const bg = background(el);
      const blended = fg.slice(0, 3).map((v, i) => v * fg[3]! + bg[i]! * (1 - fg[3]!));
      const [a, b] = [lum(blended), lum(bg)];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(st.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${ratio.toFixed(2)} ${el.tagName.toLowerCase()}.${el.className} "${n.textContent!.trim().slice(0, 30)}"`);
    }
    return bad;
  });

/** Form controls without an accessible label (a <label>, aria-label or aria-labelledby). */
const unlabelled = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => (el as HTMLInputElement).type !== 'hidden')
      .filter((el) => !((el as HTMLInputElement).labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
      .map((el) => el.outerHTML),
  );

/** A screenshot of the page as it is, whose text must also pass AA contrast. */
async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  expect(await lowContrast(page), `contrast on ${name}`).to.deep.equal([]);
}

const state = (page: Page, sel: string, attr: string, value: string) =>
  page.waitForSelector(`${sel}[${attr}="${value}"]`, { timeout: WAIT });

describe('end to end: the browser console', function () {
  this.timeout(120_000);
  let dir: string;
  let env: Record<string, string>;
  let gp: GatewayProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const context = async () => {
    const c = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    contexts.push(c);
    return c;
  };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'pag-console-'));
    mkdirSync(SHOTS, { recursive: true });
    // Signatures stay required: the departments are hosted, so the gateway signs the answers reviewers give in the console.
    const cfg = JSON.parse(readFileSync(join(ROOT, 'config/default.json'), 'utf8'));
    delete cfg.$schema;
    // Every browser and API login here comes from 127.0.0.1: more than the default ten attempts a minute per address.
    cfg.gateway.login = { maxAttemptsPerAddress: 1000 };
    // Hotels: the district fire brigade reviews first and reports up to the city's (a chained review).
    cfg.routes = cfg.routes.map((r: any) => (r.department === 'nj-fire' ? { ...r, department: 'xw-fire', then: ['nj-fire'] } : r));
    cfg.gateway.demoUsers = join(ROOT, 'config', cfg.gateway.demoUsers);
    cfg.calendar = join(ROOT, 'config', cfg.calendar);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    env = { DATA_DIR: dir, PAG_CLOCK: 'manual', PAG_CONFIG: join(dir, 'config.json') };
    gp = await spawnGateway(env);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'], timeout: 30_000 });
  });
  after(async function () {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await gp?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is served at / under a strict Content-Security-Policy', async function () {
    const res = await fetch(`${gp.base}/`);
    expect(res.status).to.equal(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).to.include("script-src 'self'").and.include("default-src 'none'").and.not.include('unsafe-inline');
    expect(await res.text()).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect((await fetch(`${gp.base}/js/main.js`)).headers.get('content-type')).to.match(/javascript/);
  });

  it('reconnects after the gateway was lost and catches up on every event it missed', async function () {
    const w = await open(await context());
    const p = w.page;
    await logIn(p, gp.base, 'supervisor');
    await p.goto(`${gp.base}/#/cases`);
    await p.selectOption('#status-filter', 'all');
    await p.waitForSelector('#live[data-state="open"]', { timeout: WAIT });
    // A first case while connected: the page has then seen an event id to resume from.
    const first = await client(gp.base, await apiLogin(gp.base, 'admin')).post('/api/cases', application());
    expect(first.status).to.equal(201);
    await p.waitForSelector(`tr[data-case="${first.body.id}"]`, { timeout: WAIT });
    await p.waitForFunction(() => Number(document.documentElement.dataset.eventsSeen) > 0, undefined, { timeout: WAIT });
    const seenBefore = Number(await p.evaluate(() => document.documentElement.dataset.eventsSeen ?? '0'));
    const lastBefore = Number(await p.evaluate(() => document.documentElement.dataset.lastEventId ?? '-1'));

    // The gateway dies; while the stream cannot come back, cases are entered (by another window).
    await p.route('**/api/events*', (route) => route.abort());
    const port = new URL(gp.base).port;
    await gp.kill('SIGKILL');
    await p.waitForSelector('#live[data-state="closed"]', { timeout: WAIT });
    gp = await spawnGateway({ ...env, PORT: port });
    const sec = client(gp.base, await apiLogin(gp.base, 'admin'));
    const names = [];
    for (let i = 0; i < 2; i++) {
      const r = await sec.post('/api/cases', application());
      expect(r.status).to.equal(201);
      names.push(r.body.id as string);
    }
    await p.unroute('**/api/events*');
    for (const id of names) await p.waitForSelector(`tr[data-case="${id}"]`, { timeout: WAIT });
    await p.waitForSelector('#live[data-state="open"]', { timeout: WAIT });
    // Every event between the last one seen and the newest arrived, once: sequence numbers have no gap for a supervisor.
    await p.waitForFunction((n) => Number(document.documentElement.dataset.eventsSeen) - n >= 2, seenBefore, { timeout: WAIT });
    const lastAfter = Number(await p.evaluate(() => document.documentElement.dataset.lastEventId));
    const seenAfter = Number(await p.evaluate(() => document.documentElement.dataset.eventsSeen));
    expect(lastAfter).to.be.greaterThan(lastBefore);
    expect(seenAfter - seenBefore).to.equal(lastAfter - lastBefore);
    await shot(p, '19-reconnected');
    await p.goto(`${gp.base}/#/supervision`);
    await p.waitForSelector('#supervision .tiles', { timeout: WAIT });
    await shot(p, '20-supervisor');
    expect(w.errors.filter((e) => !/ERR_FAILED|ERR_CONNECTION|net::/.test(e))).to.deep.equal([]);
  });

  it('carries an application from the window through two departments to the licence, every page following by itself', async function () {
    const sec = await open(await context());
    const p = sec.page;
    await logIn(p, gp.base, 'secretary');
    await p.waitForSelector('#application-form input[value="catering"]', { timeout: WAIT });
    expect(await p.evaluate(() => document.documentElement.lang)).to.equal('zh-CN');
    expect(await unlabelled(p)).to.deep.equal([]);
    await shot(p, '01-secretary-new-application');

    // A bad phone number: the API's error appears next to the phone field, and that field is marked invalid.
    await p.fill('input[name="enterpriseName"]', HOSTILE_NAME);
    await p.fill('input[name="registeredCapital"]', '2000000');
    await p.fill('input[name="industry"]', 'catering');
    await p.check('input[name="businessScope"][value="catering"]');
    await p.fill('input[name="address"]', '南京市玄武区珠江路88号');
    await p.fill('input[name="investors.0.name"]', '李四');
    await p.fill('input[name="investors.0.idNumber"]', '320102198001010011');
    await p.fill('input[name="contact.name"]', '李四');
    await p.fill('input[name="contact.phone"]', 'call me');
    await p.click('#application-form button[type="submit"]');
    const err = await p.waitForSelector('[data-error-for="/contact/phone"]:not([hidden])', { timeout: WAIT });
    expect(await err.textContent()).to.match(/pattern/);
    expect(await p.evaluate(() => {
      const input = document.querySelector('input[name="contact.phone"]')!;
      const slot = document.querySelector('[data-error-for="/contact/phone"]')!;
      return { sameField: input.closest('.field') === slot.closest('.field'), invalid: input.getAttribute('aria-invalid'), described: input.getAttribute('aria-describedby')?.includes(slot.id), focused: document.activeElement === input };
    })).to.deep.equal({ sameField: true, invalid: 'true', described: true, focused: true });
    await shot(p, '02-secretary-field-error');

    await p.fill('input[name="contact.phone"]', '13900000000');
    await p.click('#application-form button[type="submit"]');
    await p.waitForFunction(() => location.hash.startsWith('#/case/'), undefined, { timeout: WAIT });
    const caseId = decodeURIComponent(await p.evaluate(() => location.hash.slice('#/case/'.length)));
    await p.waitForSelector('[data-status="submitted"]', { timeout: WAIT });
    expect(await p.textContent('.enterprise')).to.equal(HOSTILE_NAME);
    await shot(p, '03-secretary-case-submitted');

    // The list of submitted applications; accepting from it turns the row to "in review" through the live stream alone.
    await p.goto(`${gp.base}/#/cases`);
    const row = `tr[data-case="${caseId}"]`;
    await p.waitForSelector(`${row} [data-status="submitted"]`, { timeout: WAIT });
    await p.selectOption('#status-filter', 'all');
    await p.waitForSelector(`${row} button.primary`, { timeout: WAIT });
    await shot(p, '04-secretary-case-list');
    await p.click(`${row} button.primary`);
    await p.waitForSelector(`${row} [data-status="in_review"]`, { timeout: WAIT });

    await p.goto(`${gp.base}/#/case/${encodeURIComponent(caseId)}`);
    for (const dep of ['xw-health', 'xw-environment', 'xw-fire']) await state(p, `#reviews tr[data-department="${dep}"]`, 'data-state', 'delivered');
    // Marks this document: if anything reloaded the page the mark would be gone.
    await p.evaluate(() => document.documentElement.setAttribute('data-no-reload', '1'));
    await shot(p, '05-secretary-case-in-review');

    // Two departments answer in two browser contexts; the secretary's page follows without a reload.
    const answer = async (username: string, dep: string, reasons: string, name: string) => {
      const r = await open(await context());
      await logIn(r.page, gp.base, username);
      const qrow = `#queue tr[data-case="${caseId}"]`;
      await r.page.waitForSelector(qrow, { timeout: WAIT });
      const left = Number(await r.page.getAttribute(`${qrow} [data-days-left]`, 'data-days-left'));
      // Delivered now, due in 5 working days: the countdown says 5 where the calendar covers the span (it covers the
      // years in config/calendar), else it falls back to calendar days.
      if ((await r.page.getAttribute(`${qrow} [data-days-left]`, 'data-unit')) === 'working') expect(left).to.equal(5);
      else expect(left).to.be.within(5, 14);
      await shot(r.page, `06-reviewer-queue-${dep}`);
      await r.page.click(`${qrow} a`);
      await r.page.waitForSelector('#opinion-form', { timeout: WAIT });
      expect(await unlabelled(r.page)).to.deep.equal([]);
      await r.page.fill('#opinion-reasons', reasons);
      await shot(r.page, `07-reviewer-case-${dep}`);
      const [res] = await Promise.all([r.page.waitForResponse((x) => x.url().includes('/opinion'), { timeout: WAIT }), r.page.click('#opinion-form button[type="submit"]')]);
      expect(res.status()).to.equal(200);
      const answered = Date.now();
      await state(p, `#reviews tr[data-department="${dep}"]`, 'data-state', 'approved');
      const latency = Date.now() - answered;
      await state(r.page, `#reviews tr[data-department="${dep}"]`, 'data-state', 'approved');
      expect(r.dialogs).to.deep.equal([]);
      expect(r.errors).to.deep.equal([]);
      return { latency, reviewer: r, name };
    };
    const a = await answer('reviewer-xw-health', 'xw-health', HOSTILE_REASONS, 'health');
    const b = await answer('reviewer-xw-fire', 'xw-fire', '消防条件符合要求', 'fire');
    expect(a.latency, 'the first browser follows within a second').to.be.below(1000);
    expect(b.latency, 'the first browser follows within a second').to.be.below(1000);

    // The hostile reasons are text on every page that shows them, and ran nothing.
    expect(await p.textContent('#reviews tr[data-department="xw-health"] .reasons')).to.equal(HOSTILE_REASONS);
    expect(await p.$$('main img, main script')).to.have.length(0);
    expect(await a.reviewer.page.textContent('#reviews tr[data-department="xw-health"] .reasons')).to.equal(HOSTILE_REASONS);

    // The third department answers over the API; the case then awaits its licence.
    const env3 = client(gp.base, await apiLogin(gp.base, 'reviewer-xw-environment'));
    expect((await env3.post(`/api/cases/${caseId}/reviews/xw-environment/opinion`, { decision: 'approve' })).status).to.equal(200);
    await p.waitForSelector('.case-head [data-status="awaiting_licence"]', { timeout: WAIT });

    // The registrar sees it among the cases ready for the licence, issues it and sees the new credit code; so does the secretary.
    const reg = await open(await context());
    await logIn(reg.page, gp.base, 'registrar');
    await reg.page.waitForSelector(`#licence-ready tr[data-case="${caseId}"]`, { timeout: WAIT });
    await shot(reg.page, '08-registrar-licence-queue');
    await reg.page.click(`#licence-ready tr[data-case="${caseId}"] a`);
    // The registrar's last one-time code is older than the step-up window: issuing asks for a fresh one in a dialog, which
    // refuses a wrong code and then, with the right one, sends the request again.
    await reg.page.evaluate((tok) => sessionStorage.setItem('pag.token', tok), await staleToken(dir, 'registrar'));
    await reg.page.click('#issue-licence', { timeout: WAIT });
    await reg.page.waitForSelector('#step-up-otp', { timeout: WAIT });
    expect(await unlabelled(reg.page)).to.deep.equal([]);
    await reg.page.fill('#step-up-otp', '000000');
    await reg.page.click('#step-up-confirm');
    await reg.page.waitForSelector('#step-up [role="alert"]:not([hidden])', { timeout: WAIT });
    await shot(reg.page, '09-registrar-step-up');
    await reg.page.fill('#step-up-otp', otp('registrar'));
    await reg.page.click('#step-up-confirm');
    const code = (await (await reg.page.waitForSelector('#credit-code', { timeout: WAIT })).textContent())!;
    expect(code).to.match(/^[0-9A-HJ-NPQRTUWXY]{18}$/);
    await shot(reg.page, '09-registrar-licence-issued');
    expect(await reg.page.$('#step-up')).to.equal(null);
    expect(await (await p.waitForSelector('#credit-code', { timeout: WAIT })).textContent()).to.equal(code);
    await p.waitForSelector('#permits tr[data-department]', { timeout: WAIT });
    await shot(p, '10-secretary-case-licensed');

    // Permits outstanding on the registrar's page, which also reads in English after the switch.
    await reg.page.goto(`${gp.base}/#/licence`);
    await reg.page.waitForSelector(`#permits-outstanding tr[data-case="${caseId}"]`, { timeout: WAIT });
    await reg.page.click('#lang');
    await reg.page.waitForFunction(() => document.documentElement.lang === 'en', undefined, { timeout: WAIT });
    expect(await reg.page.textContent('#nav')).to.include('Licences due');
    expect(await reg.page.textContent('main h1')).to.equal('Cases ready for the licence');
    await reg.page.waitForSelector(`#permits-outstanding tr[data-case="${caseId}"]`, { timeout: WAIT });
    await shot(reg.page, '13-english-registrar');
    await reg.page.click('#lang');
    await reg.page.waitForFunction(() => document.documentElement.lang === 'zh-CN', undefined, { timeout: WAIT });

    // The printable forms.
    await p.goto(`${gp.base}/#/print/notification/${encodeURIComponent(caseId)}`);
    await p.waitForSelector('#print-notification .form-table', { timeout: WAIT });
    await p.emulateMedia({ media: 'print' });
    expect(await p.isVisible('header.top')).to.equal(false);
    await shot(p, '11-print-notification');
    await p.goto(`${gp.base}/#/print/application/${encodeURIComponent(caseId)}`);
    await p.waitForSelector('#print-application .form-table', { timeout: WAIT });
    await shot(p, '12-print-application');
    await p.emulateMedia({ media: 'screen' });

    expect(sec.dialogs).to.deep.equal([]);
    expect(sec.errors).to.deep.equal([]);
    expect(reg.errors).to.deep.equal([]);
  });

  it('files a complaint at the counter, answers it as the registrar and resolves it as the supervisor; terminates a case', async function () {
    const created = await client(gp.base, await apiLogin(gp.base, 'admin')).post('/api/cases', application({ enterpriseName: '玄武投诉测试<b>餐饮</b>有限公司' }));
    expect(created.status).to.equal(201);
    const id = created.body.id as string;
    // The registrar files at the counter on the applicant's behalf, and answers for the bureau.
    const sec = await open(await context());
    await logIn(sec.page, gp.base, 'registrar');
    await sec.page.goto(`${gp.base}/#/case/${encodeURIComponent(id)}`);
    await sec.page.click('#complaint-form summary');
    await sec.page.selectOption('#complaint-form select[name="departmentId"]', 'bureau');
    await sec.page.fill('#complaint-form textarea[name="text"]', '<script>alert(4)</script>窗口排队时间过长');
    await sec.page.click('#complaint-form button[type="submit"]');
    // The contact was left empty: the API's error appears beside that field, and nothing was filed.
    await sec.page.waitForSelector('#complaint-form [data-error-for="/contact"]:not([hidden])', { timeout: WAIT });
    await sec.page.fill('#complaint-form input[name="contact"]', '13900000000');
    await sec.page.click('#complaint-form button[type="submit"]');
    await sec.page.waitForSelector('#complaints tr[data-complaint][data-state="open"]', { timeout: WAIT });
    expect(await unlabelled(sec.page)).to.deep.equal([]);
    await shot(sec.page, '21-complaint-filed');

    const sup = await open(await context());
    await logIn(sup.page, gp.base, 'supervisor');
    await sup.page.goto(`${gp.base}/#/case/${encodeURIComponent(id)}`);
    await sup.page.waitForSelector('#complaints tr[data-state="open"]', { timeout: WAIT });
    await sec.page.fill('#complaints textarea[name="response"]', '已增设窗口');
    await sec.page.click('#complaints form:not(#complaint-form) button[type="submit"]');
    await sec.page.waitForSelector('#complaints tr[data-state="answered"]', { timeout: WAIT });
    // The supervisor's page follows by itself, and the supervisor resolves the complaint.
    await sup.page.waitForSelector('#complaints tr[data-state="answered"]', { timeout: WAIT });
    await sup.page.click('#complaints tr[data-state="answered"] button:has-text("办结")');
    await sup.page.waitForSelector('#complaints tr[data-state="resolved"]', { timeout: WAIT });
    await sec.page.waitForSelector('#complaints tr[data-state="resolved"]', { timeout: WAIT });
    await shot(sup.page, '22-complaint-resolved');

    // Terminating needs a reason; with one, the case ends.
    await sec.page.click('#terminate-form summary');
    await sec.page.click('#terminate-form button[type="submit"]');
    await sec.page.waitForSelector('#terminate-form [data-error-for="/reason"]:not([hidden])', { timeout: WAIT });
    await sec.page.fill('#terminate-reason', '申请人撤回申请');
    await sec.page.click('#terminate-form button[type="submit"]');
    await sec.page.waitForSelector('.case-head [data-status="terminated"]', { timeout: WAIT });
    for (const w of [sec, sup]) {
      expect(w.dialogs).to.deep.equal([]);
      expect(w.errors).to.deep.equal([]);
    }
  });

  it('resubmits a returned application from the form it was returned with', async function () {
    const api = client(gp.base, await apiLogin(gp.base, 'admin'));
    const app = application({ enterpriseName: '玄武退回补正测试有限公司' });
    const created = await api.post('/api/cases', app);
    expect((await api.post(`/api/cases/${created.body.id}/return`, { reason: '注册资本证明缺失' })).status).to.equal(200);
    const w = await open(await context());
    await logIn(w.page, gp.base, 'admin');
    await w.page.goto(`${gp.base}/#/case/${encodeURIComponent(created.body.id)}`);
    await w.page.click('#resubmit', { timeout: WAIT });
    // The form starts from the application as it was returned, with the reason above it.
    await w.page.waitForFunction((name) => (document.querySelector('input[name="enterpriseName"]') as HTMLInputElement)?.value === name, app.enterpriseName, { timeout: WAIT });
    expect(await w.page.textContent('#application-form .alert')).to.include('注册资本证明缺失');
    expect(await w.page.inputValue('input[name="investors.0.idNumber"]')).to.equal((app.investors as any[])[0].idNumber);
    await w.page.fill('input[name="registeredCapital"]', '3000000');
    await shot(w.page, '23-resubmit');
    await w.page.click('#application-form button[type="submit"]');
    await w.page.waitForSelector('.case-head [data-status="submitted"]', { timeout: WAIT });
    expect((await api.get(`/api/cases/${created.body.id}`)).body.application.registeredCapital).to.equal(3_000_000);
    // A chained review reads step by step: the city's step waits for the district's and says so.
    const hotel = await api.post('/api/cases', application({ businessScope: ['hotel'], industry: 'hotel' }));
    expect((await api.post(`/api/cases/${hotel.body.id}/accept`)).status).to.equal(200);
    await w.page.goto(`${gp.base}/#/case/${encodeURIComponent(hotel.body.id)}`);
    const step = await w.page.waitForSelector('#reviews tr[data-department="nj-fire"][data-state="waiting"] .chain-step', { timeout: WAIT });
    expect(await step.textContent()).to.include('玄武区消防救援大队');
    expect(await w.page.textContent('#reviews tr[data-department="nj-fire"] .badge')).to.equal('待前序环节审查');
    expect(w.errors).to.deep.equal([]);
  });

  it('works from the keyboard alone: log in, skip to the content, reach a page through the navigation', async function () {
    const w = await open(await context());
    const p = w.page;
    await p.goto(`${gp.base}/#/login`);
    await p.waitForSelector('input[name="username"]:focus', { timeout: WAIT });
    await p.keyboard.type('supervisor');
    await p.keyboard.press('Tab');
    await p.keyboard.type('demo-password');
    await p.keyboard.press('Tab');
    await p.keyboard.type(otp('supervisor'));
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => document.getElementById('logout')?.hidden === false, undefined, { timeout: WAIT });
    // Tab moves to the navigation's link to the list of cases; Enter follows it.
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await p.keyboard.press('Tab');
      reached = await p.evaluate(() => document.activeElement?.getAttribute('href') === '#/cases');
    }
    expect(reached, 'the cases link is reachable with Tab').to.equal(true);
    // Every control on the way shows where the focus is.
    expect(await p.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).to.not.equal('none');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => location.hash === '#/cases', undefined, { timeout: WAIT });
    // The skip link is the first stop and takes the focus to the page's content.
    await p.reload();
    await p.waitForSelector('#logout:not([hidden])', { timeout: WAIT });
    await p.keyboard.press('Tab');
    expect(await p.evaluate(() => document.activeElement?.className)).to.include('skip');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => document.activeElement?.tagName === 'MAIN' || !!document.activeElement?.closest('main'), undefined, { timeout: WAIT });
    expect(w.errors).to.deep.equal([]);
  });

  it('switches to English and back, and keeps the choice', async function () {
    const w = await open(await context());
    const p = w.page;
    await p.goto(`${gp.base}/#/login`);
    await p.waitForSelector('input[name="username"]', { timeout: WAIT });
    expect(await p.textContent('label[for]')).to.equal('用户名');
    expect(await p.textContent('main h1')).to.equal('登录');
    await p.click('#lang');
    await p.waitForFunction(() => document.documentElement.lang === 'en', undefined, { timeout: WAIT });
    expect(await p.textContent('label[for]')).to.equal('User name');
    expect(await p.textContent('main h1')).to.equal('Log in');
    expect(await p.title()).to.equal('Parallel approval console');
    await shot(p, '13-english-login');
    await p.reload();
    await p.waitForSelector('input[name="username"]', { timeout: WAIT });
    expect(await p.evaluate(() => document.documentElement.lang)).to.equal('en');
    expect(await p.textContent('form button[type="submit"]')).to.equal('Log in');
    await p.click('#lang');
    await p.waitForFunction(() => document.documentElement.lang === 'zh-CN', undefined, { timeout: WAIT });
    expect(await p.textContent('main h1')).to.equal('登录');
    expect(w.errors).to.deep.equal([]);
  });

  it('sends a person whose session ended to log in and back to the form, with what they typed', async function () {
    const w = await open(await context());
    const p = w.page;
    await logIn(p, gp.base, 'secretary');
    await p.waitForSelector('#application-form input[value="cafe"]', { timeout: WAIT });
    await p.fill('input[name="enterpriseName"]', '玄武会话测试咖啡有限公司');
    await p.fill('input[name="address"]', '南京市玄武区中山路2号');
    await p.check('input[name="businessScope"][value="cafe"]');
    // The token is no longer accepted (as when it expires): the next call is refused with 401.
    await p.evaluate(() => sessionStorage.setItem('pag.token', 'expired.token.value'));
    await p.click('#application-form button[type="submit"]');
    await p.waitForSelector('form .alert.info', { timeout: WAIT });
    expect(await p.evaluate(() => location.hash)).to.equal('#/login');
    await shot(p, '14-session-expired');
    await p.fill('input[name="username"]', 'secretary');
    await p.fill('input[name="password"]', 'demo-password');
    await p.fill('input[name="otp"]', otp('secretary'));
    await p.click('form button[type="submit"]');
    await p.waitForSelector('#application-form input[value="cafe"]:checked', { timeout: WAIT });
    expect(await p.evaluate(() => location.hash)).to.equal('#/new');
    expect(await p.inputValue('input[name="enterpriseName"]')).to.equal('玄武会话测试咖啡有限公司');
    expect(await p.inputValue('input[name="address"]')).to.equal('南京市玄武区中山路2号');

    // On a tablet held upright the form fits the width: nothing to scroll sideways.
    await p.setViewportSize({ width: 768, height: 1024 });
    expect(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).to.equal(true);
    await shot(p, '14-tablet-application');
    expect(w.errors).to.deep.equal([]);
  });

  it('shows supervision tiles and charts, and the administrator adapters, a test and field-named errors', async function () {
    const adm = await open(await context());
    await logIn(adm.page, gp.base, 'admin');
    await adm.page.goto(`${gp.base}/#/supervision`);
    await adm.page.waitForSelector('#supervision .tiles', { timeout: WAIT });
    // The case of the flow above had its deemed-approval-free reviews; the per-status chart counts it.
    expect(await adm.page.$$('#supervision svg rect.bar')).to.have.length.greaterThan(0);
    // A department that is down: its notifications fail (one attempt), show on the page by themselves, and the
    // administrator resends one once it is back.
    const api = client(gp.base, await apiLogin(gp.base, 'admin'));
    const down = { kind: 'fake', options: { behaviour: 'fail' }, retry: { maxAttempts: 1, baseDelayMs: 500, maxDelayMs: 60000 } };
    expect((await api.put('/api/admin/adapters/simulated', down)).status).to.equal(200);
    const lost = await api.post('/api/cases', application());
    expect((await api.post(`/api/cases/${lost.body.id}/accept`)).status).to.equal(200);
    await adm.page.waitForSelector('#sup-failed tr[data-message]', { timeout: WAIT });
    expect((await api.put('/api/admin/adapters/simulated', { ...down, options: { behaviour: 'acknowledge' }, retry: { ...down.retry, maxAttempts: 8 } })).status).to.equal(200);
    const before = (await adm.page.$$('#sup-failed tr[data-message]')).length;
    await adm.page.click('#sup-failed tr[data-message] button');
    await adm.page.waitForSelector('#sup-failed .alert.info', { timeout: WAIT });
    await adm.page.waitForFunction((n) => document.querySelectorAll('#sup-failed tr[data-message]').length < n, before, { timeout: WAIT });
    await shot(adm.page, '15b-supervision-resent');
    // The statistics: time per department, cases per month, rates; and the CSV for a spreadsheet.
    await adm.page.waitForSelector('#sup-stats figure svg', { timeout: WAIT });
    expect((await adm.page.$$('#sup-stats figure')).length).to.be.at.least(2);
    const [download] = await Promise.all([adm.page.waitForEvent('download', { timeout: WAIT }), adm.page.click('#stats-csv')]);
    expect(download.suggestedFilename()).to.equal('pag-stats.csv');
    await shot(adm.page, '15-supervision');
    await adm.page.goto(`${gp.base}/#/admin`);
    await adm.page.waitForSelector('tr[data-adapter="simulated"]', { timeout: WAIT });
    await adm.page.click('tr[data-adapter="simulated"] button:first-child');
    expect(await (await adm.page.waitForSelector('.alert.info', { timeout: WAIT })).textContent()).to.match(/测试成功/);
    await shot(adm.page, '16-admin-adapters');
    await adm.page.goto(`${gp.base}/#/admin/routes`);
    await adm.page.waitForFunction(() => (document.querySelector('textarea[name="json"]') as HTMLTextAreaElement)?.value.length > 2, undefined, { timeout: WAIT });
    const routes = JSON.parse(await adm.page.inputValue('textarea[name="json"]'));
    routes[1].department = 'no-such-department';
    await adm.page.fill('textarea[name="json"]', JSON.stringify(routes, null, 2));
    await adm.page.click('#admin-routes button[type="submit"]');
    expect(await (await adm.page.waitForSelector('.alert.error .problem', { timeout: WAIT })).textContent()).to.match(/^\/routes\/1\/department: /);
    await shot(adm.page, '17-admin-routes-error');
    for (const tab of ['departments', 'eligibility', 'calendar']) {
      await adm.page.goto(`${gp.base}/#/admin/${tab}`);
      await adm.page.waitForSelector(`#admin-${tab} ${tab === 'calendar' ? 'p' : tab === 'departments' ? 'tr[data-department]' : 'textarea'}`, { timeout: WAIT });
      expect(await unlabelled(adm.page)).to.deep.equal([]);
      await shot(adm.page, `18-admin-${tab}`);
    }
    // Users: a refused field is named beside it; a new user's TOTP secret is shown once.
    await adm.page.goto(`${gp.base}/#/admin/users`);
    await adm.page.waitForSelector('tr[data-user="admin"]', { timeout: WAIT });
    expect(await unlabelled(adm.page)).to.deep.equal([]);
    await adm.page.fill('#user-form input[name="username"]', 'clerk-li');
    await adm.page.fill('#user-form input[name="password"]', 'short');
    await adm.page.click('#user-form button[type="submit"]');
    await adm.page.waitForSelector('#user-form [data-error-for="/password"]:not([hidden])', { timeout: WAIT });
    await adm.page.fill('#user-form input[name="password"]', 'a-long-password');
    await adm.page.click('#user-form button[type="submit"]');
    expect(await (await adm.page.waitForSelector('#new-user-secret code', { timeout: WAIT })).textContent()).to.match(/^otpauth:\/\/totp\/.*secret=/);
    await adm.page.waitForSelector('tr[data-user="clerk-li"]', { timeout: WAIT });
    await shot(adm.page, '19-admin-users');
    // Keys: the registry, with rotation for the keys this gateway holds.
    await adm.page.goto(`${gp.base}/#/admin/keys`);
    await adm.page.waitForSelector('tr[data-kid][data-status="active"]', { timeout: WAIT });
    await shot(adm.page, '20-admin-keys');
    expect(adm.errors).to.deep.equal([]);
  });

});
