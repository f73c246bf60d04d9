// softstore.js: the guide's "Registry" card, a software store: Issue card
// → enter the card name → Software store — machine or — user → Issue,
// with the key container password when a certificate template asks for
// one. The workstation's agent makes the keys; the certificates are
// issued and written with the keys as a password-protected PKCS#12 file
// in the machine's or the user's store. The password cannot be reset:
// the remedy for a forgotten one is to issue again.
import * as api from './api.js';
import { $, h, errorText, fieldError, openDialog, setStatus } from './dom.js';
import { formDialog } from './cardstates.js';

const scopeText = {
  machine: { button: 'Issue software store (machine)', name: 'software store (machine)', where: "the workstation's machine store" },
  user: { button: 'Issue software store (user)', name: 'software store (user)', where: 'your store in your home directory on the workstation' },
};

function classesText(n) {
  return n > 0 ? ` and mix at least ${n} of: lower case letters, upper case letters, digits, other characters` : '';
}

// openSoftStoreDialog opens the dialog for option (one entry of GET
// /software-stores/options).
export function openSoftStoreDialog(option, opener, onDone) {
  const dlg = $('#issue-dialog');
  const body = $('#issue-body');
  const status = $('#issue-status');
  const text = scopeText[option.scope];
  const offer = option.offer;
  let result = null;
  let busy = false;
  setStatus(status, '');
  dlg.oncancel = (e) => { if (busy) e.preventDefault(); };
  dlg.onclose = () => { if (result) onDone(result); };
  const rule = `The key container password needs at least ${offer.password_min_length} characters${classesText(offer.password_min_classes)}.`;
  const form = h('form', { id: 'soft-form', novalidate: true },
    h('p', {}, `A ${text.name} on ${option.workstation}: the keys are made on the workstation and kept with their certificates in ${text.where}, protected by a key container password.`),
    h('div', { class: 'field' }, h('label', { for: 'soft-name' }, 'Card name'), h('input', { id: 'soft-name', name: 'soft-name', maxlength: 64, autocomplete: 'off' })),
    h('fieldset', {},
      h('legend', {}, 'Certificates'),
      offer.required_templates.map((t, i) => h('div', { class: 'option' }, h('label', {},
        h('input', { type: 'checkbox', id: `soft-req-${i}`, checked: true, disabled: true }), ' ', t.description || t.name, h('span', { class: 'tag' }, 'Required')))),
      offer.optional_templates.map((t, i) => h('div', { class: 'option' }, h('label', {},
        h('input', { type: 'checkbox', id: `soft-opt-${i}`, 'data-template': t.name, disabled: !offer.optional_selectable }), ' ', t.description || t.name,
        h('span', { class: 'tag' }, offer.optional_selectable ? 'Optional' : 'Optional, not selectable'))))),
    h('fieldset', {},
      h('legend', {}, 'Key container password'),
      h('p', { class: 'hint', id: 'soft-password-hint' },
        offer.password_required ? `${rule} ` : `A password is optional here; without one the file is protected by its permissions only. ${rule} `,
        h('strong', {}, 'It cannot be reset: if you forget it, issue the certificate again.')),
      h('div', { class: 'field' }, h('label', { for: 'soft-password' }, 'Password'),
        h('input', { id: 'soft-password', type: 'password', autocomplete: 'new-password', maxlength: 128, 'aria-describedby': 'soft-password-hint', required: offer.password_required })),
      h('div', { class: 'field' }, h('label', { for: 'soft-password2' }, 'Confirm password'),
        h('input', { id: 'soft-password2', type: 'password', autocomplete: 'new-password', maxlength: 128, 'aria-describedby': 'soft-password-hint' }))),
    h('div', { class: 'error', id: 'soft-error', role: 'alert' }),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'primary', id: 'soft-issue' }, 'Issue')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const pw = $('#soft-password', form);
    const pw2 = $('#soft-password2', form);
    const errBox = $('#soft-error', form);
    errBox.textContent = '';
    let msg = '';
    if (offer.password_required && !pw.value) msg = 'Enter a key container password.';
    else if (pw.value && pw.value.length < offer.password_min_length) msg = `Use at least ${offer.password_min_length} characters.`;
    fieldError(pw, msg);
    const msg2 = !msg && pw.value !== pw2.value ? 'The two passwords differ.' : '';
    fieldError(pw2, msg2);
    if (msg || msg2) {
      (msg ? pw : pw2).focus();
      return;
    }
    const req = {
      workstation_id: option.workstation_id, scope: option.scope, name: $('#soft-name', form).value.trim(), password: pw.value,
      templates: Array.from(form.querySelectorAll('input[data-template]:checked')).map((i) => i.dataset.template),
    };
    const buttons = Array.from(form.querySelectorAll('button'));
    buttons.forEach((b) => { b.disabled = true; });
    busy = true;
    setStatus(status, 'Issuing the software store: the workstation makes the keys, then the certificates are written…');
    try {
      result = await api.softwareStores.issue(req);
      setStatus(status, '');
      body.replaceChildren(resultView(result, dlg));
      $('#soft-result-title', body).focus();
    } catch (err) {
      setStatus(status, '');
      errBox.textContent = `The software store was not issued. ${errorText(err)}`;
      buttons.forEach((b) => { b.disabled = false; });
    } finally {
      busy = false;
    }
  });
  body.replaceChildren(form);
  openDialog(dlg, opener, $('#issue-title'));
  $('#soft-name', form).focus();
}

function resultView(res, dlg) {
  return h('div', { id: 'soft-result' },
    h('h3', { id: 'soft-result-title', tabindex: '-1' }, 'Software store issued'),
    h('p', {}, `Card ${res.card.serial}${res.card.name ? ` (${res.card.name})` : ''}.`),
    h('ul', { class: 'files' }, res.files.map((f) => h('li', {},
      `${f.template}: `, h('code', {}, f.path),
      f.nss ? ' — also added to your NSS database (browsers and other NSS applications).' : '',
      f.nss_note ? ` — ${f.nss_note}` : ''))),
    h('p', { class: 'notice' }, 'Keep your key container password: it cannot be reset. If you forget it, issue the certificate again.'),
    h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'primary', onclick: () => dlg.close() }, 'Close')));
}

// softStoreSection lists, per workstation, the two software stores: a
// button where one can be issued, the reason where not.
export function softStoreSection(options, onDone) {
  if (!options.length) return h('p', { class: 'empty' }, 'None of your workstations is connected.');
  return h('ul', { class: 'virtual-options' }, options.map((o) => {
    const text = scopeText[o.scope];
    if (!text) return null;
    return h('li', {},
      h('strong', {}, o.workstation), ': ',
      o.available
        ? h('button', {
          type: 'button', class: 'primary', 'data-scope': o.scope, 'data-workstation': String(o.workstation_id),
          onclick: (e) => openSoftStoreDialog(o, e.currentTarget, onDone),
        }, text.button)
        : h('span', { class: 'hint', 'data-scope': o.scope }, `No ${text.name}: ${o.reason}`));
  }));
}

// loadSoftStores fills the Software stores section of the home page.
export async function loadSoftStores(onDone) {
  const status = $('#softstore-status');
  const box = $('#softstore');
  if (!box) return;
  let opts;
  try {
    opts = await api.softwareStores.options();
  } catch (e) {
    box.replaceChildren();
    setStatus(status, `Software stores cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  box.replaceChildren(softStoreSection(opts, onDone));
  setStatus(status, '');
}

// openStoreReissueDialog is Update card for a software store: its
// re-issue. The certificates due (card.update.changes) are renewed with
// new keys in new files, written with the key container password asked
// again (it is never stored); the old certificates are revoked and their
// files left in place. status shows what was written.
export function openStoreReissueDialog(card, opener, status, onDone) {
  const changes = ((card.update && card.update.changes) || []);
  const what = changes.length
    ? h('ul', { id: 'reissue-changes' }, changes.map((c) => h('li', {}, `${c.template}: ${c.action === 'remove' ? 'revoked (no longer in your policy)' : c.action === 'add' ? 'added' : 'renewed'}`)))
    : h('p', { id: 'reissue-changes' }, 'Nothing is due; the store is checked against your policy again.');
  const pw = h('input', { id: 'reissue-password', type: 'password', autocomplete: 'new-password', maxlength: 128, 'aria-describedby': 'reissue-hint' });
  const pw2 = h('input', { id: 'reissue-password2', type: 'password', autocomplete: 'new-password', maxlength: 128, 'aria-describedby': 'reissue-hint' });
  formDialog('reissue', 'Update card: re-issue software store', [
    h('p', { id: 'reissue-hint' }, `Software store ${card.name || card.serial}: the workstation makes new keys and writes them with their new certificates into new files, `
      + 'protected by the key container password you enter here (the rules of your policy apply; it cannot be reset). '
      + 'The old certificates are revoked; their files stay on the workstation.'),
    what,
    h('div', { class: 'field' }, h('label', { for: 'reissue-password' }, 'Key container password'), pw),
    h('div', { class: 'field' }, h('label', { for: 'reissue-password2' }, 'Confirm password'), pw2),
  ], 'Re-issue', 'primary', opener, async () => {
    if (pw.value !== pw2.value) throw new Error('The two passwords differ.');
    const r = await api.cards.reissueStore(card.id, { password: pw.value });
    await onDone(r.card);
    const lines = (r.files || []).map((f) => (f.new_serial ? `${f.template}: ${f.path}` : `${f.template}: revoked`));
    setStatus(status, `The software store is re-issued. ${lines.join('; ')}. The old files stay in place with their revoked certificates.`, 'ok');
  });
}
