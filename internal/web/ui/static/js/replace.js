// replace.js: Replace card and the resolution of a temporary replacement
// (docs/lifecycle.md, "Replace"). As with the state operations, the
// buttons shown are exactly the card's allowed_operations: replace
// (permanent, staff), replace_temporary (staff, or the owner when the
// policy allows it) and resolve_replacement (the original of a temporary
// replacement: found or not found).
import * as api from './api.js';
import { h, confirmAction, errorText, openDialog, setStatus } from './dom.js';

export const replaceReasons = [
  ['lost', 'Lost'],
  ['compromised', 'Stolen or compromised'],
  ['damaged', 'Damaged'],
];

// replacementFacts are the lines a card's facts get from its
// replacements: which card replaced it, which card it replaces.
export function replacementFacts(c) {
  const out = [];
  const line = (r, other, serial) => [`card ${serial || '#' + other}`, ` (${r.kind}, ${r.state})`];
  if (c.replaced_by) out.push(['Replaced by', line(c.replaced_by, c.replaced_by.new_card_id, c.replaced_by.new_serial)]);
  if (c.replaces) out.push(['Replaces', line(c.replaces, c.replaces.old_card_id, c.replaces.old_serial)]);
  return out;
}

// replaceButtons returns the replacement buttons card allows (allowed:
// its allowed_operations); onDone is awaited after a change.
export function replaceButtons(card, allowed, status, onDone) {
  const has = (op) => (allowed || []).includes(op);
  const buttons = [];
  if (has('replace')) {
    buttons.push(h('button', {
      type: 'button', id: `card-replace-${card.id}`,
      onclick: (e) => openReplaceDialog(card, false, e.currentTarget, status, onDone),
    }, 'Replace card'));
  }
  if (has('replace_temporary')) {
    buttons.push(h('button', {
      type: 'button', id: `card-replace-temporary-${card.id}`,
      onclick: (e) => openReplaceDialog(card, true, e.currentTarget, status, onDone),
    }, 'Temporary replacement card'));
  }
  if (has('resolve_replacement')) {
    const resolve = (found) => async (e) => {
      const opener = e.currentTarget;
      const text = found
        ? `Card ${card.serial} is back in use; the temporary card is revoked (clear it when it is connected).`
        : `Card ${card.serial} is revoked as lost; the temporary card stays in use as the owner's card.`;
      if (!await confirmAction(opener, found ? 'Original card found' : 'Original card not found', text, found ? 'Found' : 'Not found')) return;
      opener.disabled = true;
      try {
        const r = await api.cards.resolveReplacement(card.id, { found });
        await onDone(r.original);
        setStatus(status, found ? 'The card is back in use; the temporary card is revoked.' : 'The card is revoked; the temporary card is kept.', 'ok');
      } catch (err) {
        setStatus(status, `The replacement was not resolved. ${errorText(err)}`, 'error');
        opener.disabled = false;
      }
    };
    buttons.push(h('button', { type: 'button', id: `card-found-${card.id}`, onclick: resolve(true) }, 'Original found'));
    buttons.push(h('button', { type: 'button', id: `card-not-found-${card.id}`, class: 'danger', onclick: resolve(false) }, 'Original not found'));
  }
  return buttons.length ? h('p', { class: 'card-actions' }, ...buttons.flatMap((b) => [b, ' '])) : '';
}

// openReplaceDialog asks for the reason, the new card (connected, not
// this one), a temporary card's templates and the new card's PIN, then
// replaces the card. The templates come from the Issue card options of
// the chosen card for the owner.
async function openReplaceDialog(card, temporary, opener, status, onDone) {
  const p = 'replace';
  const titleID = `${p}-title`;
  const dstatus = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const reason = h('select', { id: `${p}-reason`, name: 'reason' }, ...replaceReasons.map(([v, text]) => h('option', { value: v }, text)));
  const target = h('select', { id: `${p}-target`, name: 'target', required: true });
  const templates = h('fieldset', { id: `${p}-templates`, hidden: true }, h('legend', {}, 'Certificates of the temporary card'));
  const pin = h('input', { id: `${p}-user-pin`, type: 'password', autocomplete: 'new-password', inputmode: 'numeric' });
  const pinField = h('div', { class: 'field' }, h('label', { for: `${p}-user-pin` }, 'New card\'s user PIN'), pin);
  const comment = h('input', { id: `${p}-comment`, type: 'text', maxlength: '500' });
  const button = h('button', { type: 'submit', id: `${p}-submit` }, temporary ? 'Issue temporary card' : 'Replace card');
  const hint = temporary
    ? `Card ${card.serial} is disabled (its certificates on hold where the template says so) and a temporary card with a short validity is issued to ${card.owner || 'its owner'}. When the card turns up, choose Original found.`
    : `Card ${card.serial} is revoked with the reason (every certificate, for lost or stolen) and a new card is issued to ${card.owner || 'its owner'} under the owner's current policy. This cannot be undone.`;
  const form = h('form', { novalidate: true },
    h('p', { id: `${p}-hint` }, hint),
    h('div', { class: 'field' }, h('label', { for: `${p}-reason` }, 'Reason'), reason),
    h('div', { class: 'field' }, h('label', { for: `${p}-target` }, 'New card (connected)'), target),
    templates, pinField,
    h('div', { class: 'field' }, h('label', { for: `${p}-comment` }, 'Comment (optional)'), comment),
    h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'), button));
  const dlg = h('dialog', { 'aria-labelledby': titleID }, h('h2', { id: titleID }, temporary ? 'Temporary replacement card' : 'Replace card'), form, dstatus);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  openDialog(dlg, opener);

  let connected = [];
  try {
    connected = (await api.cards.connected(false)).filter((k) => k.card_id !== card.id && k.card_type && (!k.card_id || k.state === 'clean' || k.state === 'assigned'));
  } catch (err) {
    setStatus(dstatus, `Connected cards cannot be shown. ${errorText(err)}`, 'error');
  }
  target.replaceChildren(...connected.map((k, i) => h('option', { value: String(i) }, `${k.serial} (${k.workstation}, ${k.reader})`)));
  if (!connected.length) {
    setStatus(dstatus, 'Put the new card in a reader of a workstation: no card to use is connected.', 'error');
    button.disabled = true;
  }
  // The templates and PIN rules the owner's policy gives the chosen card.
  const loadOptions = async () => {
    const k = connected[Number(target.value)];
    if (!k) return;
    try {
      const o = await api.issue.options(k.workstation_id, k.reader, card.owner);
      pinField.hidden = !!(o.random_pin || o.pin_setup);
      if (!temporary) return;
      const box = (t, checked) => h('div', { class: 'field check' }, h('label', {},
        h('input', { type: 'checkbox', name: 'replace-template', value: t.name, checked: checked || null }), ' ', t.description || t.name));
      templates.replaceChildren(templates.firstChild, ...(o.required_templates || []).map((t) => box(t, true)), ...(o.optional_templates || []).map((t) => box(t, false)));
      templates.hidden = false;
    } catch (err) {
      setStatus(dstatus, errorText(err), 'error');
    }
  };
  target.addEventListener('change', loadOptions);
  await loadOptions();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const k = connected[Number(target.value)];
    if (!k) return;
    const req = { kind: temporary ? 'temporary' : 'permanent', reason: reason.value, workstation_id: k.workstation_id, reader: k.reader, comment: comment.value.trim() };
    if (!pinField.hidden && pin.value) req.user_pin = pin.value;
    if (temporary && !templates.hidden) req.templates = [...templates.querySelectorAll('input:checked')].map((i) => i.value);
    button.disabled = true;
    setStatus(dstatus, 'Issuing the new card…');
    try {
      const r = await api.cards.replace(card.id, req);
      dlg.close();
      await onDone(r.old_card);
      const pending = r.state === 'pending' ? ' Its issue waits for approvals; continue it from its card menu when they are given.' : '';
      const shown = r.random_pin ? ` The new card's PIN, shown once: ${r.random_pin}` : '';
      setStatus(status, `Card ${card.serial} is replaced by card ${r.card.serial}.${pending}${shown}`, 'ok');
    } catch (err) {
      setStatus(dstatus, errorText(err), 'error');
      button.disabled = false;
    }
  });
}
