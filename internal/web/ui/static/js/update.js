// update.js: Update card contents (docs/lifecycle.md, "Update card
// contents"): the banner that says an update is due, and the card menu's
// Update card, Continue card update and (administrators, in the console)
// Cancel card update. As with the other card operations, the buttons
// shown follow the card's allowed_operations; the card's update field
// ({due, changes, unfinished_operation}) says what is due and what waits.
import * as api from './api.js';
import { h, errorText, fmtDate, label, openDialog, setStatus, table } from './dom.js';
import { cardActionDialog, connectedTarget } from './continue.js';
import { formDialog } from './cardstates.js';
import { openStoreReissueDialog } from './softstore.js';

// reasonTexts are the update reasons in words.
const reasonTexts = {
  expired: 'expired',
  expiring: 'expires soon',
  added: 'added by your policy',
  removed_from_policy: 'no longer in your policy',
  template_changed: 'its template changed',
  revoked_elsewhere: 'it was revoked',
  requested: 'renewal asked for',
};

export function reasonsText(reasons) {
  return (reasons || []).map((r) => reasonTexts[r] || label(r)).join(', ') || '—';
}

const actionTexts = { keep: 'Keep', renew: 'Renew', add: 'Add', remove: 'Remove' };
const keyTexts = { new_key: 'New key', reuse_key: 'Same key' };

function cardName(card) {
  return card.name || card.serial || `#${card.id}`;
}

// bannerText says why an update of card is due, or that one waits;
// '' when neither. The expiry names the first certificate that expires
// (or expired); otherwise the policy changed.
export function bannerText(card, update) {
  if (!update) return '';
  const name = cardName(card);
  if (update.unfinished_operation) {
    return update.unfinished_operation.state === 'pending'
      ? `Card ${name}: an update of its contents is pending — once it is approved, connect the card and choose Continue card update.`
      : `Card ${name}: an update of its contents was interrupted — connect the card and choose Continue card update.`;
  }
  if (!update.due) return '';
  const changes = update.changes || [];
  // A software store is re-issued on its workstation, with no card to connect.
  const act = card.kind === 'software_store' ? 'choose Update card to re-issue it' : 'connect the card and choose Update card';
  const dated = changes.filter((c) => c.action === 'renew' && (c.reasons || []).some((r) => r === 'expired' || r === 'expiring') && c.not_after)
    .sort((a, b) => String(a.not_after).localeCompare(String(b.not_after)));
  if (dated.length) {
    const c = dated[0];
    const verb = (c.reasons || []).includes('expired') ? 'expired on' : 'expires on';
    return `Card ${name}: certificate ${c.template} ${verb} ${fmtDate(c.not_after)} — ${act}.`;
  }
  return `Card ${name}: your policy changed — ${act}.`;
}

// updateBanner is the notice of a card whose update is due or waits.
export function updateBanner(card, update) {
  const text = bannerText(card, update);
  return text ? h('p', { class: 'notice update-due', role: 'note', id: `update-banner-${card.id}` }, text) : '';
}

// updateButtons returns the card menu's update entries: Update card
// (allowed: update, nothing unfinished), Continue card update (an update
// unfinished) and Cancel card update (cancel_update, an update
// unfinished). onDone is called after a change.
export function updateButtons(card, allowed, update, status, onDone) {
  const has = (op) => (allowed || []).includes(op);
  const unfinished = update && update.unfinished_operation;
  const buttons = [];
  if (has('update') && !unfinished) {
    // A software store has no reader: Update card re-issues it.
    const open = card.kind === 'software_store'
      ? (e) => openStoreReissueDialog({ ...card, update }, e.currentTarget, status, onDone)
      : (e) => openUpdateDialog(card, e.currentTarget, onDone);
    buttons.push(h('button', { type: 'button', id: `card-update-${card.id}`, onclick: open }, 'Update card'));
  }
  if (has('update') && unfinished) {
    buttons.push(h('button', { type: 'button', id: `card-update-continue-${card.id}`, onclick: (e) => openContinueUpdateDialog(card, e.currentTarget, onDone) }, 'Continue card update'));
  }
  if (has('cancel_update') && unfinished) {
    buttons.push(h('button', { type: 'button', class: 'danger', id: `card-update-cancel-${card.id}`, onclick: (e) => openCancelUpdateDialog(card, e.currentTarget, status, onDone) }, 'Cancel card update'));
  }
  return buttons.length ? h('p', { class: 'card-actions' }, ...buttons.flatMap((b) => [b, ' '])) : '';
}

// optionsTable is the Update card dialog's table: per slot the action,
// its reasons, the key, the certificate it replaces or removes, and the
// approvals it needs.
function optionsTable(slots) {
  return h('div', { class: 'update-table' }, table('What the update does', [
    { label: 'Slot', cell: (s) => s.slot },
    { label: 'Certificate', cell: (s) => s.template },
    { label: 'Action', cell: (s) => actionTexts[s.action] || label(s.action) },
    { label: 'Why', cell: (s) => (s.action === 'keep' ? 'Valid' : reasonsText(s.reasons)) },
    { label: 'Key', cell: (s) => (s.action === 'renew' || s.action === 'add' ? keyTexts[s.key] || label(s.key) : '—') },
    { label: 'Current certificate', cell: (s) => (s.old ? [h('code', {}, s.old), s.not_after ? `, until ${fmtDate(s.not_after)}` : ''] : (s.not_after ? `until ${fmtDate(s.not_after)}` : '—')) },
    { label: 'Approval', cell: (s) => [s.need_ca ? 'CA manager' : '', s.need_form ? 'signed form' : ''].filter(Boolean).join(', ') || '—' },
  ], slots || [], 'The card holds no certificates of your policy.'));
}

// openUpdateDialog is Update card: it reads the options of the card in
// its reader, shows them, lets the person pick optional templates and
// tracked certificates where the policy allows, asks to accept the
// cautions, then updates the card. No PIN is asked.
export async function openUpdateDialog(card, opener, onDone) {
  const p = 'update';
  const titleID = `${p}-title`;
  const dstatus = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', id: `${p}-status` });
  const body = h('div', { id: `${p}-options` }, h('p', {}, `Reading card ${card.serial}…`));
  const submit = h('button', { type: 'submit', id: `${p}-submit`, disabled: true }, 'Update card');
  const form = h('form', { novalidate: true }, body,
    h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'), submit));
  const dlg = h('dialog', { 'aria-labelledby': titleID, class: 'wide', id: `${p}-dialog` }, h('h2', { id: titleID, tabindex: '-1' }, 'Update card'), form, dstatus);
  let done = null;
  let busy = false;
  dlg.oncancel = (e) => { if (busy) e.preventDefault(); };
  dlg.addEventListener('close', () => { dlg.remove(); if (done) onDone(done); });
  document.body.append(dlg);
  openDialog(dlg, opener, dlg.querySelector('h2'));

  const target = await connectedTarget(card, dstatus);
  if (!target) {
    body.replaceChildren(h('p', {}, `Connect card ${card.serial} to your workstation, then open Update card again.`));
    return;
  }
  const where = { workstation_id: target.workstation_id, reader: target.reader };
  let o;
  try {
    o = await api.cards.updateOptions(card.id, where);
  } catch (err) {
    body.replaceChildren();
    setStatus(dstatus, `The card's update cannot be prepared. ${errorText(err)}`, 'error');
    return;
  }
  const optional = (o.optional_templates || []).filter((t) => !t.held);
  const optionalBoxes = o.optional_selectable ? optional.map((t) => h('div', { class: 'field check' }, h('label', {},
    h('input', { type: 'checkbox', name: 'update-template', value: t.name }), ' ', t.description || t.name, ` (slot ${t.slot})`))) : [];
  const tracked = o.tracked || [];
  const trackedItems = tracked.map((f) => {
    const text = `${f.subject || f.serial} in slot ${f.slot} (issuer ${f.issuer || '—'}, until ${fmtDate(f.not_after)})`;
    return o.tracked_selectable
      ? h('div', { class: 'field check' }, h('label', {}, h('input', { type: 'checkbox', name: 'update-tracked', value: f.slot }), ' ', text))
      : h('li', {}, text);
  });
  // Staff (in the console) may renew a certificate that is not due.
  const inConsole = document.body.classList.contains('console');
  const renewBoxes = inConsole ? (o.slots || []).filter((sl) => sl.action === 'keep').map((sl) => h('div', { class: 'field check' }, h('label', {},
    h('input', { type: 'checkbox', name: 'update-renew', value: sl.template }), ' ', `${sl.template} (slot ${sl.slot}, valid until ${fmtDate(sl.not_after)})`))) : [];
  const cautions = o.cautions || [];
  const accept = h('input', { type: 'checkbox', id: `${p}-accept`, name: 'accept_key_loss' });
  body.replaceChildren(
    h('p', { id: `${p}-hint` }, o.due
      ? `Card ${card.serial} (${target.workstation}, ${target.reader}) is updated as shown. Keep the card connected until the update is done; it stays usable throughout.`
      : `Card ${card.serial} is up to date.${optionalBoxes.length || renewBoxes.length || (o.tracked_selectable && tracked.length) ? ' You can still choose changes below.' : ''}`),
    optionsTable(o.slots),
    renewBoxes.length ? h('fieldset', { id: `${p}-renew` }, h('legend', {}, 'Renew now, although not due'), ...renewBoxes) : '',
    optionalBoxes.length ? h('fieldset', { id: `${p}-templates` }, h('legend', {}, 'Optional certificates to add'), ...optionalBoxes) : '',
    tracked.length ? h('fieldset', { id: `${p}-tracked` }, h('legend', {}, o.tracked_selectable ? 'Certificates found on the card to track' : 'Certificates found on the card (tracked by the update)'),
      ...(o.tracked_selectable ? trackedItems : [h('ul', {}, ...trackedItems)])) : '',
    (o.untracked || []).length ? h('p', { id: `${p}-untracked` }, `No longer on the card, so no longer tracked: ${o.untracked.join(', ')}.`) : '',
    cautions.length ? h('div', { class: 'caution', id: `${p}-cautions` },
      h('h3', {}, 'Caution'), h('ul', {}, ...cautions.map((c) => h('li', {}, c))),
      h('div', { class: 'field check' }, h('label', {}, accept, ' ', 'I understand, update the card anyway'))) : '');
  const canAdd = optionalBoxes.length > 0 || renewBoxes.length > 0 || (o.tracked_selectable && tracked.length > 0);
  const refresh = () => {
    const picked = form.querySelectorAll('input[name=update-template]:checked, input[name=update-tracked]:checked, input[name=update-renew]:checked').length > 0;
    submit.disabled = !(o.due || picked) || (cautions.length > 0 && !accept.checked);
  };
  form.addEventListener('change', refresh);
  refresh();
  if (!o.due && !canAdd) setStatus(dstatus, 'Nothing to update.');

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    const req = {
      ...where,
      templates: [...form.querySelectorAll('input[name=update-template]:checked')].map((i) => i.value),
      tracked: [...form.querySelectorAll('input[name=update-tracked]:checked')].map((i) => i.value),
      renew: [...form.querySelectorAll('input[name=update-renew]:checked')].map((i) => i.value),
      accept_key_loss: accept.checked,
    };
    busy = true;
    submit.disabled = true;
    setStatus(dstatus, 'Updating the card. Keep it connected…');
    try {
      const r = await api.cards.update(card.id, req);
      done = r.card || card;
      form.replaceChildren(...resultLines(r), h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')));
      form.querySelector('button').focus();
      setStatus(dstatus, '');
    } catch (err) {
      setStatus(dstatus, `The card was not updated. ${errorText(err)}`, 'error');
      refresh();
    } finally {
      busy = false;
    }
  });
}

// resultLines say what an update (or its continuation) did.
function resultLines(r) {
  return [
    h('p', { class: 'success', id: 'update-result' }, r.state === 'pending'
      ? 'Card update pending: a certificate waits for approval. The card stays usable; choose Continue card update once it is approved.'
      : 'The card is updated.'),
    h('div', { class: 'update-table' }, table('Changes', [
      { label: 'Slot', cell: (s) => s.slot },
      { label: 'Certificate', cell: (s) => s.template },
      { label: 'Action', cell: (s) => actionTexts[s.action] || label(s.action) },
      { label: 'Old serial', cell: (s) => (s.old_serial ? h('code', {}, s.old_serial) : '—') },
      { label: 'New serial', cell: (s) => (s.new_serial ? h('code', {}, s.new_serial) : '—') },
      { label: 'Status', cell: (s) => label(s.status || 'waiting') },
    ], r.slots || [], '')),
  ];
}

// openContinueUpdateDialog is Continue card update: the card connected,
// no PIN asked.
export function openContinueUpdateDialog(card, opener, onDone) {
  cardActionDialog({
    id: 'update-continue', title: 'Continue card update', submitText: 'Continue card update',
    hint: `Connect card ${card.serial} to your workstation. The update goes on from where it stopped; no PIN is asked.`,
    fields: [],
    busyText: 'Continuing the card update. Keep the card connected…',
    failText: 'The card update could not be continued.',
    card,
    action: async (target) => {
      const r = await api.cards.continueUpdate(card.id, { workstation_id: target.workstation_id, reader: target.reader });
      return { result: r.card, lines: resultLines(r) };
    },
  }, opener, onDone);
}

// openCancelUpdateDialog is Cancel card update (administrators): the
// card need not be connected; a comment is required.
function openCancelUpdateDialog(card, opener, status, onDone) {
  const comment = h('input', { id: 'update-cancel-comment', name: 'comment', type: 'text', maxlength: '500', required: true });
  formDialog('update-cancel', 'Cancel card update', [
    h('p', { id: 'update-cancel-hint' }, `The pending update of card ${card.serial} ends: its requests are withdrawn and the certificates issued for it but not yet in use are revoked. `
      + 'The card keeps its current certificates. The owner is told.'),
    h('div', { class: 'field' }, h('label', { for: 'update-cancel-comment' }, 'Why (required)'), comment),
  ], 'Cancel card update', 'danger', opener, async () => {
    if (!comment.value.trim()) throw new Error('say why the card update is cancelled');
    const v = await api.cards.cancelUpdate(card.id, { comment: comment.value.trim() });
    await onDone(v);
    setStatus(status, 'The card update is cancelled.', 'ok');
  });
}
