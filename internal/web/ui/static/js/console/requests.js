// Console CA approval queue: approve or reject pending requests with a
// comment that goes to the audit log. Beside a card's request whose
// documents check asks for it, the owner's signed certificate request
// form: its state, the files and what Lanyard knows of the signature
// (the server refuses the approval until the form is there).
import '../app.js';
import * as api from '../api.js';
import { $, h, badge, errorText, fmtDateTime, openDialog, setStatus, table } from '../dom.js';

// signedForm shows the signed certificate request form a request waits
// for ('—' when its card issue needs none).
function signedForm(r) {
  const f = r.signed_form;
  if (!f) return '—';
  const links = f.links || {};
  return h('div', { class: 'signed-form', 'data-request': String(r.id) },
    badge(f.state || 'missing'), f.precheck ? ' (precheck by a document officer)' : '',
    links.form ? [h('br'), h('a', { href: links.form, download: `certificate-request-${r.id}.pdf` }, 'Form (PDF)')] : '',
    links.file && f.latest ? [h('br'), h('a', { href: links.file, download: f.latest.file_name }, `Signed form: ${f.latest.file_name}`)] : '',
    f.signature ? [h('br'), h('span', { class: 'signature' }, f.signature)] : '',
    f.supplied_by ? [h('br'), h('span', { class: 'supplied-by' }, `supplied by ${f.supplied_by}`)] : '',
    f.ready ? '' : [h('br'), h('span', { class: 'hint waiting' }, f.reason)],
  );
}

const status = $('#req-status');
const dlg = $('#decide-dialog');
const form = $('#decide-form');
let deciding = null; // {req, approve}

async function load() {
  const filter = $('#req-filter').value;
  let list;
  try {
    list = await api.requests.list(filter);
  } catch (e) {
    $('#requests').replaceChildren();
    setStatus(status, `The queue cannot be shown. ${errorText(e)}`, 'error');
    return false;
  }
  $('#requests').replaceChildren(table('', [
    { label: 'Request', cell: (r) => `#${r.id}` },
    { label: 'User', cell: (r) => r.user || `#${r.user_id}` },
    { label: 'Template', cell: (r) => r.template },
    { label: 'Subject', cell: (r) => r.subject || '—' },
    { label: 'CA', cell: (r) => r.ca },
    { label: 'Requested', cell: (r) => fmtDateTime(r.created_at) },
    { label: 'Status', cell: (r) => badge(r.status === 'issued' ? 'approved' : r.status) },
    { label: 'Signed request form', cell: signedForm },
    { label: 'Comment', cell: (r) => r.comment || '—' },
    {
      label: 'Actions', class: 'actions',
      cell: (r) => (r.status !== 'pending' ? '' : [
        h('button', { type: 'button', class: 'small primary', 'aria-label': `Approve request ${r.id}`, onclick: (e) => decide(r, true, e.currentTarget) }, 'Approve'),
        h('button', { type: 'button', class: 'small', 'aria-label': `Reject request ${r.id}`, onclick: (e) => decide(r, false, e.currentTarget) }, 'Reject'),
      ]),
    },
  ], list, filter === 'pending' ? 'No request waits for a decision.' : 'No requests.'));
  return list;
}

function decide(req, approve, opener) {
  deciding = { req, approve };
  form.reset();
  $('#decide-error').textContent = '';
  $('#decide-title').textContent = `${approve ? 'Approve' : 'Reject'} request #${req.id}`;
  const waiting = approve && req.signed_form && !req.signed_form.ready ? ` Not yet: ${req.signed_form.reason}.` : '';
  $('#decide-summary').textContent = `${req.template} for ${req.subject || 'an unnamed subject'}. ${approve ? 'The certificate is issued at once.' : 'The request is closed; the user must start again.'}${waiting}`;
  const submit = $('#decide-submit');
  submit.textContent = approve ? 'Approve' : 'Reject';
  submit.className = approve ? 'primary' : 'danger';
  openDialog(dlg, opener, $('#decide-comment'));
}

$('.cancel', form).addEventListener('click', () => dlg.close());
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const { req, approve } = deciding;
  const comment = $('#decide-comment').value.trim();
  const submit = $('#decide-submit');
  submit.disabled = true;
  try {
    if (approve) await api.requests.approve(req.id, comment);
    else await api.requests.reject(req.id, comment);
    dlg.close();
    await load();
    setStatus(status, `Request #${req.id} ${approve ? 'approved: the certificate is issued' : 'rejected'}.`, 'ok');
  } catch (ex) {
    $('#decide-error').textContent = errorText(ex);
  } finally {
    submit.disabled = false;
  }
});

$('#req-filter').addEventListener('change', async () => {
  setStatus(status, 'Loading…');
  const list = await load();
  if (list) setStatus(status, `${list.length} ${list.length === 1 ? 'request' : 'requests'}.`);
});

(async () => {
  const list = await load();
  if (list) setStatus(status, `${list.length} pending ${list.length === 1 ? 'request' : 'requests'}.`);
})();
