// continue.js: Continue card issue (the guide's card menu entry). An
// issue that was interrupted (card pulled, agent or server gone) or that
// waited for approvals finishes from the step the server recorded. The
// card must be connected at one of the person's workstations; the PINs
// are asked again because Lanyard never stores them.
import * as api from './api.js';
import { h, errorText, openDialog, setStatus } from './dom.js';

// connectedTarget finds the card among the connected ones, or says why
// it cannot be used in status.
async function connectedTarget(card, status) {
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

export function openContinueDialog(card, opener, onDone) {
  const titleID = 'continue-title';
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const pin = (id, text) => h('div', { class: 'field' },
    h('label', { for: id }, text),
    h('input', { id, name: id, type: 'password', autocomplete: 'new-password', 'aria-describedby': 'continue-hint' }));
  const submit = h('button', { type: 'submit' }, 'Continue card issue');
  const form = h('form', { novalidate: true },
    h('p', { id: 'continue-hint' },
      `Connect card ${card.serial} to your workstation. If the user PIN was not set yet, enter the PIN you chose `
      + '(or leave it empty for the card type\'s PIN, or when your policy sets a random PIN: a new one is shown). '
      + 'The Admin PIN is needed only if you entered one when the issue started.'),
    pin('continue-user-pin', 'User PIN (if asked)'),
    pin('continue-admin-pin', 'Admin PIN (if you set one)'),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      submit));
  const dlg = h('dialog', { 'aria-labelledby': titleID, class: 'wide' },
    h('h2', { id: titleID, tabindex: '-1' }, 'Continue card issue'), form, status);
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
    setStatus(status, 'Continuing the card issue. Keep the card connected…');
    try {
      const res = await api.cards.continueIssue(card.id, {
        workstation_id: target.workstation_id, reader: target.reader,
        user_pin: form.querySelector('#continue-user-pin').value,
        admin_pin: form.querySelector('#continue-admin-pin').value,
      });
      done = res;
      const lines = [h('p', { class: 'success' }, res.state === 'pending'
        ? 'Card issue pending: approvals are still needed. Continue again once they are in.'
        : 'The card is issued.')];
      if (res.random_pin) {
        lines.push(h('p', {}, 'Your new user PIN, shown only now: ', h('code', { class: 'pin' }, res.random_pin)));
      }
      form.replaceChildren(...lines, h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')));
      form.querySelector('button').focus();
      setStatus(status, '');
    } catch (err) {
      setStatus(status, `The card issue could not be continued. ${errorText(err)}`, 'error');
      submit.disabled = false;
    } finally {
      busy = false;
    }
  });
}

// openClearDialog is Revoke and clear card (guide: "If the request is
// rejected, revoke and clear the card … then restart the card issue
// operation"): after a confirmation, every certificate Lanyard issued for
// the card is revoked and the card is cleared for a new issue. The card
// must be connected.
export function openClearDialog(card, opener, onDone) {
  const titleID = 'clear-title';
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'danger' }, 'Revoke and clear card');
  const form = h('form', { novalidate: true },
    h('p', { id: 'clear-hint' },
      `Every certificate Lanyard issued for card ${card.serial} is revoked, waiting requests are withdrawn, `
      + 'and the card is cleared so that it can be issued again. Its PIN goes back to the card type\'s PIN. '
      + 'Connect the card first. This cannot be undone.'),
    h('div', { class: 'field' },
      h('label', { for: 'clear-admin-pin' }, 'Admin PIN (if you chose one at issue)'),
      h('input', { id: 'clear-admin-pin', name: 'clear-admin-pin', type: 'password', autocomplete: 'off', 'aria-describedby': 'clear-hint' })),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      submit));
  const dlg = h('dialog', { 'aria-labelledby': titleID, class: 'wide' },
    h('h2', { id: titleID, tabindex: '-1' }, 'Revoke and clear card'), form, status);
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
    setStatus(status, 'Revoking and clearing the card. Keep it connected…');
    try {
      done = await api.cards.revokeClear(card.id, {
        workstation_id: target.workstation_id, reader: target.reader,
        admin_pin: form.querySelector('#clear-admin-pin').value,
      });
      form.replaceChildren(h('p', { class: 'success' }, 'The card is revoked and cleared. You can issue it again under Connected cards.'),
        h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')));
      form.querySelector('button').focus();
      setStatus(status, '');
    } catch (err) {
      setStatus(status, `The card was not revoked and cleared. ${errorText(err)}`, 'error');
      submit.disabled = false;
    } finally {
      busy = false;
    }
  });
}
