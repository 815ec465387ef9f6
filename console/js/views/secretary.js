// The secretary's pages: the application form (API field errors next to each field, draft kept) and the case lists.
import { ApiError, get, post } from '../api.js';
import { h, replace } from '../dom.js';
import { fmtDate, t } from '../i18n.js';
import { alertBox, clearErrors, errorText, field, keepDraft, loadDraft, restoreDraft, showAlert, showErrors } from '../form.js';
import { caseLink, errorBlock, statusBadge, table } from './common.js';

const LEGAL_FORMS = ['limited_liability_company', 'joint_stock_company', 'sole_proprietorship', 'partnership', 'individual_business', 'branch'];
const NEW_DRAFT = 'pag.draft.application';

function investorRow(i, onRemove) {
  const name = h('input', { name: `investors.${i}.name`, autocomplete: 'off' });
  const id = h('input', { name: `investors.${i}.idNumber`, autocomplete: 'off' });
  return h('fieldset', { class: 'investor', 'data-index': String(i) },
    h('legend', {}, t('f.investorN', { n: i + 1 })),
    h('div', { class: 'row' }, field(t('f.investorName'), `/investors/${i}/name`, name), field(t('f.idNumber'), `/investors/${i}/idNumber`, id)),
    i > 0 ? h('button', { type: 'button', class: 'link-button', onclick: onRemove }, t('f.removeInvestor', { n: i + 1 })) : null,
    h('p', { class: 'field-error', 'data-error-for': `/investors/${i}`, hidden: true }));
}

/** The form's values as the API's application document; numbers that are not numbers go as typed, for the API to judge. */
function readApplication(form) {
  const v = (n) => form.elements.namedItem(n)?.value.trim() ?? '';
  const capital = v('registeredCapital');
  const investors = [...form.querySelectorAll('fieldset.investor')].map((_, i) => ({ name: v(`investors.${i}.name`), idNumber: v(`investors.${i}.idNumber`) }));
  const app = {
    enterpriseName: v('enterpriseName'),
    legalForm: v('legalForm') || undefined,
    registeredCapital: /^\d+$/.test(capital) ? Number(capital) : capital === '' ? undefined : capital,
    industry: v('industry'),
    businessScope: [...form.querySelectorAll('input[name="businessScope"]:checked')].map((x) => x.value),
    address: v('address'),
    divisionCode: v('divisionCode'),
    investors,
    contact: { name: v('contact.name'), phone: v('contact.phone'), ...(v('contact.email') ? { email: v('contact.email') } : {}) },
  };
  return JSON.parse(JSON.stringify(app));
}

/** The API's application as the form's draft (the field names keepDraft uses). */
function draftOf(a) {
  const d = {
    enterpriseName: a.enterpriseName, legalForm: a.legalForm, registeredCapital: String(a.registeredCapital), industry: a.industry,
    businessScope: a.businessScope, address: a.address, divisionCode: a.divisionCode,
    'contact.name': a.contact.name, 'contact.phone': a.contact.phone, 'contact.email': a.contact.email ?? '',
  };
  a.investors.forEach((x, i) => { d[`investors.${i}.name`] = x.name; d[`investors.${i}.idNumber`] = x.idNumber; });
  return d;
}

/** A new application, or (with `resubmitId`) the corrected application of a case returned for correction. */
export function newApplicationView(main, resubmitId) {
  const DRAFT = resubmitId ? `${NEW_DRAFT}.resubmit.${resubmitId}` : NEW_DRAFT;
  const box = alertBox();
  const scopeBox = h('div', { class: 'checks', role: 'group' });
  const investors = h('div', { class: 'investors' });
  const draft = loadDraft(DRAFT);
  let count = Math.max(1, Object.keys(draft ?? {}).filter((k) => /^investors\.\d+\.name$/.test(k)).length);
  const drawInvestors = () => {
    replace(investors, Array.from({ length: count }, (_, i) => investorRow(i, () => { keeper.save(); count -= 1; drawInvestors(); restoreDraft(form, loadDraft(DRAFT)); keeper.save(); })));
  };
  const scopeField = h('fieldset', { class: 'field' },
    h('legend', {}, t('f.businessScope')), scopeBox,
    h('p', { class: 'field-error', 'data-error-for': '/businessScope', hidden: true }));
  const form = h('form', { class: 'card', novalidate: true, id: 'application-form' },
    h('h1', { id: 'application-title' }, resubmitId ? t('resub.title') : t('new.title')),
    box,
    field(t('f.enterpriseName'), '/enterpriseName', h('input', { name: 'enterpriseName', autocomplete: 'organization' })),
    h('div', { class: 'row' },
      field(t('f.legalForm'), '/legalForm', h('select', { name: 'legalForm' }, LEGAL_FORMS.map((f) => h('option', { value: f }, t('lf.' + f))))),
      field(t('f.registeredCapital'), '/registeredCapital', h('input', { name: 'registeredCapital', inputmode: 'numeric' })),
      field(t('f.industry'), '/industry', h('input', { name: 'industry' }))),
    scopeField,
    h('div', { class: 'row' },
      field(t('f.address'), '/address', h('input', { name: 'address', autocomplete: 'street-address' })),
      field(t('f.divisionCode'), '/divisionCode', h('input', { name: 'divisionCode', value: '320102', inputmode: 'numeric' }))),
    h('fieldset', { class: 'field' }, h('legend', {}, t('f.investors')), investors,
      h('p', { class: 'field-error', 'data-error-for': '/investors', hidden: true }),
      h('button', { type: 'button', class: 'secondary', onclick: () => { keeper.save(); count += 1; drawInvestors(); restoreDraft(form, loadDraft(DRAFT)); } }, t('f.addInvestor'))),
    h('fieldset', { class: 'field' }, h('legend', {}, t('f.contact')),
      h('div', { class: 'row' },
        field(t('f.contactName'), '/contact/name', h('input', { name: 'contact.name', autocomplete: 'name' })),
        field(t('f.phone'), '/contact/phone', h('input', { name: 'contact.phone', type: 'tel', autocomplete: 'tel' })),
        field(t('f.email'), '/contact/email', h('input', { name: 'contact.email', type: 'email', autocomplete: 'email' }))),
      h('p', { class: 'field-error', 'data-error-for': '/contact', hidden: true })),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, resubmitId ? t('resub.submit') : t('new.submit')),
      h('button', { type: 'button', class: 'secondary', onclick: () => { keeper.clear(); form.reset(); count = 1; drawInvestors(); clearErrors(form); showAlert(box, ''); } }, t('new.clear'))));
  const keeper = keepDraft(form, DRAFT);
  drawInvestors();
  replace(main, form);

  get('/api/departments').then((d) => {
    replace(scopeBox, Object.entries(d.scopeItems).map(([key, item]) => {
      const id = `scope-${key}`;
      return h('span', { class: 'check' }, h('input', { type: 'checkbox', name: 'businessScope', value: key, id, 'data-path': '/businessScope' }), h('label', { for: id }, item.name));
    }));
    restoreDraft(form, loadDraft(DRAFT));
  }, (e) => showAlert(box, errorText(e)));
  restoreDraft(form, draft);
  if (resubmitId && !draft) {
    // First visit: the form starts from the application as it was returned, with the reason shown above it.
    get(`/api/cases/${encodeURIComponent(resubmitId)}`).then((c) => {
      replace(main.querySelector('#application-title'), t('resub.title'), ' ', c.reference);
      if (c.statusReason) showAlert(box, `${t('case.reason')}：${c.statusReason}`, 'info');
      const d = draftOf(c.application);
      sessionStorage.setItem(DRAFT, JSON.stringify(d));
      count = Math.max(1, c.application.investors.length);
      drawInvestors();
      restoreDraft(form, d);
    }, (e) => showAlert(box, errorText(e)));
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    showAlert(box, '');
    keeper.save();
    try {
      const c = await post(resubmitId ? `/api/cases/${encodeURIComponent(resubmitId)}/resubmit` : '/api/cases', readApplication(form));
      keeper.clear();
      location.hash = `#/case/${encodeURIComponent(c.id)}`;
    } catch (e) {
      if (!(e instanceof ApiError)) return showAlert(box, String(e));
      if (e.status === 401) return;
      const problems = e.details?.errors ?? [];
      const left = problems.length ? showErrors(form, problems) : [];
      showAlert(box, problems.length ? [t('new.errors'), ...left.map((p) => ` ${p.path} ${p.message}`)].join('') : errorText(e));
      if (!problems.length) box.focus?.();
    }
  });
  return null;
}

const FILTERS = ['submitted', 'returned', 'in_review', 'awaiting_licence', 'licensed', 'operating', 'terminated', 'refused', 'all'];

export function casesView(main) {
  const role = JSON.parse(sessionStorage.getItem('pag.user') ?? '{}').role;
  let status = sessionStorage.getItem('pag.casesFilter') ?? (role === 'secretary' ? 'submitted' : 'all');
  const select = h('select', { id: 'status-filter' }, FILTERS.map((f) => h('option', { value: f, selected: f === status }, t('st.' + f))));
  const out = h('div', { id: 'case-list', 'aria-live': 'polite' });
  const box = alertBox();
  select.addEventListener('change', () => { status = select.value; sessionStorage.setItem('pag.casesFilter', status); load(); });
  replace(main, h('section', { class: 'card' },
    h('h1', {}, t('cases.title')),
    h('div', { class: 'field inline' }, h('label', { for: 'status-filter' }, t('cases.filter')), select),
    box, out));

  const accept = async (c) => {
    try { await post(`/api/cases/${encodeURIComponent(c.id)}/accept`); } catch (e) { showAlert(box, errorText(e)); }
  };
  async function load() {
    try {
      const q = status === 'all' ? '' : `?status=${status}`;
      const r = await get(`/api/cases${q}${q ? '&' : '?'}limit=200`);
      const rows = r.cases.map((c) => ({
        attrs: { 'data-case': c.id },
        cells: [caseLink(c), c.application.enterpriseName, statusBadge(c.status), fmtDate(c.updatedAt, true),
          h('span', { class: 'row-actions' },
            h('a', { href: `#/case/${encodeURIComponent(c.id)}`, class: 'button-link' }, t('act.open')),
            c.status === 'submitted' && (role === 'secretary' || role === 'admin')
              ? h('button', { type: 'button', class: 'primary small', 'aria-label': `${t('act.accept')} ${c.reference}`, onclick: () => accept(c) }, t('act.accept')) : null)],
      }));
      replace(out, rows.length ? table(t('cases.total', { n: r.total }), [t('col.reference'), t('col.enterprise'), t('col.status'), t('col.updated'), t('col.actions')], rows) : h('p', {}, t('cases.none')));
    } catch (e) {
      if (e.status !== 401) replace(out, errorBlock(e));
    }
  }
  load();
  return { refresh: load };
}
