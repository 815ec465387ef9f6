// Administration: adapters with health and a test button, departments, routes, eligibility rules, the calendar, users and keys.
import { ApiError, get, post, put, session } from '../api.js';
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { alertBox, clearErrors, errorText, field, showAlert, showErrors } from '../form.js';
import { errorBlock, table } from './common.js';

const TABS = ['adapters', 'departments', 'routes', 'eligibility', 'calendar', 'users', 'keys'];

/** Problems of a refused change, each naming the field (JSON path) the API named. */
function problems(e) {
  if (e.details?.errors?.length) return e.details.errors.map((p) => `${p.path}: ${p.message}`);
  if (e.details?.path) return [`${e.details.path}: ${e.details.reason ?? e.message}`];
  return [errorText(e)];
}
function showProblems(box, e) {
  box.hidden = false;
  box.className = 'alert error';
  replace(box, h('ul', {}, problems(e).map((p) => h('li', { class: 'problem' }, p))));
}

/** A JSON editor for one section of the configuration; the API validates the whole document and names the bad field. */
function jsonEditor(title, load, save) {
  const area = h('textarea', { rows: '18', class: 'code', spellcheck: 'false', name: 'json' });
  const box = alertBox();
  const readOnly = session.user.role !== 'admin';
  const form = h('form', { class: 'stack', novalidate: true }, box, field(t('adm.json', { what: title }), '/', area),
    readOnly ? null : h('button', { type: 'submit', class: 'primary' }, t('adm.save')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let value;
    try { value = JSON.parse(area.value); } catch (err) { return showAlert(box, `JSON: ${err.message}`); }
    try { const r = await save(value); showAlert(box, t('adm.saved', { v: r.version }), 'info'); }
    catch (e) { if (e instanceof ApiError && e.status !== 401) showProblems(box, e); }
  });
  load().then((v) => { area.value = JSON.stringify(v, null, 2); }, (e) => showAlert(box, errorText(e)));
  return form;
}

function adaptersTab(out) {
  const box = alertBox();
  const list = h('div', {});
  const canWrite = session.user.role === 'admin';
  async function load() {
    const r = await get('/api/admin/adapters');
    replace(list, table(t('adm.adapters'), ['', t('col.kind'), t('adm.enabled'), t('col.department'), t('adm.health'), t('col.actions')],
      r.adapters.map((a) => ({ attrs: { 'data-adapter': a.name }, cells: [a.name, a.kind, a.enabled ? t('yes') : t('no'), a.departments.join(', '),
        h('span', { class: a.health?.ok ? 'health ok' : 'health bad' }, a.health?.ok ? t('adm.ok') : t('adm.bad'), a.health?.detail ? ` — ${a.health.detail}` : ''),
        canWrite ? h('span', { class: 'row-actions' },
          h('button', { type: 'button', class: 'secondary small', 'aria-label': `${t('adm.test')} ${a.name}`, onclick: () => test(a.name) }, t('adm.test')),
          h('button', { type: 'button', class: 'secondary small', onclick: () => toggle(a) }, a.enabled ? t('adm.disable') : t('adm.enable'))) : ''] }))));
  }
  async function test(name) {
    showAlert(box, '');
    try {
      const r = await post(`/api/admin/adapters/${encodeURIComponent(name)}/test`);
      const ok = r.ok ?? r.success ?? !r.error;
      showAlert(box, ok ? t('adm.testOk', { ms: r.roundTripMs ?? r.ms ?? '?' }) : t('adm.testFail', { why: `${r.failure ?? ''} ${r.detail ?? ''}`.trim() }), ok ? 'info' : 'error');
    } catch (e) { if (e.status !== 401) showProblems(box, e); }
  }
  async function toggle(a) {
    try { await post(`/api/admin/adapters/${encodeURIComponent(a.name)}/${a.enabled ? 'disable' : 'enable'}`); await load(); } catch (e) { if (e.status !== 401) showProblems(box, e); }
  }
  replace(out, h('section', { class: 'card' }, box, list));
  return load;
}

function departmentsTab(out) {
  const list = h('div', {});
  const editor = h('div', {});
  async function load() {
    const r = await get('/api/admin/departments');
    replace(list, table(t('adm.departments'), [t('adm.depId'), t('adm.depName'), t('adm.depType'), t('adm.depLevel'), t('adm.depAdapter')],
      r.departments.map((d) => ({ attrs: { 'data-department': d.id }, cells: [d.id, d.name, d.type, d.level, d.adapter] }))));
    if (!editor.firstChild && session.user.role === 'admin') {
      replace(editor, h('h2', {}, t('adm.editDept')), jsonEditor(t('adm.departments'), async () => r.departments[0], (v) => put(`/api/admin/departments/${encodeURIComponent(v.id ?? '')}`, v)));
    }
  }
  replace(out, h('section', { class: 'card' }, list), h('section', { class: 'card' }, editor));
  return load;
}

function sectionTab(out, name, title) {
  replace(out, h('section', { class: 'card' }, jsonEditor(title, async () => (await get(`/api/admin/${name}`))[name], (v) => put(`/api/admin/${name}`, v))));
  return null;
}

function calendarTab(out) {
  const info = h('div', {});
  const box = alertBox();
  const day = h('input', { type: 'date', name: 'day' });
  const kind = h('select', { name: 'kind' }, ['holiday', 'workday', 'normal'].map((k) => h('option', { value: k }, t('dk.' + k))));
  const form = h('form', { class: 'row', novalidate: true }, field(t('adm.day'), '/day', day), field(t('adm.dayKind'), '/kind', kind), h('button', { type: 'submit', class: 'primary' }, t('adm.setDay')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { const r = await put(`/api/admin/calendar/days/${encodeURIComponent(day.value)}`, { kind: kind.value }); showAlert(box, t('adm.saved', { v: r.version }), 'info'); await load(); }
    catch (e) { if (e.status !== 401) showProblems(box, e); }
  });
  async function load() {
    const c = await get('/api/admin/calendar');
    const years = c.years ?? [];
    replace(info, h('p', {}, t('adm.version', { v: c.version, years: Array.isArray(years) ? years.join(', ') : Object.keys(years).join(', ') })),
      c.edits?.length ? table(t('adm.calendar'), [t('adm.day'), t('adm.dayKind'), ''], c.edits.map((e) => [e.day, t('dk.' + e.kind), e.changedBy ?? ''])) : null);
  }
  replace(out, h('section', { class: 'card' }, info, session.user.role === 'admin' ? [box, form] : null));
  return load;
}

function usersTab(out) {
  const list = h('div', {});
  const box = alertBox();
  const enrol = h('div', { id: 'new-user-secret', 'aria-live': 'polite' });
  const username = h('input', { name: 'username', autocomplete: 'off', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: '8' });
  const role = h('select', { name: 'role' }, ['secretary', 'registrar', 'reviewer', 'supervisor', 'admin'].map((r) => h('option', { value: r }, t('role.' + r))));
  const department = h('input', { name: 'departmentId', autocomplete: 'off' });
  const form = h('form', { class: 'stack', id: 'user-form', novalidate: true },
    h('h2', {}, t('adm.addUser')), box,
    field(t('login.username'), '/username', username), field(t('login.password'), '/password', password, t('adm.passwordHint')),
    field(t('adm.role'), '/role', role), field(t('adm.userDept'), '/departmentId', department, t('adm.userDeptHint')),
    h('button', { type: 'submit', class: 'primary' }, t('adm.addUser')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    showAlert(box, '');
    try {
      const r = await post('/api/admin/users', { username: username.value.trim(), password: password.value, role: role.value, ...(department.value.trim() ? { departmentId: department.value.trim() } : {}) });
      password.value = '';
      // Shown once: the new user enrols this secret in an authenticator app.
      replace(enrol, h('p', { class: 'alert info' }, t('adm.userAdded', { name: r.user.username })), h('p', {}, h('code', { class: 'otpauth' }, r.otpauth)));
      await load();
    } catch (e) {
      if (!(e instanceof ApiError) || e.status === 401) return;
      const left = showErrors(form, e.details?.errors ?? (e.details?.path ? [{ path: e.details.path, message: e.message }] : []));
      if (left.length || !e.details?.errors) showAlert(box, errorText(e));
    }
  });
  async function load() {
    const r = await get('/api/admin/users');
    replace(list, table(t('adm.users'), [t('login.username'), t('adm.role'), t('adm.userDept')],
      r.users.map((u) => ({ attrs: { 'data-user': u.username }, cells: [u.username, t('role.' + u.role), u.departmentId ?? ''] }))));
  }
  replace(out, h('section', { class: 'card' }, list), session.user.role === 'admin' ? h('section', { class: 'card' }, form, enrol) : null);
  return load;
}

function keysTab(out) {
  const list = h('div', {});
  const box = alertBox();
  const canWrite = session.user.role === 'admin';
  async function act(path, body) {
    showAlert(box, '');
    try { await post(path, body); showAlert(box, t('adm.keyDone'), 'info'); await load(); } catch (e) { if (e.status !== 401) showProblems(box, e); }
  }
  async function load() {
    const r = await get('/api/admin/keys');
    replace(list, table(t('adm.keys'), ['kid', t('adm.keyOwner'), t('adm.keyAlg'), t('col.status'), t('adm.keyValid'), t('col.actions')],
      r.keys.map((k) => ({ attrs: { 'data-kid': k.kid, 'data-status': k.status }, cells: [k.kid + (k.demo ? ' (demo)' : ''), k.owner, k.alg, t('ks.' + k.status), `${k.notBefore.slice(0, 10)} – ${k.notAfter.slice(0, 10)}`,
        canWrite ? h('span', { class: 'row-actions' },
          k.signsHere && k.status === 'active' ? h('button', { type: 'button', class: 'secondary small', 'aria-label': `${t('adm.rotate')} ${k.kid}`, onclick: () => act(`/api/admin/keys/${encodeURIComponent(k.owner)}/rotate`, { alg: k.alg }) }, t('adm.rotate')) : null,
          k.status !== 'revoked' ? h('button', { type: 'button', class: 'secondary small', 'aria-label': `${t('adm.revoke')} ${k.kid}`, onclick: () => { if (confirm(t('adm.revokeConfirm', { kid: k.kid }))) act(`/api/admin/keys/${encodeURIComponent(k.kid)}/revoke`); } }, t('adm.revoke')) : null) : ''] }))));
  }
  replace(out, h('section', { class: 'card' }, box, list));
  return load;
}

export function adminView(main, tab = 'adapters') {
  if (!TABS.includes(tab)) tab = 'adapters';
  const out = h('div', { id: `admin-${tab}` });
  replace(main, h('h1', {}, t('adm.title')),
    h('nav', { class: 'tabs', 'aria-label': t('adm.title') }, TABS.map((x) => h('a', { href: `#/admin/${x}`, 'aria-current': x === tab ? 'page' : null }, t('adm.' + x)))),
    out);
  const loader = { adapters: adaptersTab, departments: departmentsTab, routes: (o) => sectionTab(o, 'routes', t('adm.routes')), eligibility: (o) => sectionTab(o, 'eligibility', t('adm.eligibility')), calendar: calendarTab, users: usersTab, keys: keysTab }[tab](out);
  const load = async () => { try { await loader?.(); } catch (e) { if (e.status !== 401) out.append(errorBlock(e)); } };
  load();
  // Editors keep what the administrator typed; only the read-only lists follow live changes.
  return { refresh: loader ? load : null };
}
