// Remote Self-Service (/rss/): a user who cannot sign in gives their user
// name, answers the secret questions the server picks, and gets a short
// session of its own in which they see their cards and may disable one
// urgently (when their policy allows it; the server decides and checks
// again). The page never shows whether a user name exists: the server
// asks questions for any name and refuses every failure alike.
import '../app.js';
import { rss } from '../api.js';
import { $, h, badge, errorText, fieldError, fmtDate, label, setStatus, table, confirmAction } from '../dom.js';
import { pukNote } from '../offline.js';

const nameForm = $('#rss-name-form');
const answerForm = $('#rss-answer-form');
const section = $('#rss-cards-section');
const status = $('#rss-status');
let asked = null; // {login, questions, ticket}

function restart(msg) {
  asked = null;
  answerForm.hidden = true;
  section.hidden = true;
  nameForm.hidden = false;
  $('#rss-questions').replaceChildren();
  setStatus(status, msg || '', msg ? 'error' : '');
  $('#rss-login').focus();
}

nameForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const login = $('#rss-login');
  const err = $('#rss-name-error');
  err.textContent = '';
  fieldError(login, login.value.trim() ? '' : 'Enter your user name.');
  if (!login.value.trim()) { login.focus(); return; }
  const button = nameForm.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const q = await rss.questions(login.value.trim());
    asked = { login: login.value.trim(), questions: q.questions, ticket: q.ticket };
    $('#rss-questions').replaceChildren(...q.questions.map((text, i) => h('div', { class: 'field' },
      h('label', { for: `rss-a${i}` }, text),
      h('input', { id: `rss-a${i}`, type: 'password', autocomplete: 'off', required: true }))));
    nameForm.hidden = true;
    answerForm.hidden = false;
    $('#rss-a0').focus();
  } catch (ex) {
    err.textContent = errorText(ex);
  } finally {
    button.disabled = false;
  }
});

answerForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('#rss-answer-error');
  err.textContent = '';
  let first = null;
  const answers = asked.questions.map((question, i) => {
    const input = $(`#rss-a${i}`);
    fieldError(input, input.value.trim() ? '' : 'Answer this question.');
    first = first || (input.value.trim() ? null : input);
    return { question, answer: input.value };
  });
  if (first) { first.focus(); return; }
  const button = answerForm.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await rss.signIn(asked.login, asked.ticket, answers);
    answerForm.reset();
    answerForm.hidden = true;
    await showCards();
  } catch (ex) {
    err.textContent = `You are not signed in: ${errorText(ex)}`;
    if (ex.retryAfter) err.textContent += ` Try again in ${ex.retryAfter} seconds.`;
  } finally {
    button.disabled = false;
  }
});

$('#rss-restart').addEventListener('click', () => restart());

$('#rss-signout').addEventListener('click', async () => {
  try { await rss.signOut(); } catch { /* the session is gone either way */ }
  restart();
  setStatus(status, 'You are signed out of Remote Self-Service.', 'ok');
});

// showCards lists the user's cards with what Remote Self-Service allows
// on each: Disable when the policy lets the owner disable it.
async function showCards() {
  let who;
  let cards;
  try {
    who = await rss.session();
    cards = await rss.cards();
  } catch (ex) {
    restart(ex.status === 401 ? 'Your Remote Self-Service session has ended. Answer your questions again.' : errorText(ex));
    return;
  }
  nameForm.hidden = true;
  section.hidden = false;
  $('#rss-who').textContent = `Signed in as ${who.display_name || who.login} until ${new Date(who.expires_at).toLocaleTimeString()}.`;
  $('#rss-cards').replaceChildren(table('', [
    { label: 'Card', cell: (c) => c.name || label(c.kind || c.card_type) },
    { label: 'Serial', cell: (c) => c.serial },
    { label: 'Type', cell: (c) => c.card_type },
    { label: 'State', cell: (c) => badge(c.state) },
    { label: 'Issued', cell: (c) => fmtDate(c.issued_at) },
    { label: 'Actions', cell: (c) => actions(c) },
  ], cards, 'You have no cards.'));
  $('#rss-cards-title').focus();
}

function actions(c) {
  const ops = c.operations || [];
  const out = [];
  if (ops.includes('unblock_offline')) out.push(unblockButton(c));
  if (ops.includes('disable')) out.push(disableButton(c));
  return out.length ? h('div', { class: 'actions' }, ...out) : '—';
}

// unblockButton opens the offline unblock: the user types the challenge
// that `lanyard agent unblock --offline` shows on their computer and gets
// the response to type back there. The new PIN never comes here.
function unblockButton(c) {
  const b = h('button', { type: 'button', 'data-unblock': String(c.id) }, 'Unblock offline');
  b.addEventListener('click', () => {
    const input = h('input', { id: `rss-challenge-${c.id}`, autocomplete: 'off', spellcheck: 'false', placeholder: 'XXXX-XXXX-XXXX-XXXX', 'aria-describedby': `rss-challenge-help-${c.id}` });
    const result = h('output', { id: `rss-response-${c.id}`, 'aria-live': 'polite' });
    const err = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'inline-form' },
      h('label', { for: input.id }, `Challenge shown for card ${c.serial}`),
      h('p', { id: `rss-challenge-help-${c.id}`, class: 'help' }, 'Run lanyard agent unblock --offline on your computer and type the 16 characters it shows.'),
      input, h('button', { type: 'submit' }, 'Get response'), err, result);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      fieldError(input, input.value.trim() ? '' : 'Type the challenge.');
      if (!input.value.trim()) { input.focus(); return; }
      try {
        const r = await rss.offlineUnblock(c.id, input.value.trim());
        result.replaceChildren(h('p', {}, 'Type this response into the tool on your computer, then choose your new PIN there:'),
          h('p', { class: 'code', 'data-response': '' }, r.response), ...(r.puk_released ? [pukNote(c)] : []));
        input.disabled = true;
      } catch (ex) {
        err.textContent = errorText(ex);
        input.focus();
      }
    });
    b.replaceWith(form);
    input.focus();
  });
  return b;
}

function disableButton(c) {
  const b = h('button', { type: 'button', class: 'danger', 'data-card': String(c.id) }, 'Disable');
  b.addEventListener('click', async () => {
    const ok = await confirmAction(b, `Disable card ${c.serial}?`,
      'A disabled card cannot be used to sign in or sign until it is enabled again. Do this if the card is lost or stolen.', 'Disable card');
    if (!ok) return;
    b.disabled = true;
    try {
      await rss.disable(c.id);
      setStatus(status, `Card ${c.serial} is disabled.`, 'ok');
      await showCards();
    } catch (ex) {
      b.disabled = false;
      setStatus(status, `Card ${c.serial} was not disabled: ${errorText(ex)}`, 'error');
    }
  });
  return b;
}

// A session still open (the page reloaded) goes straight to the cards.
rss.session().then(() => showCards(), () => {});
