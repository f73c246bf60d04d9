// continue.js: Continue card issue (the guide's card menu entry). An
// issue that was interrupted (card pulled, agent or server gone) or that
// waited for approvals finishes from the step the server recorded. The
// card must be connected at one of the person's workstations; the PINs
// are asked again because Lanyard never stores them.
import * as api from './api.js';
import { h, errorText, openDialog, setStatus } from './dom.js';

// connectedTarget finds the card among the connected ones, or says why
// it cannot be used in status.
export async function connectedTarget(card, status) {
  let target;
  try {
    target = (await api.cards.connected()).find((c) => c.serial === card.serial);
  } catch (err) {
    setStatus(status, `The connected cards cannot be read. ${errorText(err)}`, 'error');
    return null;
  }
  if (!target) {
    setStatus(status, `Card ${card.serial} is not connected at your workstations. Connect it and try again.`, 'error');
  }
  return target || null;
}

// canContinue tells whether a card's menu offers Continue card issue.
export function canContinue(card) {
  return card.state === 'assigned' || card.state === 'pending';
}

// cardActionDialog is the dialog the card menu actions share: a hint,
// PIN fields (a field's fourth element, when given, is its input type:
// 'text' for a secret answer), Cancel and the action's button; on submit
// it finds the card among the connected ones, runs action(target, values)
// while refusing to close, and shows what it returned (a list of nodes)
// with Close.
export function cardActionDialog({ id, title, hint, fields, submitText, submitClass, busyText, failText, card, action }, opener, onDone) {
  const titleID = `${id}-title`;
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: submitClass || null }, submitText);
  const form = h('form', { novalidate: true },
    h('p', { id: `${id}-hint` }, hint),
    fields.map(([fid, text, autocomplete, type]) => (type === 'checkbox'
      ? h('div', { class: 'field check' }, h('label', {}, h('input', { id: fid, name: fid, type }), ' ', text))
      : h('div', { class: 'field' },
        h('label', { for: fid }, text),
        h('input', { id: fid, name: fid, type: type || 'password', autocomplete, 'aria-describedby': `${id}-hint` })))),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      submit));
  const dlg = h('dialog', { 'aria-labelledby': titleID, class: 'wide' },
    h('h2', { id: titleID, tabindex: '-1' }, title), form, status);
  let done = null;
  let busy = false;
  dlg.oncancel = (e) => { if (busy) e.preventDefault(); };
  dlg.addEventListener('close', () => { dlg.remove(); if (done) onDone(done); });
  document.body.append(dlg);
  openDialog(dlg, opener, form.querySelector('input'));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const target = await connectedTarget(card, status);
    if (!target) return;
    busy = true;
    submit.disabled = true;
    setStatus(status, busyText);
    try {
      const values = Object.fromEntries(fields.map(([fid]) => {
        const el = form.querySelector('#' + fid);
        return [fid, el.type === 'checkbox' ? el.checked : el.value];
      }));
      const res = await action(target, values);
      done = res.result;
      form.replaceChildren(...res.lines, h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')));
      form.querySelector('button').focus();
      setStatus(status, '');
    } catch (err) {
      setStatus(status, `${failText} ${errorText(err)}`, 'error');
      submit.disabled = false;
    } finally {
      busy = false;
    }
  });
}

export function openContinueDialog(card, opener, onDone) {
  cardActionDialog({
    id: 'continue', title: 'Continue card issue', submitText: 'Continue card issue',
    hint: `Connect card ${card.serial} to your workstation. If the user PIN was not set yet, enter the PIN you chose `
      + '(or leave it empty for the card type\'s PIN, or when your policy sets a random PIN: a new one is shown). '
      + 'The card\'s current Admin PIN is needed only if you entered one when the issue started '
      + 'and the card does not have its own Admin PIN yet.',
    fields: [['continue-user-pin', 'User PIN (if asked)', 'new-password'], ['continue-admin-pin', 'Current Admin PIN (if you entered one)', 'off']],
    busyText: 'Continuing the card issue. Keep the card connected…',
    failText: 'The card issue could not be continued.',
    card,
    action: async (target, v) => {
      const res = await api.cards.continueIssue(card.id, {
        workstation_id: target.workstation_id, reader: target.reader,
        user_pin: v['continue-user-pin'], admin_pin: v['continue-admin-pin'],
      });
      const lines = [h('p', { class: 'success' }, res.state === 'pending'
        ? 'Card issue pending: approvals are still needed. Continue again once they are in.'
        : 'The card is issued.')];
      if (res.random_pin) {
        lines.push(h('p', {}, 'Your new user PIN, shown only now: ', h('code', { class: 'pin' }, res.random_pin)));
      }
      return { result: res, lines };
    },
  }, opener, onDone);
}

// openClearDialog is Revoke and clear card (guide: "If the request is
// rejected, revoke and clear the card … then restart the card issue
// operation"): after a confirmation, every certificate Lanyard issued for
// the card is revoked and the card is cleared for a new issue. The card
// must be connected.
export function openClearDialog(card, opener, onDone) {
  // A revoked card (Revoke card, the card absent) has its certificates
  // revoked already: clearing it removes them from the card, and it stays
  // revoked until an operator withdraws it.
  const revoked = card.state === 'revoked';
  cardActionDialog({
    id: 'clear', title: revoked ? 'Clear card' : 'Revoke and clear card', submitText: revoked ? 'Clear card' : 'Revoke and clear card', submitClass: 'danger',
    hint: revoked
      ? `The certificates Lanyard wrote to card ${card.serial} are deleted from it and its PIN goes back to the card type's PIN. `
        + 'The card stays revoked until an operator withdraws it. Connect the card first.'
      : `Every certificate Lanyard issued for card ${card.serial} is revoked, waiting requests are withdrawn, `
      + 'and the card is cleared so that it can be issued again. Its PIN goes back to the card type\'s PIN. '
      + 'Connect the card first. This cannot be undone.',
    fields: [['clear-admin-pin', 'Admin PIN (only for a card whose Admin PIN was chosen at an earlier issue)', 'off'],
      // Initialize (wipe): PIV cards, whose card type may support it
      // (the server refuses, saying so, for one that does not).
      ...(card.kind === 'piv' ? [['clear-initialize', 'Initialize the card: wipe everything on it, not only Lanyard\'s keys and certificates (no Admin PIN needed)', 'off', 'checkbox']] : [])],
    busyText: 'Revoking and clearing the card. Keep it connected…',
    failText: 'The card was not revoked and cleared.',
    card,
    action: async (target, v) => ({
      result: await api.cards.revokeClear(card.id, {
        workstation_id: target.workstation_id, reader: target.reader, admin_pin: v['clear-admin-pin'],
        initialize: !!v['clear-initialize'],
      }),
      lines: [h('p', { class: 'success' }, (v['clear-initialize'] ? 'The card is wiped to its factory state. ' : '') + (revoked
        ? 'The card is cleared. An operator can now withdraw it to stock or keep it for its owner.'
        : 'The card is revoked and cleared. You can issue it again under Connected cards.'))],
    }),
  }, opener, onDone);
}
