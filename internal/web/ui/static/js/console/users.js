// Console users: search, create, edit attributes, roles and state.
import '../app.js';
import * as api from '../api.js';
import './tokens.js';
import { showSecretAnswers } from './secretanswers.js';
import { $, $$, h, confirmAction, errorText, fieldError, fmtDateTime, label, openDialog, setStatus, table } from '../dom.js';

const status = $('#users-status');
const dlg = $('#user-dialog');
const form = $('#user-form');
let editing = null; // the user being edited, null when creating
// Operators and administrators only: the page leaves it out for others.
const totpField = $('#field-totp');

async function load() {
  const q = $('#user-q').value.trim();
  setStatus(status, 'Loading…');
  let list;
  try {
    list = await api.users.list({ q });
  } catch (e) {
    $('#users').replaceChildren();
    setStatus(status, `Users cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  $('#users').replaceChildren(table('', [
    { label: 'Login', cell: (u) => h('code', {}, u.login) },
    { label: 'Name', cell: (u) => u.display_name || '—' },
    { label: 'E-mail', cell: (u) => u.email || '—' },
    { label: 'Groups', cell: (u) => (u.groups || []).join('; ') || '—' },
    { label: 'Source', cell: (u) => sourceLabel(u) },
    { label: 'Roles', cell: (u) => (u.roles || []).map(label).join(', ') || '—' },
    { label: 'State', cell: (u) => h('span', { class: 'badge ' + (u.disabled ? 'disabled' : 'issued') }, u.disabled ? 'Disabled' : 'Active') },
    {
      label: 'Actions', class: 'actions',
      cell: (u) => [
        h('a', { href: `/console/cards?user=${encodeURIComponent(u.login)}` }, 'Cards'), ' ',
        h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${u.login}`, onclick: (e) => edit(u, e.currentTarget) }, 'Edit'),
      ],
    },
  ], list, q ? `No user matches “${q}”.` : 'There are no users.'));
  setStatus(status, `${list.length} ${list.length === 1 ? 'user' : 'users'}${q ? ` matching “${q}”` : ''}.`);
}

// Where an account is kept: a directory sync or a SCIM client owns its
// profile, state and password, so the dialog shows them read-only.
const sources = { ldap: 'Directory', scim: 'SCIM', oidc: 'Single sign-on' };
function sourceLabel(u) { return sources[u.source] || 'Lanyard'; }
const external = (u) => u?.source === 'ldap' || u?.source === 'scim';
const owned = ['#u-name', '#u-email', '#u-upn', '#u-manager', '#u-groups', '#u-password'];

function fill(u) {
  form.reset();
  $('#user-error').textContent = '';
  $$('input', form).forEach((i) => fieldError(i, ''));
  $('#u-login').value = u ? u.login : '';
  $('#u-name').value = u?.display_name || '';
  $('#u-email').value = u?.email || '';
  $('#u-upn').value = u?.upn || '';
  $('#u-manager').value = u?.manager_email || '';
  $('#u-groups').value = (u?.groups || []).join('; ');
  $('#u-disabled').checked = !!u?.disabled;
  const ext = external(u);
  owned.forEach((sel) => { $(sel).readOnly = ext; });
  // Staff may stop an account a source keeps; only the source enables
  // one it disabled itself.
  $('#u-disabled').disabled = ext && !!u.disabled && u.disabled_by !== 'admin';
  $('#u-source').hidden = !ext;
  $('#u-source').textContent = ext ? `Kept by ${u.source === 'scim' ? 'the identity provider (SCIM)' : 'the directory'}${u.dn ? ` (${u.dn})` : ''}: change the profile and password there. Roles, and disabling the account here at once, are Lanyard's own.` : '';
  const roles = u ? u.roles || [] : ['user'];
  $$('input[name=roles]', form).forEach((c) => { c.checked = roles.includes(c.value); });
  $('#field-login').hidden = !!u;
  $('#field-disabled').hidden = !u;
  if (totpField) totpField.hidden = true;
  showSecretAnswers(null);
  $('#user-dialog-title').textContent = u ? `Edit user ${u.login}` : 'New user';
  $('#u-password-label').textContent = u ? 'New password' : 'Password';
  $('#user-save').textContent = u ? 'Save changes' : 'Create user';
}

function edit(u, opener) {
  editing = u;
  fill(u);
  openDialog(dlg, opener, $('#u-name'));
  showTOTP(u.login);
  showSecretAnswers(u.login);
}

// The authenticator app section of the user dialog: a lost phone is reset
// here, and the user sets up a new app in Self-Service.
async function showTOTP(login) {
  if (!totpField) return;
  const st = $('#u-totp-status');
  const reset = $('#u-totp-reset');
  totpField.hidden = false;
  reset.hidden = true;
  setStatus(st, 'Loading…');
  try {
    const t = await api.totp.statusOf(login);
    if (editing?.login !== login) return;
    if (t.confirmed) setStatus(st, `Confirmed since ${fmtDateTime(t.confirmed_at)}.`);
    else if (t.enrolled) setStatus(st, 'Set up but not confirmed yet.');
    else setStatus(st, 'None set up.');
    reset.hidden = !t.enrolled;
  } catch (e) {
    setStatus(st, `Cannot be shown. ${errorText(e)}`, 'error');
  }
}

if (totpField) {
  $('#u-totp-reset').addEventListener('click', async (e) => {
    const login = editing?.login;
    if (!login) return;
    const opener = e.currentTarget;
    const ok = await confirmAction(opener, `Reset the authenticator app of ${login}?`,
      `${login} can no longer use the current app as a second factor and sets up a new one in Self-Service.`, 'Reset authenticator');
    if (!ok) return;
    opener.disabled = true;
    try {
      await api.totp.reset(login);
      await showTOTP(login);
      setStatus($('#u-totp-status'), `Reset. ${login} sets up a new authenticator app in Self-Service.`, 'ok');
      $('#u-totp-status').focus(); // the Reset button is gone
    } catch (ex) {
      setStatus($('#u-totp-status'), `Not reset. ${errorText(ex)}`, 'error');
    } finally {
      opener.disabled = false;
    }
  });
}

$('#user-new').addEventListener('click', (e) => {
  editing = null;
  fill(null);
  openDialog(dlg, e.currentTarget, $('#u-login'));
});
$('.cancel', form).addEventListener('click', () => dlg.close());
$('#user-search').addEventListener('submit', (e) => { e.preventDefault(); load(); });

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('#user-error');
  err.textContent = '';
  const login = $('#u-login');
  if (!editing) {
    fieldError(login, login.value.trim() ? '' : 'Enter a login.');
    if (!login.value.trim()) { login.focus(); return; }
  }
  const body = external(editing) ? {
    roles: $$('input[name=roles]:checked', form).map((c) => c.value),
  } : {
    display_name: $('#u-name').value.trim(),
    email: $('#u-email').value.trim(),
    upn: $('#u-upn').value.trim(),
    manager_email: $('#u-manager').value.trim(),
    groups: $('#u-groups').value.split(/[;,]/).map((g) => g.trim()).filter(Boolean),
    roles: $$('input[name=roles]:checked', form).map((c) => c.value),
  };
  const pw = $('#u-password').value;
  if (pw && !external(editing)) body.password = pw;
  const button = $('#user-save');
  button.disabled = true;
  try {
    if (editing) {
      body.disabled = $('#u-disabled').checked;
      await api.users.update(editing.login, body);
      setStatus(status, `User ${editing.login} saved.`, 'ok');
    } else {
      body.login = login.value.trim();
      await api.users.create(body);
      $('#user-q').value = body.login;
      setStatus(status, `User ${body.login} created.`, 'ok');
    }
    dlg.close();
    const msg = status.textContent;
    await load();
    setStatus(status, msg, 'ok');
  } catch (ex) {
    err.textContent = errorText(ex);
  } finally {
    button.disabled = false;
  }
});

const initial = new URLSearchParams(location.search).get('q');
if (initial) $('#user-q').value = initial;
load();
