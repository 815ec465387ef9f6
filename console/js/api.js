// Calls to the gateway's REST API with the session's bearer token; an expired session goes to the login page and back.
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

export async function api(method, path, body) {
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
