// Printable forms: the Parallel Approval Application (并联审批申请表) and the Notification Form (抄告单), clean on paper.
import { get } from '../api.js';
import { h, replace } from '../dom.js';
import { fmtDate, t } from '../i18n.js';
import { errorBlock } from './common.js';

const TITLES = {
  application: { zh: '企业登记并联审批申请表', en: 'Parallel Approval Application' },
  notification: { zh: '并联审批抄告单', en: 'Parallel Approval Notification Form' },
};

export function printView(main, kind, caseId) {
  async function load() {
    try {
      const c = await get(`/api/cases/${encodeURIComponent(caseId)}`);
      const a = c.application;
      const en = document.documentElement.lang === 'en';
      const row = (k, v) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
      const facts = h('table', { class: 'form-table' }, h('tbody', {},
        row(t('col.reference'), c.reference),
        row(t('f.enterpriseName'), a.enterpriseName),
        row(t('f.legalForm'), t('lf.' + a.legalForm)),
        row(t('f.registeredCapital'), a.registeredCapital.toLocaleString('zh-CN')),
        row(t('f.industry'), a.industry),
        row(t('f.businessScope'), a.businessScope.join('、')),
        row(t('f.address'), a.address),
        row(t('f.divisionCode'), a.divisionCode),
        kind === 'application' ? row(t('f.investors'), a.investors.map((i) => `${i.name} ${i.idNumber}`).join('；')) : null,
        kind === 'application' ? row(t('f.contact'), `${a.contact.name} ${a.contact.phone}`) : null,
        row(t('col.updated'), fmtDate(c.createdAt, true))));
      const reviews = kind === 'notification'
        ? h('table', { class: 'form-table' },
          h('thead', {}, h('tr', {}, [t('col.department'), t('col.state'), t('col.dueAt')].map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', {}, c.reviews.map((r) => h('tr', {}, h('td', {}, r.departmentName), h('td', {}, t('rv.' + r.state)), h('td', {}, fmtDate(r.dueAt))))))
        : null;
      replace(main, h('article', { class: 'print-page', id: `print-${kind}` },
        h('p', { class: 'no-print actions' },
          h('button', { type: 'button', class: 'primary', onclick: () => window.print() }, t('act.print')),
          h('a', { class: 'button-link', href: `#/case/${encodeURIComponent(c.id)}` }, t('act.back'))),
        h('h1', {}, en ? TITLES[kind].en : TITLES[kind].zh),
        facts, reviews,
        h('p', { class: 'signature' }, en ? 'Seal of the registration authority / date' : '登记机关（盖章）　　　年　　月　　日')));
    } catch (e) {
      if (e.status !== 401) replace(main, errorBlock(e));
    }
  }
  load();
  return { refresh: load, caseId };
}
