// documents.js: the documents check in Self-Service (guide: "Open the
// Contents tab in your card menu and click !"). Next to a certificate
// that needs documents, a "!" button opens a panel per certificate: the
// form to download (certificate request or certificate form), the signed
// file to upload, and each document's state and history with the
// document officers' comments.
import * as api from './api.js';
import { h, badge, errorText, fmtDateTime, label, openDialog, sentence, setStatus, table } from './dom.js';

const kindNames = { certificate_request: 'Certificate request', certificate_form: 'Certificate form' };

// groupDocuments groups a card's documents by certificate (slot and
// template): one "!" per certificate.
export function groupDocuments(docs) {
  const groups = new Map();
  for (const d of docs) {
    const key = `${d.slot}/${d.template}`;
    if (!groups.has(key)) groups.set(key, { slot: d.slot, template: d.template, templateName: d.template_name || d.template, docs: [] });
    groups.get(key).docs.push(d);
  }
  for (const g of groups.values()) g.docs.sort((a, b) => (a.kind < b.kind ? 1 : -1)); // request before form
  return groups;
}

// needsAction tells whether the owner has something to do for a group.
function needsAction(g) {
  return g.docs.some((d) => (d.actions || []).includes('upload'));
}

// documentsButton is the "!" control of one certificate.
export function documentsButton(g, onChange) {
  const open = needsAction(g);
  return h('button', {
    type: 'button', class: 'small doc-flag' + (open ? ' attention' : ''),
    'aria-label': `Documents for ${g.templateName}` + (open ? ' (action needed)' : ''),
    title: `Documents for ${g.templateName}`,
    onclick: (e) => openDocumentsPanel(g, e.currentTarget, onChange),
  }, '!');
}

function history(d) {
  const rows = [];
  for (const u of d.uploads || []) {
    rows.push({
      at: u.uploaded_at, what: `Version ${u.version} uploaded`, by: u.uploaded_by_login,
      detail: [h('a', { href: api.documents.fileURL(d.id, u.version), download: u.file_name }, u.file_name),
        ` (${label(u.format)}${u.signer_subject ? `, signed by ${u.signer_subject}` : ''})`],
    });
  }
  for (const x of d.decisions || []) {
    rows.push({ at: x.decided_at, what: `Version ${x.version} ${x.decision}`, by: x.decided_by_login, detail: x.comment || '—', state: x.decision });
  }
  rows.sort((a, b) => (a.at < b.at ? -1 : 1));
  return table(`History of the ${kindNames[d.kind] || d.kind}`, [
    { label: 'When', cell: (r) => fmtDateTime(r.at) },
    { label: 'What', cell: (r) => (r.state ? badge(r.state) : r.what) },
    { label: 'By', cell: (r) => r.by || '—' },
    { label: 'File or comment', cell: (r) => r.detail },
  ], rows, 'Nothing uploaded yet.');
}

function documentSection(d, refresh) {
  const name = kindNames[d.kind] || label(d.kind);
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const inputID = `doc-file-${d.id}`;
  const other = d.channel === 'other';
  const section = h('section', { class: 'document', 'aria-labelledby': `doc-h-${d.id}` },
    h('h3', { id: `doc-h-${d.id}` }, name, ' ', badge(d.state)),
    h('p', {}, h('a', { href: api.documents.formURL(d.id), download: `${d.kind}-${d.slot}.pdf` }, `Download the ${name.toLowerCase()} (PDF)`),
      // Policy channel "other": documents travel by the means the
      // company authorized (guide: "for example, via email").
      (other ? ' — print it, sign it and send it as your company asks (for example by e-mail or post); an operator records its receipt and '
        : ' — print it, sign it and upload it; ') +
      (d.kind === 'certificate_request'
        ? 'the CA waits for it: the CA manager can approve your certificate request only once it is here (and, if your organization asks for a precheck, a document officer has accepted it).'
        : 'a document officer approves it before the certificate is written.')));
  const rejected = (d.decisions || []).filter((x) => x.decision === 'rejected').pop();
  if (d.state === 'rejected' && rejected) {
    section.append(h('p', { class: 'caution' }, h('strong', {}, 'Rejected'), sentence(rejected.comment || 'no reason given'),
      other ? ' Change what the comment asks for, sign the document again and send it again.'
        : ' Change what the comment asks for, sign the document again and upload it.'));
  }
  if ((d.actions || []).includes('upload')) {
    const input = h('input', {
      id: inputID, type: 'file', required: true, 'aria-describedby': `${inputID}-hint`,
      accept: '.pdf,.png,.jpg,.jpeg,.p7s,application/pdf,image/png,image/jpeg,application/pkcs7-signature',
    });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Upload');
    const form = h('form', { novalidate: true },
      h('div', { class: 'field' }, h('label', { for: inputID }, `Signed ${name.toLowerCase()}`), input,
        h('p', { id: `${inputID}-hint`, class: 'hint' },
          'A signed PDF, a scan (PNG or JPEG), or a detached signature (.p7s) over the downloaded PDF made with your document signing certificate. At most 10 MiB.')),
      h('div', { class: 'buttons' }, submit));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const file = input.files[0];
      if (!file) {
        setStatus(status, 'Choose the signed file first.', 'error');
        input.focus();
        return;
      }
      submit.disabled = true;
      setStatus(status, `Uploading ${file.name}…`);
      try {
        await api.documents.upload(d.id, file);
        await refresh(`${name} uploaded: a document officer will review it.`);
      } catch (ex) {
        setStatus(status, errorText(ex), 'error');
        submit.disabled = false;
      }
    });
    section.append(form);
  } else if (d.state === 'uploaded') {
    section.append(h('p', {}, other ? 'Received: waiting for a decision.' : 'Uploaded: waiting for a decision.'));
  }
  section.append(status, history(d));
  return section;
}

// openDocumentsPanel shows the documents of one certificate in a dialog.
export function openDocumentsPanel(g, opener, onChange) {
  const titleID = 'docs-title';
  const body = h('div');
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const dlg = h('dialog', { 'aria-labelledby': titleID, class: 'wide' },
    h('h2', { id: titleID, tabindex: '-1' }, `Documents for ${g.templateName}`),
    h('p', { class: 'hint' }, `Certificate in slot ${g.slot}.`),
    status, body,
    h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')));
  let changed = false;
  const render = (docs) => body.replaceChildren(...docs.map((d) => documentSection(d, refresh)));
  async function refresh(msg) {
    changed = true;
    const fresh = await Promise.all(g.docs.map((d) => api.documents.get(d.id)));
    g.docs = fresh;
    render(fresh);
    setStatus(status, msg, 'ok');
  }
  render(g.docs);
  dlg.addEventListener('close', () => { dlg.remove(); if (changed && onChange) onChange(); });
  document.body.append(dlg);
  openDialog(dlg, opener, dlg.querySelector('h2'));
}
