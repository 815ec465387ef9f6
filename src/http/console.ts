// The browser console: static files from console/ served at / under a strict Content-Security-Policy.
import express from 'express';
import { join } from 'node:path';
import { ROOT } from '../paths.js';

/** Scripts and styles only from this origin, no inline code, no plugins, no framing: injected markup could not run. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function mountConsole(app: express.Express): void {
  app.use(
    express.static(join(ROOT, 'console'), {
      index: 'index.html',
      // The console is small and changes with the gateway: revalidate rather than serve a stale script after an upgrade.
      cacheControl: true,
      maxAge: 0,
      setHeaders: (res) => {
        res.setHeader('content-security-policy', CONSOLE_CSP);
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader('referrer-policy', 'no-referrer');
        res.setHeader('x-frame-options', 'DENY');
      },
    }),
  );
}
