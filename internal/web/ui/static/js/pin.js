// pin.js: Change PIN and Reset PIN (online unblock) of a connected card,
// from the card's page in Self-Service and the console (docs/lifecycle.md).
// The card must be connected at a workstation; the PINs go to the server
// once, for the card, and are never kept.
import * as api from './api.js';
import { h } from './dom.js';
import { cardActionDialog } from './continue.js';
import { openOfflineUnblockDialog } from './offline.js';

// allowed tells whether the card's menu offers op: from the card's
// allowed_operations when the server lists them (cardperm), else from its
// state (the owner changes their PIN; a card with a PIN is reset).
export function allowed(card, op, inConsole) {
  if (Array.isArray(card.allowed_operations)) return card.allowed_operations.includes(op);
  if (card.state !== 'issued' || card.kind === 'software_store') return false;
  return op === 'reset_pin' || (op === 'change_pin' && !inConsole);
}

// pinButtons are the card's Change PIN and Reset PIN buttons, as allowed.
export function pinButtons(card, inConsole, onDone) {
  const buttons = [];
  if (allowed(card, 'change_pin', inConsole)) {
    buttons.push(h('button', { type: 'button', id: 'pin-change-open', onclick: (e) => openChangePINDialog(card, e.currentTarget, onDone) }, 'Change PIN'));
  }
  if (allowed(card, 'reset_pin', inConsole)) {
    buttons.push(h('button', { type: 'button', id: 'pin-reset-open', onclick: (e) => openResetPINDialog(card, inConsole, e.currentTarget, onDone) }, inConsole ? 'Reset user PIN' : 'Reset PIN (forgotten or blocked)'));
  }
  // Offline unblock: only when the server lists it (never from the state
  // alone: it depends on the card kind and its own key).
  if (Array.isArray(card.allowed_operations) && card.allowed_operations.includes('unblock_offline')) {
    buttons.push(h('button', { type: 'button', id: 'offline-unblock-open', onclick: (e) => openOfflineUnblockDialog(card, inConsole, e.currentTarget) }, inConsole ? 'Unblock card offline' : 'Unblock offline'));
  }
  return buttons.length ? h('p', { class: 'pin-actions' }, buttons.flatMap((b, i) => (i ? [' ', b] : [b]))) : '';
}

// newPIN returns the new PIN typed twice, or throws when they differ.
function newPIN(v, a, b) {
  if (v[a] !== v[b]) throw new Error('the two new PINs differ; nothing was changed');
  return v[a];
}

export function openChangePINDialog(card, opener, onDone) {
  cardActionDialog({
    id: 'pin-change', title: 'Change PIN', submitText: 'Change PIN',
    hint: `Connect card ${card.serial} to your workstation, then enter its current PIN and the new one twice. `
      + 'A wrong current PIN uses one of the card\'s tries.',
    fields: [['pin-change-old', 'Current PIN', 'current-password'], ['pin-change-new', 'New PIN', 'new-password'],
      ['pin-change-again', 'New PIN again', 'new-password']],
    busyText: 'Changing the PIN. Keep the card connected…',
    failText: 'The PIN was not changed.',
    card,
    action: async (target, v) => ({
      result: await api.cards.changePIN(card.id, {
        workstation_id: target.workstation_id, reader: target.reader,
        old_pin: v['pin-change-old'], new_pin: newPIN(v, 'pin-change-new', 'pin-change-again'),
      }),
      lines: [h('p', { class: 'success', id: 'pin-change-done' }, 'The PIN is changed. Use the new PIN from now on.')],
    }),
  }, opener, onDone);
}

// openResetPINDialog resets the PIN with the card's own Admin PIN: the
// owner answers their secret questions first (online unblock); staff
// reset it as the owner's policy allows, typing the owner's answers to the
// questions the owner names when the policy says Validate answers (every
// offered question has a field; those left empty are not sent).
export async function openResetPINDialog(card, inConsole, opener, onDone) {
  let questions = [];
  try {
    const info = await api.me.secretQuestions();
    questions = (inConsole ? info.questions : info.chosen) || [];
  } catch {
    questions = [];
  }
  const answerFields = questions.map((q, i) => [`pin-reset-answer-${i}`, inConsole ? `${q} (if asked)` : q, 'off', 'text']);
  cardActionDialog({
    id: 'pin-reset', title: inConsole ? 'Reset user PIN' : 'Reset PIN',
    submitText: 'Reset PIN',
    hint: (inConsole
      ? `Connect card ${card.serial} at a workstation. If the policy asks for the user's secret answers, ask ${card.owner || 'the user'} which questions they chose and type their answers; leave the other questions empty. `
      : `Connect card ${card.serial} to your workstation and answer your secret questions. `)
      + 'Enter the new PIN twice, or leave both empty when the policy sets a random PIN (it is then shown once, '
      + 'or kept for the card\'s owner). The card\'s own Admin PIN resets the PIN, and the card gets a new Admin PIN afterwards.',
    fields: [...answerFields, ['pin-reset-new', 'New PIN', 'new-password'], ['pin-reset-again', 'New PIN again', 'new-password']],
    busyText: 'Resetting the PIN. Keep the card connected…',
    failText: 'The PIN was not reset.',
    card,
    action: async (target, v) => {
      const res = await api.cards.resetPIN(card.id, {
        workstation_id: target.workstation_id, reader: target.reader,
        new_pin: newPIN(v, 'pin-reset-new', 'pin-reset-again'),
        answers: questions.map((q, i) => ({ question: q, answer: v[`pin-reset-answer-${i}`] })).filter((a) => a.answer !== ''),
      });
      const lines = [h('p', { class: 'success', id: 'pin-reset-done' }, 'The PIN is reset and its tries are restored.')];
      if (res.random_pin) {
        lines.push(h('p', {}, 'The new PIN, shown only now: ', h('code', { class: 'pin', id: 'pin-reset-random' }, res.random_pin)));
      } else if (res.pin_held_for_owner) {
        lines.push(h('p', {}, `The new PIN is not shown to you: ${card.owner || 'the owner'} sees it once in Self-Service.`));
      }
      if (res.pin_mail_note) lines.push(h('p', {}, res.pin_mail_note));
      return { result: res.card, lines };
    },
  }, opener, onDone);
}
