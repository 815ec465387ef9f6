// One case: application, reviews with deadlines, licence, permits and timeline, with the actions the person's role may take.
import { ApiError, get, post, session } from '../api.js';
import { h, replace } from '../dom.js';
import { fmtDate, t } from '../i18n.js';
import { alertBox, clearErrors, errorText, field, keepDraft, loadDraft, restoreDraft, showAlert, showErrors } from '../form.js';
import { dueCell, errorBlock, gatewayNow, leftCell, reviewBadge, statusBadge, table } from './common.js';

const OPEN = ['pending_delivery', 'delivered', 'extended'];

function applicationBlock(c) {
  const a = c.application;
  const row = (k, v) => [h('dt', {}, k), h('dd', {}, v ?? '—')];
  return h('section', { class: 'card', 'aria-labelledby': 'h-app' },
    h('h2', { id: 'h-app' }, t('case.application')),
    h('dl', { class: 'facts' },
      row(t('f.enterpriseName'), h('span', { 'data-field': 'enterpriseName' }, a.enterpriseName)),
      row(t('f.legalForm'), t('lf.' + a.legalForm)),
      row(t('f.registeredCapital'), a.registeredCapital.toLocaleString('zh-CN')),
      row(t('f.industry'), a.industry),
      row(t('f.businessScope'), a.businessScope.join('、')),
      row(t('f.address'), a.address),
      row(t('f.divisionCode'), a.divisionCode),
      row(t('f.investors'), a.investors.map((i) => `${i.name} (${i.idNumber})`).join('；')),
      row(t('f.contact'), `${a.contact.name} ${a.contact.phone}${a.contact.email ? ' ' + a.contact.email : ''}`),
      // A mirror case: the review another gateway asked for, whose deadline that gateway sets.
      c.origin ? row(t('case.origin'), h('span', { 'data-field': 'origin' }, t('case.originText', { gateway: c.origin.gateway, ref: c.origin.reference }))) : null,
      c.statusReason ? row(t('case.reason'), h('span', { 'data-field': 'statusReason' }, c.statusReason)) : null,
      c.refusedRule ? row(t('case.refusedRule'), c.refusedRule) : null));
}

function reviewsBlock(c, now) {
  if (!c.reviews.length) return h('section', { class: 'card' }, h('h2', {}, t('case.reviews')), h('p', {}, t('case.noReviews')));
  return h('section', { class: 'card', id: 'reviews' },
    table(t('case.reviews'), [t('col.department'), t('col.state'), t('col.dueAt'), t('col.left'), t('col.reasons')],
      c.reviews.map((r) => ({
        attrs: { 'data-department': r.departmentId, 'data-state': r.state },
        // A chain's later step names the step before it, so the chain reads step by step.
        cells: [r.after ? [r.departmentName, h('span', { class: 'chain-step' }, ' ', t('case.after', { dep: c.reviews.find((x) => x.departmentId === r.after)?.departmentName ?? r.after }))] : r.departmentName, reviewBadge(r.state), dueCell(r.dueAt, r.provisional), OPEN.includes(r.state) ? leftCell(r.dueAt, now, r.workingDaysLeft) : '—', h('span', { class: 'reasons' }, r.reasons ?? '')],
      }))));
}

function licenceBlock(c) {
  if (!c.licence && !['awaiting_licence', 'licensed', 'operating'].includes(c.status)) return null;
  return h('section', { class: 'card', id: 'licence' },
    h('h2', {}, t('case.licence')),
    c.licence
      ? h('p', { class: 'credit-code' }, t('lic.issued'), ' ', h('strong', { id: 'credit-code', lang: 'en' }, c.licence.creditCode), ` (${fmtDate(c.licence.issuedAt, true)})`)
      : h('p', {}, t('lic.none'), ' ', t('lic.dueAt'), ': ', fmtDate(c.licenceDueAt)));
}

function permitsBlock(c, now, role) {
  if (!c.permits.length) return null;
  return h('section', { class: 'card', id: 'permits' },
    table(t('case.permits'), [t('col.department'), t('col.dueAt'), t('col.left'), t('col.permitNumber')],
      c.permits.map((p) => ({
        attrs: { 'data-department': p.departmentId },
        cells: [p.departmentName, dueCell(p.dueAt, p.provisional), p.reportedAt ? t('permit.reported') : leftCell(p.dueAt, now, p.workingDaysLeft),
          p.permitNumber ?? (role === 'registrar' ? permitForm(c, p) : '—')],
      }))));
}

function permitForm(c, p) {
  const input = h('input', { name: 'permitNumber', 'aria-label': `${t('col.permitNumber')} ${p.departmentName}` });
  const err = h('span', { class: 'field-error', role: 'alert' });
  return h('form', { class: 'inline-form', onsubmit: async (ev) => {
    ev.preventDefault();
    try { await post(`/api/cases/${encodeURIComponent(c.id)}/permits/${encodeURIComponent(p.departmentId)}`, { permitNumber: input.value.trim() }); }
    catch (e) { replace(err, e.details?.errors?.map((x) => `${x.path} ${x.message}`).join('; ') || errorText(e)); }
  } }, input, h('button', { type: 'submit', class: 'secondary small' }, t('permit.record')), err);
}

function timelineBlock(c) {
  return h('section', { class: 'card', id: 'timeline' },
    h('h2', {}, t('case.timeline')),
    h('ol', { class: 'timeline' }, (c.timeline ?? []).map((e) => h('li', {}, h('time', { datetime: e.at }, fmtDate(e.at, true)), ' ', e.action, ' — ', e.actor?.id ?? '', e.data?.reasons ? ` — ${e.data.reasons}` : '', e.data?.reason ? ` — ${e.data.reason}` : ''))));
}

/** The action panel of the person's role; rebuilt only when what they can do changes, so typing is never lost. */
function actionKey(c, user) {
  const mine = c.reviews.find((r) => r.departmentId === user.departmentId);
  return `${user.role}|${c.status}|${mine?.state ?? ''}|${mine?.extended ?? ''}`;
}

function actions(c, user) {
  const box = alertBox();
  const id = encodeURIComponent(c.id);
  const run = async (fn) => { showAlert(box, ''); try { await fn(); } catch (e) { if (e.status !== 401) showAlert(box, errorText(e)); } };
  const parts = [];
  if ((user.role === 'secretary' || user.role === 'admin') && c.status === 'submitted') {
    const reason = h('textarea', { name: 'reason', rows: '2' });
    const form = h('form', { class: 'stack', novalidate: true },
      field(t('act.returnReason'), '/reason', reason),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', id: 'accept', onclick: () => run(() => post(`/api/cases/${id}/accept`)) }, t('act.accept')),
        h('button', { type: 'submit', class: 'secondary', id: 'return' }, t('act.return'))));
    const key = `pag.draft.return.${c.id}`;
    const keeper = keepDraft(form, key);
    restoreDraft(form, loadDraft(key));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); clearErrors(form); run(async () => {
      try { await post(`/api/cases/${id}/return`, { reason: reason.value.trim() }); keeper.clear(); }
      catch (e) { if (e.details?.errors) showErrors(form, e.details.errors); else throw e; }
    }); });
    parts.push(form);
  }
  if (user.role === 'reviewer') {
    const mine = c.reviews.find((r) => r.departmentId === user.departmentId);
    if (mine && OPEN.includes(mine.state)) parts.push(opinionForm(c, mine, user, box));
    else if (mine) parts.push(h('p', {}, t('op.closed', { state: t('rv.' + mine.state) })));
  }
  if ((user.role === 'secretary' || user.role === 'admin') && c.status === 'returned') {
    parts.push(h('p', { class: 'actions' }, h('a', { class: 'button-link', id: 'resubmit', href: `#/resubmit/${id}` }, t('resub.open'))));
  }
  if (['secretary', 'registrar', 'admin'].includes(user.role) && ['submitted', 'returned', 'in_review', 'awaiting_licence'].includes(c.status)) {
    const reason = h('textarea', { name: 'reason', rows: '2', id: 'terminate-reason' });
    const form = h('form', { class: 'stack', id: 'terminate-form', novalidate: true },
      h('details', {}, h('summary', {}, t('act.terminate')),
        field(t('act.terminateReason'), '/reason', reason),
        h('button', { type: 'submit', class: 'secondary' }, t('act.terminateConfirm'))));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); clearErrors(form); run(async () => {
      try { await post(`/api/cases/${id}/terminate`, { reason: reason.value.trim() }); }
      catch (e) { if (e.details?.errors) showErrors(form, e.details.errors); else throw e; }
    }); });
    parts.push(form);
  }
  if (user.role === 'registrar' && c.status === 'awaiting_licence') {
    parts.push(h('button', { type: 'button', class: 'primary', id: 'issue-licence', onclick: () => run(() => post(`/api/cases/${id}/licence`)) }, t('lic.issue')));
  }
  if (['secretary', 'admin', 'registrar', 'supervisor'].includes(user.role)) {
    parts.push(h('p', { class: 'actions' },
      h('a', { class: 'button-link', href: `#/print/application/${id}` }, t('act.print.application')),
      c.reviews.length ? h('a', { class: 'button-link', href: `#/print/notification/${id}` }, t('act.print.notification')) : null));
  }
  return h('section', { class: 'card', id: 'actions', 'aria-label': t('col.actions') }, box, parts);
}

function opinionForm(c, review, user, box) {
  const decisions = ['approve', 'refuse', ...(review.extended ? [] : ['extend'])];
  const reasons = h('textarea', { name: 'reasons', rows: '3', id: 'opinion-reasons' });
  const form = h('form', { class: 'stack', id: 'opinion-form', novalidate: true },
    h('h2', {}, t('op.title')),
    h('fieldset', { class: 'field' }, h('legend', {}, t('op.decision')),
      decisions.map((d) => h('span', { class: 'check' },
        h('input', { type: 'radio', name: 'decision', value: d, id: `decision-${d}`, checked: d === 'approve', 'data-path': '/decision' }),
        h('label', { for: `decision-${d}` }, t('op.' + d)))),
      h('p', { class: 'field-error', 'data-error-for': '/decision', hidden: true })),
    field(t('op.reasons'), '/reasons', reasons),
    h('button', { type: 'submit', class: 'primary' }, t('op.submit')));
  const key = `pag.draft.opinion.${c.id}`;
  const keeper = keepDraft(form, key);
  restoreDraft(form, loadDraft(key));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    showAlert(box, '');
    const decision = form.querySelector('input[name="decision"]:checked')?.value;
    const text = reasons.value.trim();
    if (decision === 'refuse' && !text) return showErrors(form, [{ path: '/reasons', code: 'required', message: t('op.reasonsRequired') }]);
    try {
      await post(`/api/cases/${encodeURIComponent(c.id)}/reviews/${encodeURIComponent(user.departmentId)}/opinion`, { decision, ...(text ? { reasons: text } : {}) });
      keeper.clear();
      showAlert(box, t('op.sent'), 'info');
    } catch (e) {
      if (!(e instanceof ApiError) || e.status === 401) return;
      if (e.details?.errors) showErrors(form, e.details.errors);
      else showAlert(box, errorText(e));
    }
  });
  return form;
}

/**
 * Complaints about the case: filed at the counter on the applicant's behalf, answered by the department concerned (the
 * registrar for the bureau, or the supervisor), resolved or reopened by the supervisor.
 */
function complaintsBlock(c, list, user, reload) {
  const id = encodeURIComponent(c.id);
  const box = alertBox();
  const run = async (fn, form) => {
    showAlert(box, '');
    if (form) clearErrors(form);
    try { await fn(); await reload(); }
    catch (e) { if (!(e instanceof ApiError) || e.status === 401) return; if (form && e.details?.errors) showErrors(form, e.details.errors); else showAlert(box, errorText(e)); }
  };
  const mayAnswer = (k) => ['open', 'reopened'].includes(k.state) && (user.role === 'supervisor' || (user.role === 'reviewer' && user.departmentId === k.departmentId) || (user.role === 'registrar' && k.departmentId === 'bureau'));
  const depName = (dep) => (dep === 'bureau' ? t('cp.bureau') : c.reviews.find((r) => r.departmentId === dep)?.departmentName ?? dep);
  const row = (k) => {
    const controls = [];
    if (mayAnswer(k)) {
      const text = h('textarea', { name: 'response', rows: '2', 'aria-label': `${t('cp.response')} ${depName(k.departmentId)}` });
      const form = h('form', { class: 'stack', novalidate: true }, text, h('p', { class: 'field-error', 'data-error-for': '/response', hidden: true }), h('button', { type: 'submit', class: 'secondary small' }, t('cp.answer')));
      text.dataset.path = '/response';
      form.addEventListener('submit', (ev) => { ev.preventDefault(); run(() => post(`/api/complaints/${encodeURIComponent(k.id)}/answer`, { response: text.value.trim() }), form); });
      controls.push(form);
    }
    if (user.role === 'supervisor' && k.state === 'answered') {
      controls.push(h('button', { type: 'button', class: 'secondary small', onclick: () => run(() => post(`/api/complaints/${encodeURIComponent(k.id)}/resolve`, {})) }, t('cp.resolve')));
      const why = h('input', { name: 'reason', 'aria-label': t('cp.reopenReason') });
      const reopen = h('form', { class: 'inline-form', novalidate: true }, why, h('button', { type: 'submit', class: 'secondary small' }, t('cp.reopen')));
      reopen.addEventListener('submit', (ev) => { ev.preventDefault(); run(() => post(`/api/complaints/${encodeURIComponent(k.id)}/reopen`, { reason: why.value.trim() })); });
      controls.push(reopen);
    }
    return { attrs: { 'data-complaint': k.id, 'data-state': k.state }, cells: [depName(k.departmentId), h('span', { class: 'reasons' }, k.text), h('span', { class: `badge cp-${k.state}` }, t('cp.' + k.state)), k.overdue ? h('span', { class: 'left over' }, t('cp.overdue')) : fmtDate(k.dueAt), h('span', { class: 'reasons' }, k.response ?? ''), controls] };
  };
  const parts = [box, list.length ? table(t('cp.title'), [t('col.department'), t('cp.text'), t('col.status'), t('col.dueAt'), t('cp.response'), t('col.actions')], list.map(row)) : h('h2', {}, t('cp.title'))];
  if (user.role === 'secretary' || user.role === 'registrar') {
    const dep = h('select', { name: 'departmentId' }, [h('option', { value: 'bureau' }, t('cp.bureau')), ...c.reviews.map((r) => h('option', { value: r.departmentId }, r.departmentName))]);
    const text = h('textarea', { name: 'text', rows: '3' });
    const contact = h('input', { name: 'contact', autocomplete: 'off' });
    const form = h('form', { class: 'stack', id: 'complaint-form', novalidate: true },
      h('details', {}, h('summary', {}, t('cp.file')),
        field(t('cp.about'), '/departmentId', dep), field(t('cp.text'), '/text', text), field(t('cp.contact'), '/contact', contact, t('cp.contactHint')),
        h('button', { type: 'submit', class: 'secondary' }, t('cp.file'))));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); run(() => post(`/api/cases/${id}/complaints`, { departmentId: dep.value, text: text.value.trim(), contact: contact.value.trim() }), form); });
    parts.push(form);
  }
  return h('section', { class: 'card', id: 'complaints' }, parts);
}

export function caseView(main, caseId) {
  const user = session.user;
  const head = h('div', { class: 'case-head' });
  const actionSlot = h('div', {});
  const body = h('div', { id: 'case-body' });
  // Rebuilt only when the complaints change, so a response being typed is not lost to a live update.
  const complaintSlot = h('div', {});
  replace(main, h('h1', { id: 'case-title' }, '…'), head, actionSlot, body, complaintSlot);
  let key = null;
  let complaintsKey = null;
  async function load() {
    try {
      const [c, now] = await Promise.all([get(`/api/cases/${encodeURIComponent(caseId)}`), gatewayNow()]);
      replace(main.querySelector('#case-title'), t('case.title', { ref: c.reference }));
      replace(head, statusBadge(c.status), ' ', h('span', { class: 'enterprise' }, c.application.enterpriseName));
      const k = actionKey(c, user);
      if (k !== key) { key = k; replace(actionSlot, actions(c, user)); }
      replace(body, reviewsBlock(c, now), licenceBlock(c), permitsBlock(c, now, user.role), applicationBlock(c), timelineBlock(c));
      const complaints = (await get(`/api/cases/${encodeURIComponent(caseId)}/complaints`)).complaints ?? [];
      const ck = JSON.stringify(complaints.map((k) => [k.id, k.state, k.overdue])) + c.reviews.length;
      if (ck !== complaintsKey) { complaintsKey = ck; replace(complaintSlot, complaintsBlock(c, complaints, user, load)); }
    } catch (e) {
      if (e.status !== 401) replace(body, errorBlock(e));
    }
  }
  load();
  return { refresh: load, caseId };
}
