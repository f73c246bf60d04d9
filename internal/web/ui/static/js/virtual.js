// virtual.js: Issue card for the virtual card kinds that live in a
// workstation's TPM, following the guide's "Issue virtual cards": enter
// the card name → Create a TPM (or select one created before) → Issue;
// for a platform credential: name → Create platform credential → Issue →
// Set up PIN. The first step runs here; the rest is the Issue card dialog
// (issue.js) on the card the agent created.
import * as api from './api.js';
import { $, h, errorText, openDialog, setStatus } from './dom.js';
import { openIssueDialog } from './issue.js';

const kindText = {
  tpm_virtual_card: { create: 'Create a TPM', name: 'TPM virtual smart card' },
  platform_credential: { create: 'Create platform credential', name: 'platform credential' },
  aircard: { create: 'Create a new AirCard', name: 'AirCard' },
};

// openVirtualDialog opens the first step for option (one entry of GET
// /virtual-cards/options); existing are the clean cards of that kind
// already in the workstation's readers.
export function openVirtualDialog(option, existing, opener, onDone) {
  const dlg = $('#issue-dialog');
  const body = $('#issue-body');
  const status = $('#issue-status');
  const text = kindText[option.kind];
  setStatus(status, '');
  dlg.onclose = null;
  // A new card may be impossible (no free reader slot, the most cards
  // a user may have) while one created before is still there to issue:
  // the guide's "or select a card created before" stays open then.
  const canCreate = option.available;
  const choices = existing.length ? h('fieldset', {},
    h('legend', {}, 'Card'),
    h('div', { class: 'option' }, h('label', {},
      h('input', { type: 'radio', name: 'virtual-card', value: '', checked: canCreate, disabled: !canCreate, id: 'virtual-new', 'aria-describedby': canCreate ? null : 'virtual-new-reason' }), ' ', text.create),
    canCreate ? null : h('p', { class: 'desc', id: 'virtual-new-reason' }, `Not possible now: ${option.reason}`)),
    existing.map((c, i) => h('div', { class: 'option' }, h('label', {},
      h('input', { type: 'radio', name: 'virtual-card', value: String(i), id: `virtual-old-${i}`, checked: !canCreate && i === 0 }), ' ', `${text.name} ${c.serial} (created before)`)))) : null;
  const form = h('form', { id: 'virtual-form', novalidate: true },
    h('p', {}, option.kind === 'aircard'
      ? `An AirCard lives on the AirCard service and is connected to ${option.workstation}, where you issue it, and to the computers you add later.`
      : `A ${text.name} on ${option.workstation}: its keys are made and kept in the workstation's TPM.`),
    h('div', { class: 'field' }, h('label', { for: 'virtual-name' }, 'Card name'), h('input', { id: 'virtual-name', name: 'virtual-name', maxlength: 64, autocomplete: 'off' })),
    choices,
    h('div', { class: 'error', id: 'virtual-error', role: 'alert' }),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'primary', id: 'virtual-create' }, existing.length ? 'Next' : text.create)));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('#virtual-name', form).value.trim();
    const picked = form.querySelector('input[name=virtual-card]:checked');
    if (picked && picked.value !== '') {
      openIssueDialog(existing[Number(picked.value)], opener, onDone, { name });
      return;
    }
    const buttons = Array.from(form.querySelectorAll('button'));
    buttons.forEach((b) => { b.disabled = true; });
    setStatus(status, `Creating the ${text.name} in the workstation's TPM…`);
    try {
      const card = await api.virtualCards.create({ workstation_id: option.workstation_id, kind: option.kind, name });
      setStatus(status, '');
      openIssueDialog(card, opener, onDone, { name });
    } catch (err) {
      setStatus(status, '');
      $('#virtual-error', form).textContent = `The ${text.name} was not created. ${errorText(err)}`;
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  body.replaceChildren(form);
  openDialog(dlg, opener, $('#issue-title'));
  $('#virtual-name', form).focus();
}

// virtualSection lists, per workstation, the virtual card kinds: a
// button where one can be created, the reason where not.
export function virtualSection(options, connected, onDone) {
  if (!options.length) return h('p', { class: 'empty' }, 'None of your workstations is connected.');
  return h('ul', { class: 'virtual-options' }, options.map((o) => {
    const text = kindText[o.kind];
    if (!text) return null;
    // AirCards live on the AirCard service, not at the workstation.
    const existing = oncePerCard(connected.filter((c) => (o.kind === 'aircard' || c.workstation_id === o.workstation_id) && c.kind === o.kind && (!c.card_id || c.state === 'clean')), o.workstation_id);
    return h('li', {},
      h('strong', {}, o.workstation), ': ',
      o.available || existing.length
        ? h('button', {
          type: 'button', class: 'primary', 'data-kind': o.kind, 'data-workstation': String(o.workstation_id),
          onclick: (e) => openVirtualDialog(o, existing, e.currentTarget, onDone),
        }, o.kind === 'aircard' ? 'Issue AirCard' : `Issue ${text.name}`)
        : h('span', { class: 'hint', 'data-kind': o.kind }, `No ${text.name}: ${o.reason}`));
  }));
}

// oncePerCard keeps one connected entry per card serial: an AirCard shows
// in a reader of the AirCard service and, once bridged, in one of each
// allowed workstation. The entry at workstation wsID (where the user
// issues) wins.
function oncePerCard(cards, wsID) {
  const bySerial = new Map();
  for (const c of cards) {
    const seen = bySerial.get(c.serial);
    if (!seen || (seen.workstation_id !== wsID && c.workstation_id === wsID)) bySerial.set(c.serial, c);
  }
  return [...bySerial.values()];
}
