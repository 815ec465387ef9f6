// The supervisor's page: overdue and near-deadline items, deemed approvals, failed deliveries, overdue complaints, and two bar charts in SVG.
import { get, post, session } from '../api.js';
import { alertBox, errorText, showAlert } from '../form.js';
import { h, replace, s } from '../dom.js';
import { fmtDate, t } from '../i18n.js';
import { errorBlock, table } from './common.js';

const STATUSES = ['submitted', 'returned', 'refused', 'in_review', 'terminated', 'awaiting_licence', 'licensed', 'operating', 'concluded'];

/** Horizontal bars, one group per label; values are also written as text so the chart reads without colour. */
function barChart(title, labels, series) {
  const rowH = 18 * series.length + 10;
  const width = 520, left = 190, max = Math.max(1, ...series.flatMap((x) => x.values));
  const height = labels.length * rowH + 30;
  const scale = (v) => Math.round((v / max) * (width - left - 40));
  return h('figure', { class: 'chart' },
    s('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': title },
      s('title', {}, title),
      labels.flatMap((label, i) => [
        s('text', { x: left - 6, y: i * rowH + 14, 'text-anchor': 'end', class: 'chart-label' }, label),
        ...series.map((ser, j) => {
          const v = ser.values[i];
          const y = i * rowH + j * 18 + 2;
          return s('g', {}, s('rect', { x: left, y, width: Math.max(scale(v), v ? 2 : 0), height: 14, class: `bar bar-${j}` }), s('text', { x: left + scale(v) + 4, y: y + 11, class: 'chart-value' }, String(v)));
        }),
      ]),
      series.map((ser, j) => s('g', {}, s('rect', { x: left + j * 110, y: height - 14, width: 12, height: 12, class: `bar bar-${j}` }), s('text', { x: left + j * 110 + 16, y: height - 4, class: 'chart-label' }, ser.name)))),
    h('figcaption', {}, title));
}

const refRows = (items, dep = true) => items.map((x) => ({ cells: [h('a', { href: `#/case/${encodeURIComponent(x.caseId)}` }, x.reference ?? x.caseId), ...(dep ? [x.departmentId ?? '—'] : []), fmtDate(x.dueAt)] }));

const round1 = (v) => (v === null || v === undefined ? 0 : Math.round(v * 10) / 10);
const pct = (v) => (v === null || v === undefined ? 0 : Math.round(v * 1000) / 10);

/** The statistics at a glance (GET /api/stats): time per department, cases per month, deemed approval and refusal rates. */
function statsCharts(st) {
  const deps = Object.keys(st.timeTaken.perDepartment).sort();
  const rateDeps = Object.keys(st.rates.perDepartment).sort();
  const months = Object.keys(st.cases.byMonth).sort();
  const csv = h('button', { type: 'button', class: 'secondary small', id: 'stats-csv', onclick: async () => {
    // A link cannot carry the bearer token: fetch the CSV and hand it to the browser as a file.
    const res = await fetch('/api/stats.csv', { headers: { authorization: `Bearer ${session.token}` } });
    if (!res.ok) return;
    const a = h('a', { href: URL.createObjectURL(await res.blob()), download: 'pag-stats.csv' });
    document.body.append(a);
    a.click();
    a.remove();
  } }, t('sup.csv'));
  return h('section', { class: 'card', id: 'sup-stats' },
    h('h2', {}, t('sup.stats'), ' ', csv),
    h('div', { class: 'charts' },
      deps.length ? barChart(t('sup.timePerDept'), deps, [
        { name: t('sup.median'), values: deps.map((d) => round1(st.timeTaken.perDepartment[d].medianHours)) },
        { name: t('sup.p90'), values: deps.map((d) => round1(st.timeTaken.perDepartment[d].p90Hours)) }]) : null,
      months.length ? barChart(t('sup.perMonth'), months, [{ name: t('col.count'), values: months.map((m) => st.cases.byMonth[m]) }]) : null,
      rateDeps.length ? barChart(t('sup.rates'), rateDeps, [
        { name: t('sup.deemedRate'), values: rateDeps.map((d) => pct(st.rates.perDepartment[d].deemedApprovalRate)) },
        { name: t('sup.refusalRate'), values: rateDeps.map((d) => pct(st.rates.perDepartment[d].refusalRate)) }]) : null));
}

export function supervisionView(main) {
  const out = h('div', { id: 'supervision' });
  replace(main, h('h1', {}, t('sup.title')), out);
  const failedBox = alertBox();
  async function resend(id) {
    showAlert(failedBox, '');
    try { await post(`/api/outbox/${encodeURIComponent(id)}/resend`); showAlert(failedBox, t('sup.resent'), 'info'); await load(); }
    catch (e) { if (e.status !== 401) showAlert(failedBox, errorText(e)); }
  }
  async function load() {
    try {
      const [r, counts, st] = await Promise.all([
        get('/api/supervision/overdue'),
        Promise.all(STATUSES.map((x) => get(`/api/cases?status=${x}&limit=1`).then((y) => y.total))),
        get('/api/stats'),
      ]);
      const deps = Object.keys(r.perDepartment).sort();
      const per = (k) => deps.map((d) => r.perDepartment[d][k]);
      const cols = [t('col.case'), t('col.department'), t('col.dueAt')];
      const section = (id, title, items, dep = true) => h('section', { class: 'card', id }, items.length ? table(`${title} (${items.length})`, dep ? cols : [t('col.case'), t('col.dueAt')], refRows(items, dep)) : [h('h2', {}, title), h('p', { 'data-count': '0' }, '0')]);
      replace(out,
        h('p', {}, t('sup.now', { now: fmtDate(r.now, true) })),
        h('div', { class: 'tiles' },
          [['sup.overdue', r.reviews.overdue.length], ['sup.near', r.reviews.nearDeadline.length], ['sup.deemed', r.reviews.deemedApproved.length], ['sup.failed', r.failedDeliveries.length],
            ['sup.licOverdue', r.licences.overdue.length], ['sup.permitOverdue', r.permits.overdue.length], ['sup.complaintsOverdue', r.complaints.overdue.length]].map(([k, n]) =>
            h('div', { class: `tile${n ? ' warn' : ''}`, 'data-tile': k }, h('span', { class: 'tile-n' }, String(n)), h('span', {}, t(k))))),
        h('div', { class: 'charts' },
          h('section', { class: 'card' }, barChart(t('sup.byStatus'), STATUSES.map((st) => t('st.' + st)), [{ name: t('col.count'), values: counts }])),
          deps.length ? h('section', { class: 'card' }, barChart(t('sup.perDept'), deps, [
            { name: t('sup.open'), values: per('open') }, { name: t('sup.near'), values: per('nearDeadline') }, { name: t('sup.deemed'), values: per('deemedApproved') }])) : null),
        statsCharts(st),
        section('sup-overdue', t('sup.overdue'), r.reviews.overdue),
        section('sup-near', t('sup.near'), r.reviews.nearDeadline),
        section('sup-deemed', t('sup.deemed'), r.reviews.deemedApproved),
        section('sup-extended', t('sup.extended'), r.reviews.extended),
        section('sup-lic', t('sup.licOverdue'), r.licences.overdue, false),
        section('sup-permits', t('sup.permitOverdue'), r.permits.overdue),
        section('sup-complaints', t('sup.complaintsOverdue'), r.complaints.overdue),
        h('section', { class: 'card', id: 'sup-failed' }, r.failedDeliveries.length
          ? [failedBox, table(t('sup.failed'), [t('col.case'), t('col.department'), t('col.kind'), t('col.attempts'), t('col.lastError'), t('col.actions')],
            r.failedDeliveries.map((m) => ({ attrs: { 'data-message': m.messageId }, cells: [m.caseId ? h('a', { href: `#/case/${encodeURIComponent(m.caseId)}` }, m.caseId) : '—', m.departmentId, m.kind, String(m.attempts), m.lastError ?? '',
              // Resending is the administrator's (with a fresh one-time code); the supervisor only sees the failure.
              session.user.role === 'admin' ? h('button', { type: 'button', class: 'secondary small', 'aria-label': `${t('sup.resend')} ${m.messageId}`, onclick: () => resend(m.messageId) }, t('sup.resend')) : ''] })))]
          : [h('h2', {}, t('sup.failed')), h('p', {}, '0')]),
        r.provisionalDeadlines.length ? section('sup-provisional', t('sup.provisional'), r.provisionalDeadlines.map((p) => ({ ...p, reference: p.caseId }))) : null);
    } catch (e) {
      if (e.status !== 401) replace(out, errorBlock(e));
    }
  }
  load();
  return { refresh: load };
}
