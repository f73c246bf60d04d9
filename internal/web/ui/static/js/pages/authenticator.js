// Authenticator app: enroll a TOTP app from a QR code (or the key typed
// in), confirm it with a code, remove it with a code. The QR code image
// comes from the API on this origin (the page allows images only from
// 'self'); the secret is shown only while the enrollment is unconfirmed.
import '../app.js';
import * as api from '../api.js';
import { $, errorText, fieldError, fmtDateTime, groupKey, setStatus } from '../dom.js';

const status = $('#totp-status');
const start = $('#totp-start');
const enroll = $('#totp-enroll');
const done = $('#totp-done');
let shown = 0; // QR code loads, so that a new key never shows a cached image

function show(section) {
  for (const s of [start, enroll, done]) s.hidden = s !== section;
}

function showSetup(setup) {
  $('#totp-secret').value = groupKey(setup.secret);
  $('#totp-qr').src = `${api.totp.qrURL}?n=${++shown}`;
  $('#totp-code').value = '';
  $('#totp-error').textContent = '';
  fieldError($('#totp-code'), '');
  show(enroll);
}

async function load() {
  let st;
  try {
    st = await api.totp.status();
  } catch (e) {
    setStatus(status, `Your authenticator app cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  if (st.confirmed) {
    setStatus(status, `Your authenticator app is confirmed (since ${fmtDateTime(st.confirmed_at)}).`, 'ok');
    $('#totp-remove-code').value = '';
    show(done);
    return;
  }
  if (st.enrolled) {
    try {
      showSetup(await api.totp.setup());
      setStatus(status, 'Your authenticator app is not confirmed yet: scan the QR code and enter the code the app shows.');
    } catch (e) {
      setStatus(status, `The enrollment cannot be shown. ${errorText(e)}`, 'error');
    }
    return;
  }
  setStatus(status, 'You have no authenticator app yet.');
  show(start);
}

async function begin(button) {
  button.disabled = true;
  try {
    showSetup(await api.totp.begin());
    setStatus(status, 'Scan the QR code with your authenticator app, then enter the code it shows.');
    $('#totp-code').focus();
  } catch (e) {
    setStatus(status, `No authenticator app can be set up. ${errorText(e)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

$('#totp-begin').addEventListener('click', (e) => begin(e.currentTarget));
$('#totp-restart').addEventListener('click', (e) => begin(e.currentTarget));

function codeOf(input) {
  const code = input.value.replace(/\s/g, '');
  const msg = /^\d{6}$/.test(code) ? '' : 'Enter the 6 digits the app shows.';
  fieldError(input, msg);
  if (msg) input.focus();
  return msg ? null : code;
}

$('#totp-confirm-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('#totp-error');
  err.textContent = '';
  const code = codeOf($('#totp-code'));
  if (!code) return;
  const button = e.currentTarget.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await api.totp.confirm(code);
    $('#totp-secret').value = '';
    $('#totp-qr').removeAttribute('src');
    await load();
    status.focus(); // the form that had focus is gone
  } catch (ex) {
    err.textContent = `Not confirmed. ${errorText(ex)}`;
    $('#totp-code').focus();
  } finally {
    button.disabled = false;
  }
});

$('#totp-remove-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('#totp-remove-error');
  err.textContent = '';
  const code = codeOf($('#totp-remove-code'));
  if (!code) return;
  const button = e.currentTarget.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await api.totp.remove(code);
    await load();
    setStatus(status, 'Your authenticator app is removed. You can set up a new one.', 'ok');
    status.focus();
  } catch (ex) {
    err.textContent = `Not removed. ${errorText(ex)}`;
    $('#totp-remove-code').focus();
  } finally {
    button.disabled = false;
  }
});

load();
