// The login form: POST /api/v1/session, then on to the page that sent
// the person here. Staff (and users with an authenticator app) get a
// second step: the app's code, or, for staff without an app, its set-up
// (QR code or key) confirmed with its first code, or the person's own
// smart card on this HTTPS connection. Only then is there a session.
// "Sign in with smart card" signs in by card alone (card and PIN: two
// factors).
import { session } from '../api.js';
import { $, errorText, fieldError, groupKey, h, setStatus } from '../dom.js';

const form = $('#login-form');
const err = $('#login-error');
const status = $('#login-status');
const factor = $('#factor-form');
const code = $('#code');
const cardLogin = $('#card-login');
// Cards sign in only over HTTPS (the TLS handshake presents them): the
// choice is not offered on plain HTTP.
const https = location.protocol === 'https:';
cardLogin.hidden = !https;
$('#factor-card').hidden = !https;
let shown = 0; // QR code loads, so that a new key never shows a cached image

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

function signedIn() {
  setStatus(status, 'Logged in. Opening Lanyard…', 'ok');
  location.assign(next());
}

// showFactor replaces the password form with the second step.
function showFactor(pending) {
  const enroll = pending.second_factor === 'enroll';
  $('#enroll').hidden = !enroll;
  $('#factor-title').textContent = enroll ? 'Set up your authenticator app' : 'Code from your authenticator app';
  $('#factor-hint').hidden = enroll;
  if (enroll) {
    $('#totp-secret').value = groupKey(pending.secret);
    $('#totp-qr').src = `${session.qrURL}?n=${++shown}`;
  }
  code.value = '';
  fieldError(code, '');
  $('#factor-error').textContent = '';
  form.hidden = true;
  cardLogin.hidden = true;
  factor.hidden = false;
  setStatus(status, '');
  code.focus();
}

function restart() {
  factor.hidden = true;
  $('#totp-secret').value = '';
  $('#totp-qr').removeAttribute('src');
  form.hidden = false;
  cardLogin.hidden = !https;
  $('#password').value = '';
  $('#password').focus();
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
    const res = await session.login(login.value.trim(), password.value);
    if (res && res.second_factor) {
      showFactor(res);
      return;
    }
    signedIn();
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

factor.addEventListener('submit', async (e) => {
  e.preventDefault();
  const ferr = $('#factor-error');
  ferr.textContent = '';
  const c = code.value.replace(/\s/g, '');
  const msg = /^\d{6}$/.test(c) ? '' : 'Enter the 6 digits the app shows.';
  fieldError(code, msg);
  if (msg) {
    code.focus();
    return;
  }
  const button = factor.querySelector('button[type=submit]');
  button.disabled = true;
  setStatus(status, 'Checking the code…');
  try {
    await session.secondFactor(c);
    signedIn();
  } catch (ex) {
    setStatus(status, '');
    ferr.textContent = `Not logged in. ${errorText(ex)}`;
    code.value = '';
    code.focus();
  } finally {
    button.disabled = false;
  }
});

$('#factor-restart').addEventListener('click', restart);

// Smart card sign-in: the browser presented the card's certificate when
// it connected (if it had one to offer); the server says whether it
// opens an account and, if not, why.
$('#card-login-button').addEventListener('click', async (e) => {
  const cerr = $('#card-login-error');
  cerr.textContent = '';
  e.target.disabled = true;
  setStatus(status, 'Checking your card…');
  try {
    await session.cardLogin();
    signedIn();
  } catch (ex) {
    setStatus(status, '');
    cerr.textContent = `Not signed in. ${errorText(ex)}`;
  } finally {
    e.target.disabled = false;
  }
});

// The second step by card: the same user's card on this connection.
$('#factor-card').addEventListener('click', async (e) => {
  const ferr = $('#factor-error');
  ferr.textContent = '';
  e.target.disabled = true;
  setStatus(status, 'Checking your card…');
  try {
    await session.cardSecondFactor();
    signedIn();
  } catch (ex) {
    setStatus(status, '');
    ferr.textContent = `Not logged in. ${errorText(ex)}`;
  } finally {
    e.target.disabled = false;
  }
});

// Single sign-on: a "Sign in with …" button per provider enabled for the
// part of Lanyard the person is going to (the console for /console/
// pages, else Self-Service). The sign-in runs at the provider and comes
// back through /login/oidc/{name}/callback; when Lanyard's own second
// factor is still due, it comes back here with ?sso=second-factor and
// the login cookie.
async function showProviders() {
  let list;
  try {
    list = await session.providers();
  } catch {
    return; // the password form still works
  }
  const toConsole = next().startsWith('/console/');
  const shown = (list || []).filter((p) => (toConsole ? p.console : p.self_service));
  const box = $('#sso-buttons');
  box.replaceChildren(...shown.map((p) => h('a', { class: 'button', href: session.ssoURL(p.name, next()) }, `Sign in with ${p.display_name}`)));
  $('#sso').hidden = shown.length === 0;
}

async function resumeSSO() {
  try {
    showFactor(await session.pending());
    $('#sso').hidden = true;
  } catch (ex) {
    err.textContent = `The sign-in's second step has expired. ${errorText(ex)}`;
  }
}

showProviders().then(() => {
  if (new URLSearchParams(location.search).get('sso') === 'second-factor') resumeSSO();
});
