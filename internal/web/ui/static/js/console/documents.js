// Console Documents: the document officers' queue. Each uploaded document
// links its form and its latest file; officers approve it or reject it
// with a comment (the owner then signs and uploads again).
import '../app.js';
import * as api from '../api.js';
import { $, h, badge, errorText, fmtDateTime, label, openDialog, setStatus, table } from '../dom.js';

const status = $('#doc-status');
const dlg = $('#doc-decide-dialog');
const form = $('#doc-decide-form');
let deciding = null; // {doc, approve}

function latest(d) {
  const ups = d.uploads || [];
  return ups.length ? ups[ups.length - 1] : null;
}

async function load() {
  const filter = $('#doc-filter').value;
  let list;
  try {
    list = await api.documents.list({ state: filter });
  } catch (e) {
    $('#documents').replaceChildren();
    setStatus(status, `The documents cannot be shown. ${errorText(e)}`, 'error');
    return false;
  }
  $('#documents').replaceChildren(table('', [
    { label: 'Document', cell: (d) => `#${d.id}` },
    { label: 'Owner', cell: (d) => d.owner || `#${d.user_id}` },
    { label: 'Card', cell: (d) => h('a', { href: `/console/cards/${d.card_id}#contents` }, d.card_serial || `#${d.card_id}`) },
    { label: 'Certificate', cell: (d) => `${d.template_name || d.template} (slot ${d.slot})` },
    { label: 'Kind', cell: (d) => label(d.kind) },
    { label: 'State', cell: (d) => badge(d.state) },
    {
      label: 'Files', cell: (d) => {
        const u = latest(d);
        return [
          h('a', { href: api.documents.formURL(d.id), download: `${d.kind}-${d.slot}.pdf` }, 'Form (PDF)'),
          u ? [h('br'), h('a', { href: api.documents.fileURL(d.id, u.version), download: u.file_name }, `Version ${u.version}: ${u.file_name}`),
            ` (${label(u.format)}${u.signer_subject ? `, signature verified: ${u.signer_subject}` : ''})`] : '',
        ];
      },
    },
    { label: 'Uploaded', cell: (d) => { const u = latest(d); return u ? fmtDateTime(u.uploaded_at) : '—'; } },
    {
      label: 'Actions', class: 'actions',
      cell: (d) => [
        (d.actions || []).includes('decide') ? [
          h('button', { type: 'button', class: 'small primary', 'aria-label': `Approve document ${d.id}`, onclick: (e) => decide(d, true, e.currentTarget) }, 'Approve'),
          h('button', { type: 'button', class: 'small', 'aria-label': `Reject document ${d.id}`, onclick: (e) => decide(d, false, e.currentTarget) }, 'Reject'),
        ] : '',
        // Four eyes: whoever recorded the receipt does not decide on it.
        d.state === 'uploaded' && !(d.actions || []).includes('decide') && latest(d)?.format === 'receipt'
          ? h('span', { class: 'hint' }, `Receipt recorded by ${latest(d).uploaded_by_login || 'staff'}; another document officer decides.`)
          : '',
        (d.actions || []).includes('receipt')
          ? h('button', { type: 'button', class: 'small', 'aria-label': `Record receipt of document ${d.id}`, onclick: (e) => decide(d, 'receipt', e.currentTarget) }, 'Record receipt')
          : '',
      ],
    },
  ], list, filter === 'uploaded' ? 'No document waits for review.' : 'No documents.'));
  return list;
}

function decide(doc, approve, opener) {
  deciding = { doc, approve };
  form.reset();
  $('#doc-decide-error').textContent = '';
  const receipt = approve === 'receipt';
  const verb = receipt ? 'Record receipt of' : approve ? 'Approve' : 'Reject';
  $('#doc-decide-title').textContent = `${verb} document #${doc.id}`;
  $('#doc-decide-summary').textContent = `${label(doc.kind)} of ${doc.owner} for ${doc.template_name || doc.template}, version ${latest(doc)?.version ?? '—'}. `
    + (receipt ? 'Say how the signed document arrived (for example "signed paper received by mail"); a document officer then decides on it.'
      : approve ? 'The owner is told it is approved.' : 'The owner must sign and upload it again.');
  const submit = $('#doc-decide-submit');
  submit.textContent = receipt ? 'Record receipt' : approve ? 'Approve' : 'Reject';
  submit.className = approve === true ? 'primary' : receipt ? '' : 'danger';
  openDialog(dlg, opener, $('#doc-decide-comment'));
}

$('.cancel', form).addEventListener('click', () => dlg.close());
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const { doc, approve } = deciding;
  const comment = $('#doc-decide-comment').value.trim();
  const submit = $('#doc-decide-submit');
  submit.disabled = true;
  try {
    if (approve === 'receipt') await api.documents.receipt(doc.id, comment);
    else if (approve) await api.documents.approve(doc.id, comment);
    else await api.documents.reject(doc.id, comment);
    dlg.close();
    await load();
    setStatus(status, `Document #${doc.id} ${approve === 'receipt' ? 'received' : approve ? 'approved' : 'rejected'}.`, 'ok');
  } catch (ex) {
    $('#doc-decide-error').textContent = errorText(ex);
  } finally {
    submit.disabled = false;
  }
});

$('#doc-filter').addEventListener('change', async () => {
  setStatus(status, 'Loading…');
  const list = await load();
  if (list) setStatus(status, `${list.length} ${list.length === 1 ? 'document' : 'documents'}.`);
});

(async () => {
  const list = await load();
  if (list) setStatus(status, `${list.length} ${list.length === 1 ? 'document waits' : 'documents wait'} for review.`);
})();
