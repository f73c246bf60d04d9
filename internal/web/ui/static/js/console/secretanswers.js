// The Secret answers section of the console's user dialog: whether the
// user set answers and whether wrong answers locked them; operators
// unlock them (after speaking with the user) or reset them (the user sets
// new ones in Self-Service). The server applies the account rule: an
// operator does not act on a staff account.
import * as api from '../api.js';
import { $, confirmAction, errorText, fmtDateTime, setStatus } from '../dom.js';

const field = $('#field-secret');
let current = null;

// showSecretAnswers shows login's state; null hides the section.
export async function showSecretAnswers(login) {
  current = login;
  if (!field) return;
  field.hidden = !login;
  if (!login) return;
  const st = $('#u-secret-status');
  $('#u-secret-reset').hidden = true;
  $('#u-secret-unlock').hidden = true;
  setStatus(st, 'Loading…');
  try {
    const s = await api.secretAnswers.statusOf(login);
    if (current !== login) return;
    if (s.locked) setStatus(st, `Locked since ${fmtDateTime(s.locked_at)} after ${s.failures} wrong answers in a row.`, 'error');
    else if (s.set) setStatus(st, `${s.answered} answered${s.failures ? `; ${s.failures} wrong in a row` : ''}.`);
    else setStatus(st, 'None set.');
    $('#u-secret-unlock').hidden = !s.locked;
    $('#u-secret-reset').hidden = !s.set;
  } catch (e) {
    setStatus(st, `Cannot be shown. ${errorText(e)}`, 'error');
  }
}

async function act(e, title, message, actionLabel, run, done) {
  const login = current;
  if (!login) return;
  const opener = e.currentTarget;
  if (!(await confirmAction(opener, title(login), message(login), actionLabel))) return;
  opener.disabled = true;
  try {
    await run(login);
    await showSecretAnswers(login);
    setStatus($('#u-secret-status'), done(login), 'ok');
    $('#u-secret-status').focus(); // the button may be gone
  } catch (ex) {
    setStatus($('#u-secret-status'), `Not done. ${errorText(ex)}`, 'error');
  } finally {
    opener.disabled = false;
  }
}

if (field) {
  $('#u-secret-unlock').addEventListener('click', (e) => act(e,
    (l) => `Unlock the secret answers of ${l}?`,
    (l) => `Too many wrong answers locked them: someone may be guessing. Unlock only after speaking with ${l}.`,
    'Unlock answers', api.secretAnswers.unlock, (l) => `Unlocked. ${l} can use the secret answers again.`));
  $('#u-secret-reset').addEventListener('click', (e) => act(e,
    (l) => `Reset the secret answers of ${l}?`,
    (l) => `${l}'s answers are deleted; ${l} sets new ones in Self-Service before using them again.`,
    'Reset answers', api.secretAnswers.reset, (l) => `Reset. ${l} sets new secret answers in Self-Service.`));
}
