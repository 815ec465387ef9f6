// Pieces several pages share: status badges, case tables, the gateway's own clock, days left to a deadline.
import { h } from '../dom.js';
import { fmtDate, t } from '../i18n.js';

export const statusBadge = (status) => h('span', { class: `badge st-${status}`, 'data-status': status }, t('st.' + status));
export const reviewBadge = (state) => h('span', { class: `badge rv-${state}`, 'data-state': state }, t('rv.' + state));

/** A table with a caption and column headers; `rows` are arrays of cells (nodes or text). */
export function table(caption, headers, rows, attrs = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.map((r) => h('tr', r.attrs ?? {}, (r.cells ?? r).map((c) => h('td', {}, c)))))));
}

export const caseLink = (c) => h('a', { href: `#/case/${encodeURIComponent(c.id)}` }, c.reference);

/** The gateway's "now" (its clock may be manual), read from /healthz; falls back to the browser's. */
export async function gatewayNow() {
  try {
    const r = await fetch('/healthz');
    const j = await r.json();
    return Date.parse(j.now) || Date.now();
  } catch {
    return Date.now();
  }
}

const shanghaiDay = (ms) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(ms));

/** Days from today to the due date, counted by Shanghai calendar date (the due instant is the end of a working day). */
export function daysLeft(dueIso, nowMs) {
  if (!dueIso) return null;
  const a = Date.parse(`${shanghaiDay(nowMs)}T00:00:00Z`);
  const b = Date.parse(`${shanghaiDay(Date.parse(dueIso))}T00:00:00Z`);
  const n = Math.round((b - a) / 86_400_000);
  // Past its due instant is overdue by at least one day, even on the due date itself.
  return Date.parse(dueIso) < nowMs ? -Math.max(1, -n) : n;
}

/**
 * The countdown of a deadline: in working days when the gateway gives them (`workingDays`, from its calendar), else in
 * calendar days (a span the calendar does not cover yet).
 */
export function leftCell(dueIso, nowMs, workingDays) {
  if (!dueIso) return '—';
  const working = typeof workingDays === 'number';
  const n = working ? (Date.parse(dueIso) < nowMs ? Math.min(workingDays, -1) : workingDays) : daysLeft(dueIso, nowMs);
  const unit = working ? 'left.workdays' : 'left.days';
  const cls = n < 0 ? 'left over' : n <= 1 ? 'left near' : 'left';
  return h('span', { class: cls, 'data-days-left': String(n), 'data-unit': working ? 'working' : 'calendar' },
    n < 0 ? t(working ? 'left.overWorkdays' : 'left.over', { n: -n }) : n === 0 ? t('left.today') : t(unit, { n }));
}

export function errorBlock(e) {
  return h('p', { class: 'alert error', role: 'alert' }, t('error', { msg: e?.message ?? String(e) }));
}

export const dueCell = (iso, provisional) => h('span', {}, fmtDate(iso), provisional ? ' *' : '');
