// Console SCIM provisioning page: the endpoint to give a SCIM client and
// the SCIM tokens (administrators create and revoke them).
import '../app.js';
import * as api from '../api.js';
import { $, h, confirmAction, copyText, errorText, fieldError, fmtDateTime, setStatus, table } from '../dom.js';

const status = $('#scim-status');
$('#scim-endpoint').textContent = location.origin + '/scim/v2';

async function load() {
  try {
    const list = await api.scimTokens.list();
    const admin = !!$('#scim-form');
    const cols = [
      { label: 'Name', cell: (t) => t.name },
      { label: 'Client', cell: (t) => t.client },
      { label: 'Begins with', cell: (t) => h('code', {}, t.prefix) },
      { label: 'Created by', cell: (t) => t.created_by },
      { label: 'Created', cell: (t) => fmtDateTime(t.created_at) },
      { label: 'Last used', cell: (t) => (t.last_used_at && !t.last_used_at.startsWith('0001') ? fmtDateTime(t.last_used_at) : 'never') },
      { label: 'State', cell: (t) => (t.revoked ? 'revoked' : 'active') },
    ];
    if (admin) {
      cols.push({
        label: 'Actions',
        cell: (t) => (t.revoked ? '' : h('button', { type: 'button', class: 'danger', onclick: (e) => revoke(e.currentTarget, t) }, `Revoke ${t.name}`)),
      });
    }
    $('#scim-tokens').replaceChildren(table('SCIM tokens', cols, list, 'No SCIM token exists.'));
    if (/^Loading/.test(status.textContent)) setStatus(status, `${list.length} ${list.length === 1 ? 'token' : 'tokens'}.`);
  } catch (e) {
    setStatus(status, `SCIM tokens cannot be shown. ${errorText(e)}`, 'error');
  }
}

async function revoke(btn, t) {
  if (!(await confirmAction(btn, `Revoke ${t.name}?`, `The client using ${t.name} can no longer provision users or groups.`, 'Revoke'))) return;
  try {
    await api.scimTokens.revoke(t.id);
    setStatus(status, `${t.name} is revoked.`, 'ok');
  } catch (e) {
    setStatus(status, `${t.name} was not revoked. ${errorText(e)}`, 'error');
  }
  load();
}

const form = $('#scim-form');
if (form) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#scim-name');
    const name = input.value.trim();
    fieldError(input, name ? '' : 'Enter a name for the client, such as entra-id.');
    if (!name) { input.focus(); return; }
    try {
      const nt = await api.scimTokens.create(name);
      $('#scim-secret-value').value = nt.token;
      $('#scim-secret').hidden = false;
      $('#scim-secret-value').focus();
      input.value = '';
      setStatus(status, `Token ${nt.info.name} created.`, 'ok');
      load();
    } catch (err) {
      setStatus(status, `The token was not created. ${errorText(err)}`, 'error');
      input.focus();
    }
  });
  $('#scim-copy').addEventListener('click', async () => {
    const ok = await copyText($('#scim-secret-value').value, $('#scim-secret-value'));
    setStatus(status, ok ? 'Token copied.' : 'Copy the token from the field.', ok ? 'ok' : '');
  });
}

load();
