// The login form: POST /api/v1/session, then on to the page that sent
// the person here.
import { session } from '../api.js';
import { $, errorText, fieldError, setStatus } from '../dom.js';

const form = $('#login-form');
const err = $('#login-error');
const status = $('#login-status');

// next is where to go after login: only a path on this site. Browsers drop
// tabs and newlines from URLs and read a backslash as "/", so "/\t/evil"
// would leave the site. The rule, the same as safeNext in ui.go: remove
// control characters and white space, then the rest must parse with no
// scheme and no host of its own (same origin), have no backslash and start
// with exactly one "/".
function next() {
  const n = (new URLSearchParams(location.search).get('next') || '').replace(/[\u0000-\u001F\u007F-\u009F\s\uFEFF]/g, '');
  if (!n.startsWith('/') || n.startsWith('//') || n.includes('\\')) return '/';
  try {
    return new URL(n, location.origin).origin === location.origin ? n : '/';
  } catch {
    return '/';
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  err.textContent = '';
  const login = $('#login');
  const password = $('#password');
  fieldError(login, login.value.trim() ? '' : 'Enter your login.');
  fieldError(password, password.value ? '' : 'Enter your password.');
  if (!login.value.trim() || !password.value) {
    (login.value.trim() ? password : login).focus();
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  setStatus(status, 'Logging in…');
  try {
    await session.login(login.value.trim(), password.value);
    setStatus(status, 'Logged in. Opening Lanyard…', 'ok');
    location.assign(next());
  } catch (ex) {
    setStatus(status, '');
    if (ex.status === 401) {
      err.textContent = 'Wrong login or password. Check both and try again.';
    } else {
      err.textContent = errorText(ex);
    }
    password.value = '';
    password.focus();
  } finally {
    button.disabled = false;
  }
});
