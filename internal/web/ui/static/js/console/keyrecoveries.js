// Console key recovery: requests to recover someone else's archived
// encryption key under dual control (docs/lifecycle.md, "Key archival and
// recovery"). Operators and administrators ask, with a reason; an
// administrator who neither asked nor owns the key decides, with a
// current authenticator code; the person who asked downloads the key once.
// Administrators also see and rotate the key recovery key here.
import '../app.js';
import * as api from '../api.js';
import { $, h, badge, codeLabel, confirmAction, errorText, fieldError, fmtDateTime, openDialog, setStatus, stepUpCodeOK, table } from '../dom.js';
import { recoverKeyDialog } from '../recoverkey.js';

const me = api.currentUser();
const canDecide = $('#recoveries').hasAttribute('data-decide');
const status = $('#kr-status');

async function load() {
  const state = $('#kr-filter').value;
  let list;
  try {
    list = await api.archivedKeys.requests(state);
  } catch (e) {
    $('#recoveries').replaceChildren();
    setStatus(status, `The key recovery requests cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  setStatus(status, '');
  $('#recoveries').replaceChildren(table('', [
    { label: 'Request', cell: (r) => `#${r.id}` },
    { label: 'Owner', cell: (r) => r.owner || `#${r.owner_id}` },
    { label: 'Key', cell: (r) => `#${r.archived_key_id}` },
    { label: 'Requested by', cell: (r) => r.requester || `#${r.requested_by}` },
    { label: 'Reason', cell: (r) => r.reason },
    { label: 'Requested', cell: (r) => fmtDateTime(r.created_at) },
    { label: 'State', cell: (r) => badge(r.state) },
    { label: 'Decided by', cell: (r) => r.decider || '—' },
    { label: 'Comment', cell: (r) => r.comment || '—' },
    { label: 'Actions', class: 'actions', cell: actions },
  ], list, state === 'pending' ? 'No key recovery request waits for a decision.' : 'No key recovery requests.'));
}

// actions are what the viewer may do with r: an administrator who is
// neither its requester nor the key's owner decides a pending one; the
// requester downloads an approved one. The server checks both again.
function actions(r) {
  if (r.state === 'pending' && canDecide && r.requester !== me && r.owner !== me) {
    return [
      h('button', { type: 'button', class: 'small primary', 'aria-label': `Approve key recovery ${r.id}`, onclick: (e) => decide(r, true, e.currentTarget) }, 'Approve'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Reject key recovery ${r.id}`, onclick: (e) => decide(r, false, e.currentTarget) }, 'Reject'),
    ];
  }
  if (r.state === 'approved' && r.requester === me) {
    return h('button', { type: 'button', class: 'small primary', 'aria-label': `Download the key of recovery ${r.id}`, onclick: (e) => download(r, e.currentTarget) }, 'Download');
  }
  return '';
}

// Deciding.
const decideDlg = $('#kr-decide-dialog');
const decideForm = $('#kr-decide-form');
$('label[for=kr-decide-code]').textContent = codeLabel;

let deciding = null; // {req, approve}

function decide(req, approve, opener) {
  deciding = { req, approve };
  decideForm.reset();
  $('#kr-decide-error').textContent = '';
  $('#kr-decide-title').textContent = `${approve ? 'Approve' : 'Reject'} key recovery #${req.id}`;
  $('#kr-decide-summary').textContent = `${req.requester} asks for ${req.owner}'s archived key #${req.archived_key_id}: "${req.reason}". ` +
    (approve ? `Once approved, ${req.requester} may download the key once.` : 'The request is closed.');
  const submit = $('#kr-decide-submit');
  submit.textContent = approve ? 'Approve' : 'Reject';
  submit.className = approve ? 'primary' : 'danger';
  openDialog(decideDlg, opener, $('#kr-decide-comment'));
}

$('.cancel', decideForm).addEventListener('click', () => decideDlg.close());
decideDlg.addEventListener('close', () => decideForm.reset());
decideForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const { req, approve } = deciding;
  const account = $('#kr-decide-account');
  const code = $('#kr-decide-code');
  fieldError(account, approve && !account.value ? 'Enter your account password.' : '');
  fieldError(code, approve && !stepUpCodeOK(code.value.trim()) ? 'Enter the 6-digit code your authenticator app shows now.' : '');
  if (approve && (!account.value || !stepUpCodeOK(code.value.trim()))) {
    (account.value ? code : account).focus();
    return;
  }
  const decision = { comment: $('#kr-decide-comment').value.trim() };
  if (approve) Object.assign(decision, { account_password: account.value, code: code.value.trim() });
  const submit = $('#kr-decide-submit');
  submit.disabled = true;
  try {
    await (approve ? api.archivedKeys.approve(req.id, decision) : api.archivedKeys.reject(req.id, decision));
    decideDlg.close();
    await load();
    setStatus(status, `Key recovery #${req.id} ${approve ? 'approved' : 'rejected'}; ${req.owner} and ${req.requester} are told.`, 'ok');
  } catch (err) {
    $('#kr-decide-error').textContent = errorText(err);
    code.value = '';
  } finally {
    submit.disabled = false;
  }
});

async function download(r, opener) {
  const name = `key-recovery-${r.id}.p12`;
  const saved = await recoverKeyDialog(opener, `Download ${r.owner}'s key (recovery #${r.id})`,
    'The key, its certificate and the CA chain in one file. It is answered once: keep the file and its password safe.',
    name, (secrets) => api.archivedKeys.download(r.id, secrets));
  if (saved) {
    await load();
    setStatus(status, `The key of recovery #${r.id} was downloaded: the file ${name} is in your downloads.`, 'ok');
  }
}

// Requesting.
const userForm = $('#kr-user-form');
const requestDlg = $('#kr-request-dialog');
const requestForm = $('#kr-request-form');
let requesting = null; // {login, key}

if (userForm) {
  userForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#kr-user');
    const login = input.value.trim();
    fieldError(input, login ? '' : 'Enter the login of the user whose key is needed.');
    if (!login) { input.focus(); return; }
    const keysStatus = $('#kr-keys-status');
    let keys;
    try {
      keys = await api.archivedKeys.ofUser(login);
    } catch (err) {
      $('#kr-keys').replaceChildren();
      setStatus(keysStatus, `${login}'s archived keys cannot be shown. ${errorText(err)}`, 'error');
      return;
    }
    setStatus(keysStatus, '');
    $('#kr-keys').replaceChildren(table(`${login}'s archived keys, newest first`, [
      { label: 'Key', cell: (k) => `#${k.id}` },
      { label: 'Template', cell: (k) => k.template },
      { label: 'Certificate', cell: (k) => k.certificate_serial || '—' },
      { label: 'Archived', cell: (k) => fmtDateTime(k.created_at) },
      { label: 'State', cell: (k) => badge(k.state) },
      {
        label: 'Actions', class: 'actions',
        cell: (k) => (k.state !== 'active' || login === me ? '' : h('button', {
          type: 'button', class: 'small', 'aria-label': `Request the recovery of key ${k.id}`,
          onclick: (ev) => askRecovery(login, k, ev.currentTarget),
        }, 'Request recovery')),
      },
    ], keys, `${login} has no archived keys.`));
  });

  $('.cancel', requestForm).addEventListener('click', () => requestDlg.close());
  requestForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const reason = $('#kr-reason');
    fieldError(reason, reason.value.trim() ? '' : 'Say why the key is needed.');
    if (!reason.value.trim()) { reason.focus(); return; }
    const { login, key } = requesting;
    const submit = $('#kr-request-submit');
    submit.disabled = true;
    try {
      const r = await api.archivedKeys.request(key.id, reason.value.trim());
      requestDlg.close();
      $('#kr-filter').value = 'pending';
      await load();
      setStatus(status, `Key recovery #${r.id} requested for ${login}'s ${key.template} key; an administrator decides it, and ${login} is told.`, 'ok');
    } catch (err) {
      $('#kr-request-error').textContent = errorText(err);
    } finally {
      submit.disabled = false;
    }
  });
}

function askRecovery(login, key, opener) {
  requesting = { login, key };
  requestForm.reset();
  $('#kr-request-error').textContent = '';
  $('#kr-request-summary').textContent = `${login}'s ${key.template} key #${key.id} (certificate ${key.certificate_serial || 'none'}).`;
  openDialog(requestDlg, opener, $('#kr-reason'));
}

// The key recovery key (administrators).
async function loadKRA() {
  const kraStatus = $('#kra-status');
  try {
    const versions = await api.archivedKeys.kra();
    setStatus(kraStatus, '');
    $('#kra-versions').replaceChildren(table('Versions, the current one first', [
      { label: 'Version', cell: (v) => String(v.version) },
      { label: 'Created', cell: (v) => fmtDateTime(v.created_at) },
      { label: 'Current', cell: (v) => (v.current ? 'yes' : 'no') },
      { label: 'Archived keys sealed', cell: (v) => String(v.archived_keys) },
    ], versions, 'No key recovery key yet: it is made with the first archived key.'));
  } catch (e) {
    setStatus(kraStatus, `The key recovery key cannot be shown. ${errorText(e)}`, 'error');
  }
}

if ($('#kra-section')) {
  $('#kra-rotate').addEventListener('click', async (e) => {
    const ok = await confirmAction(e.currentTarget, 'Rotate the key recovery key?',
      'A new version seals the keys archived from now on. Back up the new version as docs/security.md says before relying on it.', 'Rotate');
    if (!ok) return;
    try {
      const r = await api.archivedKeys.rotateKRA();
      await loadKRA();
      setStatus($('#kra-status'), `The key recovery key is now version ${r.version}.`, 'ok');
    } catch (err) {
      setStatus($('#kra-status'), `The key recovery key was not rotated. ${errorText(err)}`, 'error');
    }
  });
  loadKRA();
}

$('#kr-filter').addEventListener('change', load);
load();
