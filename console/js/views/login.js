// Login with password and one-time code; afterwards back to the page the person was on, or their role's home page.
import { ApiError, post, session } from '../api.js';
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { alertBox, errorText, field, showAlert } from '../form.js';

export function loginView(main) {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const otp = h('input', { name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', required: true });
  const box = alertBox();
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', {}, t('login.title')),
    box,
    field(t('login.username'), '/username', user),
    field(t('login.password'), '/password', pass),
    field(t('login.otp'), '/otp', otp, t('login.otpHint')),
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')));
  if (sessionStorage.getItem('pag.expired')) showAlert(box, t('login.expired'), 'info');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await post('/api/auth/login', { username: user.value.trim(), password: pass.value, otp: otp.value.trim() });
      session.start(r.token, r.user);
      sessionStorage.removeItem('pag.expired');
      const back = session.takeReturn();
      location.hash = back && back !== '#/login' ? back : '#/';
    } catch (e) {
      showAlert(box, e instanceof ApiError ? errorText(e) : String(e));
      otp.value = '';
      otp.focus();
    }
  });
  replace(main, form);
  user.focus();
  return null;
}
