// offline.js: Unblock card offline, from the card's page in Self-Service
// (the owner, answering their secret questions) and the console (the help
// desk on the phone, typing the owner's answers when the policy asks).
// The card is not connected here: the user's computer shows a challenge
// (`lanyard agent unblock --offline`), this page gets the response for
// it, and the new PIN is chosen on that computer, never here
// (docs/lifecycle.md, "Offline unblock").
import * as api from './api.js';
import { h, errorText, openDialog, setStatus } from './dom.js';

export async function openOfflineUnblockDialog(card, inConsole, opener) {
  let questions = [];
  try {
    const info = await api.me.secretQuestions();
    questions = (inConsole ? info.questions : info.chosen) || [];
  } catch {
    questions = [];
  }
  const titleID = 'offline-unblock-title';
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const challenge = h('input', { id: 'offline-challenge', name: 'challenge', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'XXXX-XXXX-XXXX-XXXX', 'aria-describedby': 'offline-unblock-hint' });
  const answers = questions.map((q, i) => h('div', { class: 'field' },
    h('label', { for: `offline-answer-${i}` }, inConsole ? `${q} (if asked)` : q),
    h('input', { id: `offline-answer-${i}`, autocomplete: 'off', type: 'text' })));
  const submit = h('button', { type: 'submit' }, 'Get response');
  const form = h('form', { novalidate: true },
    h('p', { id: 'offline-unblock-hint' }, inConsole
      ? `Ask ${card.owner || 'the user'} to run lanyard agent unblock --offline on the computer with card ${card.serial} and to read you the 16-character challenge. `
        + 'If the policy asks for the secret answers, ask which questions they chose and type their answers; leave the others empty.'
      : `On the computer with card ${card.serial}, run lanyard agent unblock --offline and type the 16-character challenge it shows. Answer your secret questions.`),
    h('div', { class: 'field' }, h('label', { for: 'offline-challenge' }, 'Challenge'), challenge),
    ...answers,
    h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'), submit));
  const dlg = h('dialog', { 'aria-labelledby': titleID, class: 'wide' },
    h('h2', { id: titleID, tabindex: '-1' }, inConsole ? 'Unblock card offline' : 'Unblock offline'), form, status);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  openDialog(dlg, opener, challenge);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!challenge.value.trim()) {
      setStatus(status, 'Type the challenge the computer shows.', 'error');
      challenge.focus();
      return;
    }
    submit.disabled = true;
    setStatus(status, 'Asking for the response…');
    try {
      const res = await api.cards.offlineUnblock(card.id, {
        challenge: challenge.value.trim(),
        answers: questions.map((q, i) => ({ question: q, answer: form.querySelector(`#offline-answer-${i}`).value }))
          .filter((a) => a.answer !== ''),
      });
      form.replaceChildren(
        h('p', {}, inConsole ? 'Read this response to the user. It fits this challenge only:' : 'Type this response into the tool on your computer, then choose your new PIN there:'),
        h('p', {}, h('code', { class: 'code', id: 'offline-response' }, res.response)),
        ...(res.puk_released ? [pukNote(card)] : []),
        h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')));
      form.querySelector('button').focus();
      setStatus(status, '');
    } catch (err) {
      setStatus(status, `No response was given. ${errorText(err)}`, 'error');
      submit.disabled = false;
    }
  });
}

// pukNote says what a standard PIV card's response discloses: whoever
// hears the challenge and the response can work out the card's Admin PIN
// (PUK), valid until the tool changes it or the card next connects.
export function pukNote(card) {
  return h('p', { id: 'offline-puk-note' }, `Card ${card.serial} is a standard PIV card: this response carries its Admin PIN (PUK). `
    + 'Do not write it down. The tool on the computer changes the Admin PIN at once; otherwise Lanyard changes it when the card is next connected.');
}
