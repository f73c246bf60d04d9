// The login form: POST /api/v1/session, then on to the page that sent
// the person here.
import { session } from '../api.js';
import { $, errorText, fieldError, setStatus } from '../dom.js';

const form = $('#login-form');
const err = $('#login-error');
const status = $('#login-status');

function next() {
  const n = new URLSearchParams(location.search).get('next') || '/';
  // Only paths on this site.
  return n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : '/';
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
