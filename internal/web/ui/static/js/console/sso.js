// Console Single sign-on (administrators): the OpenID Connect providers,
// connected, changed and disconnected through /api/v1/oidc-providers.
import '../app.js';
import { ssoProviders } from '../api.js';
import { $, h, confirmAction, errorText, setStatus, table } from '../dom.js';

const status = $('#sso-status');
const form = $('#sso-form');
let editing = ''; // the provider's name while editing one

const words = (s) => s.split(/[\s,]+/).filter(Boolean);

function fill(p) {
  $('#sso-name').value = p ? p.name : '';
  $('#sso-display').value = p ? p.display_name : '';
  $('#sso-issuer').value = p ? p.issuer : '';
  $('#sso-client').value = p ? p.client_id : '';
  $('#sso-secret').value = '';
  $('#sso-secret').placeholder = p && p.client_secret_set ? '(a secret is stored)' : '';
  $('#sso-secret-clear').checked = false;
  $('#sso-scopes').value = p ? p.scopes.join(' ') : 'openid email profile';
  $('#sso-claim').value = p ? p.claim : 'email';
  $('#sso-match').value = p ? p.match_attribute : 'email';
  $('#sso-jit').checked = !!(p && p.jit);
  $('#sso-amr').value = p ? p.amr.join(' ') : '';
  $('#sso-acr').value = p ? p.acr.join(' ') : '';
  $('#sso-self').checked = !!(p && p.self_service);
  $('#sso-console').checked = !!(p && p.console);
  $('#sso-error').textContent = '';
  editing = p ? p.name : '';
  $('#sso-form-title').textContent = p ? `Change ${p.display_name}` : 'Connect a provider';
  $('#sso-save').textContent = p ? 'Save' : 'Connect';
  $('#sso-cancel').hidden = !p;
}

function body() {
  const b = {
    name: $('#sso-name').value.trim(), display_name: $('#sso-display').value.trim(), issuer: $('#sso-issuer').value.trim(),
    client_id: $('#sso-client').value.trim(), scopes: words($('#sso-scopes').value), claim: $('#sso-claim').value.trim(),
    match_attribute: $('#sso-match').value, jit: $('#sso-jit').checked, amr: words($('#sso-amr').value), acr: words($('#sso-acr').value),
    self_service: $('#sso-self').checked, console: $('#sso-console').checked,
  };
  if ($('#sso-secret-clear').checked) b.client_secret = '';
  else if ($('#sso-secret').value) b.client_secret = $('#sso-secret').value;
  return b;
}

async function load() {
  let list;
  try {
    list = await ssoProviders.list();
  } catch (e) {
    setStatus(status, `The providers cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  const on = (p) => [p.self_service && 'Self-Service', p.console && 'console'].filter(Boolean).join(', ') || 'off';
  $('#sso-list').replaceChildren(table('Single sign-on providers', [
    { label: 'Button', cell: (p) => p.display_name },
    { label: 'Issuer', cell: (p) => p.issuer },
    { label: 'Client', cell: (p) => `${p.client_id}${p.client_secret_set ? ' (secret set)' : ' (public)'}` },
    { label: 'Account by', cell: (p) => `${p.claim} = ${p.match_attribute}${p.jit ? ', new accounts' : ''}` },
    { label: 'Offered for', cell: on },
    { label: 'Redirect URI', cell: (p) => h('code', {}, p.callback_url) },
    {
      label: 'Actions', class: 'actions',
      cell: (p) => [
        h('button', { type: 'button', class: 'small', 'aria-label': `Change ${p.display_name}`, onclick: () => { fill(p); $('#sso-display').focus(); } }, 'Change'),
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Disconnect ${p.display_name}`, onclick: (e) => remove(e.target, p) }, 'Disconnect'),
      ],
    },
  ], list, 'No provider is connected: people sign in with their passwords.'));
  if (status.textContent.startsWith('Loading')) setStatus(status, '');
}

async function remove(opener, p) {
  if (!(await confirmAction(opener, `Disconnect ${p.display_name}?`, 'Nobody can sign in with it any more; accounts it created stay.', 'Disconnect'))) return;
  try {
    await ssoProviders.remove(p.name);
    setStatus(status, `${p.display_name} is disconnected.`, 'ok');
    if (editing === p.name) fill(null);
  } catch (e) {
    setStatus(status, `${p.display_name} cannot be disconnected. ${errorText(e)}`, 'error');
  }
  await load();
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#sso-error').textContent = '';
  const btn = $('#sso-save');
  btn.disabled = true;
  try {
    const p = editing ? await ssoProviders.update(editing, body()) : await ssoProviders.create(body());
    setStatus(status, `${p.display_name} is ${editing ? 'saved' : 'connected'}. Register ${p.callback_url} as its redirect URI at the provider.`, 'ok');
    fill(null);
    await load();
  } catch (ex) {
    $('#sso-error').textContent = errorText(ex);
  } finally {
    btn.disabled = false;
  }
});
$('#sso-cancel').addEventListener('click', () => fill(null));

load();
