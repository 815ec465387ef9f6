// The reviewer's queue: open reviews of their department with the due date and the days left, and the department's other cases.
import { get, session } from '../api.js';
import { h, replace } from '../dom.js';
import { fmtDate, t } from '../i18n.js';
import { caseLink, dueCell, errorBlock, gatewayNow, leftCell, reviewBadge, statusBadge, table } from './common.js';

const OPEN = ['pending_delivery', 'delivered', 'extended'];

export function queueView(main) {
  const dep = session.user.departmentId;
  const open = h('div', { id: 'queue' });
  const rest = h('div', { id: 'answered' });
  replace(main, h('section', { class: 'card' }, h('h1', {}, t('queue.title', { dep })), open, h('p', { class: 'hint' }, t('left.note'))), h('section', { class: 'card' }, rest));
  async function load() {
    try {
      const [r, now] = await Promise.all([get('/api/cases?limit=200'), gatewayNow()]);
      const mine = (c) => c.reviews.find((x) => x.departmentId === dep);
      const pending = r.cases.filter((c) => c.status === 'in_review' && OPEN.includes(mine(c)?.state)).sort((a, b) => Date.parse(mine(a).dueAt ?? 0) - Date.parse(mine(b).dueAt ?? 0));
      replace(open, pending.length
        ? table(t('queue.title', { dep }), [t('col.reference'), t('col.enterprise'), t('col.state'), t('col.dueAt'), t('col.left')],
          pending.map((c) => ({ attrs: { 'data-case': c.id }, cells: [caseLink(c), c.application.enterpriseName, reviewBadge(mine(c).state), dueCell(mine(c).dueAt, mine(c).provisional), leftCell(mine(c).dueAt, now, mine(c).workingDaysLeft)] })))
        : h('p', {}, t('queue.none')));
      const others = r.cases.filter((c) => !pending.includes(c));
      replace(rest, table(t('queue.answered'), [t('col.reference'), t('col.enterprise'), t('col.status'), t('col.state'), t('col.updated')],
        others.map((c) => ({ attrs: { 'data-case': c.id }, cells: [caseLink(c), c.application.enterpriseName, statusBadge(c.status), mine(c) ? reviewBadge(mine(c).state) : '—', fmtDate(c.updatedAt, true)] }))));
    } catch (e) {
      if (e.status !== 401) replace(open, errorBlock(e));
    }
  }
  load();
  return { refresh: load };
}
