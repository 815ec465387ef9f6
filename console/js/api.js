// Calls to the gateway's REST API with the session's bearer token; an expired session goes to the login page and back,
// and a sensitive action that needs a fresh one-time code asks for it in a dialog and is sent again.
import { h } from './dom.js';
import { t } from './i18n.js';
const TOKEN = 'pag.token';
const USER = 'pag.user';
const RETURN = 'pag.return';

export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = e.code ?? 'HTTP_' + status;
    this.details = e.details ?? {};
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  get user() { try { return JSON.parse(sessionStorage.getItem(USER) ?? 'null'); } catch { return null; } },
  start(token, user) { sessionStorage.setItem(TOKEN, token); sessionStorage.setItem(USER, JSON.stringify(user)); },
  end() { sessionStorage.removeItem(TOKEN); sessionStorage.removeItem(USER); },
  /** Where to go after logging in: the page the person was on when the session ran out. */
  takeReturn() { const r = sessionStorage.getItem(RETURN); sessionStorage.removeItem(RETURN); return r; },
};

/** The session ran out (or the token was refused): remember the page, and let the router show the login. */
export function expired() {
  if (!location.hash.startsWith('#/login')) sessionStorage.setItem(RETURN, location.hash || '#/');
  session.end();
  sessionStorage.setItem('pag.expired', '1');
  location.hash = '#/login';
}

let asking = null;

/** Asks for a one-time code (one dialog however many requests wait for it); resolves true once the session is confirmed. */
function confirmStepUp() {
  asking ??= new Promise((resolve) => {
    const otp = h('input', { id: 'step-up-otp', name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', required: true, 'aria-describedby': 'step-up-why' });
    const msg = h('div', { class: 'alert error', role: 'alert', hidden: true });
    const cancel = h('button', { type: 'button', id: 'step-up-cancel' }, t('stepup.cancel'));
    const form = h('form', { novalidate: true },
      h('h2', { id: 'step-up-title' }, t('stepup.title')),
      h('p', { id: 'step-up-why' }, t('stepup.why')),
      msg,
      h('label', { for: 'step-up-otp' }, t('login.otp')), ' ', otp,
      h('p', {}, h('button', { type: 'submit', class: 'primary', id: 'step-up-confirm' }, t('stepup.confirm')), ' ', cancel));
    const dialog = h('dialog', { class: 'card narrow', id: 'step-up', 'aria-labelledby': 'step-up-title' }, form);
    let ok = false;
    const done = () => { dialog.remove(); asking = null; resolve(ok); };
    dialog.addEventListener('close', done);
    cancel.addEventListener('click', () => dialog.close());
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await send('POST', '/api/auth/step-up', { otp: otp.value.trim() });
        session.start(r.token, session.user);
        ok = true;
        dialog.close();
      } catch (e) {
        msg.hidden = false;
        msg.textContent = e instanceof ApiError && e.code === 'STEP_UP_FAILED' ? t('stepup.failed') : e.message;
        otp.value = '';
        otp.focus();
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    otp.focus();
  });
  return asking;
}

export async function api(method, path, body) {
  try {
    return await send(method, path, body);
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 'STEP_UP_REQUIRED') || !(await confirmStepUp())) throw e;
    return send(method, path, body);
  }
}

async function send(method, path, body) {
  const headers = { accept: 'application/json' };
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) {
    const err = new ApiError(res.status, json);
    if (res.status === 401 && err.code === 'UNAUTHENTICATED' && session.token) expired();
    throw err;
  }
  return json;
}

export const get = (p) => api('GET', p);
export const post = (p, b = {}) => api('POST', p, b);
export const put = (p, b) => api('PUT', p, b);
