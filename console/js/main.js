// The console's shell: header, navigation by role, hash routes, live status, language switch.
import { session } from './api.js';
import { h, replace } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { connect, disconnect, onStatus, subscribe } from './live.js';
import { loginView } from './views/login.js';
import { newApplicationView, casesView } from './views/secretary.js';
import { caseView } from './views/case.js';
import { queueView } from './views/reviewer.js';
import { licenceView } from './views/registrar.js';
import { supervisionView } from './views/supervisor.js';
import { adminView } from './views/admin.js';
import { printView } from './views/print.js';

const NAV = {
  secretary: [['#/new', 'nav.new'], ['#/cases', 'nav.cases']],
  reviewer: [['#/queue', 'nav.queue']],
  registrar: [['#/licence', 'nav.licence'], ['#/cases', 'nav.all']],
  supervisor: [['#/supervision', 'nav.supervision'], ['#/cases', 'nav.all'], ['#/admin', 'nav.admin']],
  admin: [['#/admin', 'nav.admin'], ['#/supervision', 'nav.supervision'], ['#/cases', 'nav.all']],
};
const HOME = { secretary: '#/new', reviewer: '#/queue', registrar: '#/licence', supervisor: '#/supervision', admin: '#/admin' };
export const home = () => HOME[session.user?.role] ?? '#/login';

/** Route pattern, view, roles allowed (none: anyone logged in). */
const ROUTES = [
  [/^#\/new$/, newApplicationView, ['secretary', 'admin']],
  [/^#\/resubmit\/([^/]+)$/, newApplicationView, ['secretary', 'admin']],
  [/^#\/cases$/, casesView, null],
  [/^#\/case\/([^/]+)$/, caseView, null],
  [/^#\/print\/(application|notification)\/([^/]+)$/, printView, ['secretary', 'admin', 'registrar', 'supervisor']],
  [/^#\/queue$/, queueView, ['reviewer']],
  [/^#\/licence$/, licenceView, ['registrar', 'admin', 'supervisor']],
  [/^#\/supervision$/, supervisionView, ['supervisor', 'admin']],
  [/^#\/admin(?:\/(\w+))?$/, adminView, ['admin', 'supervisor']],
];

const main = document.getElementById('main');
let current = null; // { refresh, dispose }
let refreshTimer = null;

function chrome() {
  document.documentElement.lang = lang;
  document.title = t('app.title');
  document.getElementById('brand').textContent = t('app.title');
  document.getElementById('skip-link').textContent = t('skip');
  const langBtn = document.getElementById('lang');
  langBtn.textContent = t('lang.switch');
  langBtn.setAttribute('lang', lang === 'en' ? 'zh-CN' : 'en');
  const out = document.getElementById('logout');
  out.textContent = t('logout');
  const u = session.user;
  out.hidden = !u;
  document.getElementById('nav').setAttribute('aria-label', t('app.title'));
  replace(document.getElementById('who'), u ? `${u.username} · ${t('role.' + u.role)}${u.departmentId ? ' · ' + u.departmentId : ''}` : '');
  const here = location.hash.split('?')[0];
  replace(document.getElementById('nav'), u ? (NAV[u.role] ?? []).map(([href, key]) => h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : null }, t(key))) : []);
}

async function render() {
  current?.dispose?.();
  current = null;
  const hash = location.hash || '#/';
  if (!session.token && !hash.startsWith('#/login')) {
    // Not logged in: log in first, then come back here.
    if (hash !== '#/' && hash !== '#/login') sessionStorage.setItem('pag.return', hash);
    location.replace('#/login');
    return;
  }
  if (hash === '#/' || (hash.startsWith('#/login') && session.token)) {
    location.replace(home());
    return;
  }
  chrome();
  if (hash.startsWith('#/login')) {
    disconnect();
    current = loginView(main);
    return;
  }
  connect();
  for (const [re, view, roles] of ROUTES) {
    const m = re.exec(hash);
    if (!m) continue;
    if (roles && !roles.includes(session.user.role)) {
      replace(main, h('p', { role: 'alert' }, t('forbidden')));
      return;
    }
    replace(main, h('p', {}, t('loading')));
    current = view(main, ...m.slice(1).map((x) => (x === undefined ? x : decodeURIComponent(x)))) ?? null;
    return;
  }
  replace(main, h('p', { role: 'alert' }, t('notFound')));
}

// Live: a burst of events (one step writes several) becomes one refresh of the page shown.
subscribe((e) => {
  if (!current?.refresh) return;
  if (current.caseId && e.caseId && e.caseId !== current.caseId) return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => current?.refresh?.(e), 100);
});

onStatus((state) => {
  const el = document.getElementById('live');
  el.dataset.state = state;
  el.textContent = state === 'open' ? t('live.on') : state === 'closed' ? t('live.off') : state === 'connecting' ? t('live.connecting') : '';
});

document.getElementById('lang').addEventListener('click', () => {
  setLang(lang === 'en' ? 'zh-CN' : 'en');
  render();
});
document.getElementById('logout').addEventListener('click', () => {
  session.end();
  disconnect();
  location.hash = '#/login';
});
window.addEventListener('hashchange', render);
setLang(lang);
render();
