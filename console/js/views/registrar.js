// The registrar's page: cases ready for the licence, and licensed cases whose permits are still outstanding.
import { get } from '../api.js';
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { caseLink, dueCell, errorBlock, gatewayNow, leftCell, table } from './common.js';

export function licenceView(main) {
  const ready = h('div', { id: 'licence-ready' });
  const permits = h('div', { id: 'permits-outstanding' });
  replace(main, h('section', { class: 'card' }, h('h1', {}, t('reg.licence')), ready), h('section', { class: 'card' }, h('h2', {}, t('reg.permits')), permits));
  async function load() {
    try {
      const [a, l, now] = await Promise.all([get('/api/cases?status=awaiting_licence&limit=200'), get('/api/cases?status=licensed&limit=200'), gatewayNow()]);
      replace(ready, a.cases.length
        ? table(t('reg.licence'), [t('col.reference'), t('col.enterprise'), t('lic.dueAt'), t('col.left')],
          a.cases.map((c) => ({ attrs: { 'data-case': c.id }, cells: [caseLink(c), c.application.enterpriseName, dueCell(c.licenceDueAt, c.licenceDueProvisional), leftCell(c.licenceDueAt, now, c.licenceWorkingDaysLeft)] })))
        : h('p', {}, t('reg.none')));
      const rows = l.cases.flatMap((c) => c.permits.filter((p) => !p.reportedAt).map((p) => ({
        attrs: { 'data-case': c.id },
        cells: [caseLink(c), c.application.enterpriseName, c.licence?.creditCode ?? '', p.departmentName, dueCell(p.dueAt, p.provisional), leftCell(p.dueAt, now, p.workingDaysLeft)],
      })));
      replace(permits, rows.length
        ? table(t('permit.outstanding'), [t('col.reference'), t('col.enterprise'), t('col.creditCode'), t('col.department'), t('col.dueAt'), t('col.left')], rows)
        : h('p', {}, t('reg.none')));
    } catch (e) {
      if (e.status !== 401) replace(ready, errorBlock(e));
    }
  }
  load();
  return { refresh: load };
}
