// Labelled fields with an error slot each, the API's field errors placed next to their fields, and drafts kept in sessionStorage.
import { h, nextId, replace } from './dom.js';
import { has, t } from './i18n.js';

/** A labelled input; `path` is the JSON pointer the API names in details.errors. */
export function field(label, path, input, hint) {
  const id = input.id || (input.id = nextId('f'));
  const err = h('p', { class: 'field-error', id: `${id}-err`, 'data-error-for': path, hidden: true });
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  input.dataset.path = path;
  input.setAttribute('aria-describedby', [hintEl ? `${id}-hint` : null, `${id}-err`].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { for: id }, label), hintEl, input, err);
}

/** A text for one API field problem: the keyword in the reader's language, then the API's own words in English. */
export function problemText(p) {
  const key = `err.${p.code}`;
  return has(key) && document.documentElement.lang !== 'en' ? `${t(key)}（${p.message}）` : p.message;
}

export function clearErrors(form) {
  for (const e of form.querySelectorAll('[data-error-for]')) { e.hidden = true; replace(e); }
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

/**
 * Shows each problem under the field whose path it names (or the nearest enclosing one); returns the problems no field
 * took, for the form's summary. The first bad field gets the focus.
 */
export function showErrors(form, problems) {
  const left = [];
  let first = null;
  for (const p of problems) {
    let path = p.path;
    let slot = null;
    while (path && !(slot = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`))) path = path.slice(0, path.lastIndexOf('/'));
    if (!slot) { left.push(p); continue; }
    slot.hidden = false;
    slot.append(document.createTextNode((slot.textContent ? '; ' : '') + problemText(p)));
    const input = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (input) { input.setAttribute('aria-invalid', 'true'); first ??= input; }
  }
  first?.focus();
  return left;
}

/** Keeps every named control of the form in sessionStorage under `key` while the person types; restores it on render. */
export function keepDraft(form, key) {
  const save = () => {
    const data = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === 'checkbox') (data[el.name] ??= []), el.checked && data[el.name].push(el.value);
      else data[el.name] = el.value;
    }
    sessionStorage.setItem(key, JSON.stringify(data));
  };
  form.addEventListener('input', save);
  form.addEventListener('change', save);
  return { save, clear: () => sessionStorage.removeItem(key) };
}

export function loadDraft(key) {
  try { return JSON.parse(sessionStorage.getItem(key) ?? 'null'); } catch { return null; }
}

export function restoreDraft(form, data) {
  if (!data) return;
  for (const el of form.elements) {
    if (!el.name || !(el.name in data)) continue;
    if (el.type === 'checkbox') el.checked = Array.isArray(data[el.name]) && data[el.name].includes(el.value);
    else el.value = data[el.name];
  }
}

/** A message for a failed call: the catalogue code in the reader's language if we have it, else the API's message. */
export function errorText(e) {
  const key = `code.${e.code}`;
  return has(key) && document.documentElement.lang !== 'en' ? t(key) : e.message;
}

export const alertBox = () => h('div', { class: 'alert', role: 'alert', hidden: true });
export function showAlert(box, text, kind = 'error') {
  box.hidden = !text;
  box.className = `alert ${kind}`;
  replace(box, text ?? '');
}
