// cardstates.js: the card state operations that need no card in a
// reader (docs/lifecycle.md): Disable, Enable, Revoke with a reason and
// Withdraw. The buttons shown are exactly the card's allowed_operations
// (the server's cardperm decision for the person asking), so the card
// page and the console card menu offer what the API would allow.
import * as api from './api.js';
import { h, confirmAction, errorText, openDialog, setStatus } from './dom.js';

export const revocationReasons = [
  ['lost', 'Lost'],
  ['compromised', 'Stolen or compromised'],
  ['damaged', 'Damaged'],
  ['superseded', 'Superseded (replaced by another card)'],
  ['withdrawn', 'Withdrawn (the owner left or no longer needs it)'],
];

// reasonText is how a revoked card's reason reads.
export function reasonText(reason) {
  const r = revocationReasons.find(([v]) => v === reason);
  return r ? r[1] : reason || '';
}

// stateButtons returns the buttons of the state operations card allows
// (allowed: its allowed_operations); each reports in status and calls
// onDone(card view) after a change (awaited: it may reload the page's
// data). Button ids carry the card's id: card-disable-7, card-revoke-7…
export function stateButtons(card, allowed, status, onDone) {
  const has = (op) => (allowed || []).includes(op);
  const run = async (opener, fn, done, failed) => {
    opener.disabled = true;
    try {
      const v = await fn();
      await onDone(v);
      setStatus(status, done, 'ok');
    } catch (err) {
      setStatus(status, `${failed} ${errorText(err)}`, 'error');
      opener.disabled = false;
    }
  };
  const buttons = [];
  if (has('disable')) {
    buttons.push(h('button', {
      type: 'button', id: `card-disable-${card.id}`,
      onclick: async (e) => {
        const opener = e.currentTarget;
        if (!await confirmAction(opener, 'Disable card', `Card ${card.serial} cannot be used until it is enabled again; certificates whose template says so are put on hold.`, 'Disable card')) return;
        run(opener, () => api.cards.disable(card.id), 'The card is disabled.', 'The card was not disabled.');
      },
    }, 'Disable card'));
  }
  if (has('enable')) {
    buttons.push(h('button', {
      type: 'button', id: `card-enable-${card.id}`,
      onclick: (e) => run(e.currentTarget, () => api.cards.enable(card.id), 'The card is enabled.', 'The card was not enabled.'),
    }, 'Enable card'));
  }
  if (has('revoke')) {
    buttons.push(h('button', {
      type: 'button', id: `card-revoke-${card.id}`, class: 'danger',
      onclick: (e) => openRevokeDialog(card, e.currentTarget, status, onDone),
    }, 'Revoke card'));
  }
  if (has('withdraw')) {
    buttons.push(h('button', {
      type: 'button', id: `card-withdraw-${card.id}`,
      onclick: (e) => openWithdrawDialog(card, e.currentTarget, status, onDone),
    }, 'Withdraw card'));
  }
  return buttons.length ? h('p', { class: 'card-actions' }, ...buttons.flatMap((b) => [b, ' '])) : '';
}

// formDialog is a small modal form: fields, Cancel and a submit button;
// submit(form) runs while the dialog stays open and closes it when done.
export function formDialog(id, title, fields, submitText, submitClass, opener, submit) {
  const titleID = `${id}-title`;
  const dstatus = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: submitClass || null, id: `${id}-submit` }, submitText);
  const form = h('form', { novalidate: true }, ...fields,
    h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'), button));
  const dlg = h('dialog', { 'aria-labelledby': titleID }, h('h2', { id: titleID }, title), form, dstatus);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  openDialog(dlg, opener);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      await submit(form);
      dlg.close();
    } catch (err) {
      setStatus(dstatus, errorText(err), 'error');
      button.disabled = false;
    }
  });
}

// openRevokeDialog is Revoke card with a reason picker: the card need
// not be connected; it is cleared later when it is.
function openRevokeDialog(card, opener, status, onDone) {
  const reason = h('select', { id: 'revoke-reason', name: 'reason', required: true },
    ...revocationReasons.map(([v, text]) => h('option', { value: v }, text)));
  const comment = h('input', { id: 'revoke-comment', name: 'comment', type: 'text', maxlength: '500' });
  formDialog('revoke', 'Revoke card', [
    h('p', { id: 'revoke-hint' }, `Card ${card.serial} is taken out of use for good and every certificate Lanyard issued for it is revoked. `
      + 'The card need not be connected; clear it when it is connected later. This cannot be undone.'),
    h('div', { class: 'field' }, h('label', { for: 'revoke-reason' }, 'Reason'), reason),
    h('div', { class: 'field' }, h('label', { for: 'revoke-comment' }, 'Comment (optional)'), comment),
  ], 'Revoke card', 'danger', opener, async () => {
    const v = await api.cards.revoke(card.id, { reason: reason.value, comment: comment.value.trim() });
    await onDone(v);
    setStatus(status, `The card is revoked (${reasonText(v.revocation_reason)}).`, 'ok');
  });
}

// openWithdrawDialog is Withdraw card: a revoked, cleared card back to
// stock or kept for its owner's next issue.
function openWithdrawDialog(card, opener, status, onDone) {
  const choice = (value, text, checked) => h('div', { class: 'field check' }, h('label', {},
    h('input', { type: 'radio', name: 'withdraw-to', id: `withdraw-${value}`, value, checked: checked || null }), ' ', text));
  formDialog('withdraw', 'Withdraw card', [
    h('p', {}, `Card ${card.serial} holds nothing of Lanyard's any more. Where does it go?`),
    choice('stock', 'Back to stock: clean, no owner', true),
    card.owner ? choice('owner', `Keep it for ${card.owner}: clean, ready for a new issue`, false) : '',
  ], 'Withdraw card', '', opener, async (form) => {
    const to = form.querySelector('input[name=withdraw-to]:checked').value;
    const v = await api.cards.withdraw(card.id, { to });
    await onDone(v);
    setStatus(status, to === 'stock' ? 'The card is back in stock.' : `The card is kept for ${card.owner}.`, 'ok');
  });
}
