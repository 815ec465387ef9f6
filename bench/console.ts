// The console's speed in a real browser (Debian's Chromium through playwright-core), served by the gateway on loopback.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DIR } from '../src/paths.js';
import { chromium } from 'playwright-core';
import { currentTotp } from '../src/trust/totp.js';
import { freshStore, percentile, startGateway } from './support.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ConsoleResult {
  runs: number;
  /** A new browser context (empty cache) to the login form ready for typing. */
  coldLoginP50Ms: number | null;
  coldLoginP95Ms: number | null;
  /** Submitting the login to the reviewer's queue shown, with the live stream connecting. */
  loginToQueueP50Ms: number | null;
  loginToQueueP95Ms: number | null;
}

/** `runs` (at most 21) cold page loads and logins (each a fresh browser context), on SQLite; null without Chromium. */
export async function measureConsole(o: { runs: number }): Promise<ConsoleResult | null> {
  if (!existsSync(CHROMIUM)) return null;
  // A one-time code is good once per user, and a user has three usable ones at a time (this step and one either side):
  // the demo reviewers take turns, so no run waits for the clock.
  const reviewers = (JSON.parse(readFileSync(join(CONFIG_DIR, 'demo-users.json'), 'utf8')) as { users: { username: string; password: string; totpSecret: string; role: string }[] }).users.filter((u) => u.role === 'reviewer');
  const runs = Math.min(o.runs, reviewers.length * 3);
  const store = await freshStore('sqlite', 'console');
  const { gw, base } = await startGateway(store);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const cold: number[] = [];
  const login: number[] = [];
  const firstStep = Math.floor(Date.now() / 30_000) - 1;
  try {
    for (let i = 0; i < runs; i++) {
      const user = reviewers[i % reviewers.length]!;
      const step = firstStep + Math.floor(i / reviewers.length);
      const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      const page = await ctx.newPage();
      const t0 = performance.now();
      await page.goto(`${base}/#/login`);
      await page.waitForSelector('input[name="username"]:focus');
      cold.push(performance.now() - t0);
      await page.fill('input[name="username"]', user.username);
      await page.fill('input[name="password"]', user.password);
      await page.fill('input[name="otp"]', currentTotp(user.totpSecret, step * 30_000 + 1000));
      const t1 = performance.now();
      await page.click('form button[type="submit"]');
      await page.waitForSelector('#queue');
      login.push(performance.now() - t1);
      await ctx.close();
    }
  } finally {
    await browser.close();
    await gw.stop();
    await store.cleanup();
  }
  return {
    runs: cold.length,
    coldLoginP50Ms: percentile(cold, 50),
    coldLoginP95Ms: percentile(cold, 95),
    loginToQueueP50Ms: percentile(login, 50),
    loginToQueueP95Ms: percentile(login, 95),
  };
}
