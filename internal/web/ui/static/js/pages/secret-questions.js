// Secret questions: choose questions from the server's list, answer them,
// save. Answers are sent once and stored only as hashes.
import '../app.js';
import * as api from '../api.js';
import { $, h, errorText, fieldError, setStatus } from '../dom.js';

const form = $('#sq-form');
const status = $('#sq-status');
const fromIssue = new URLSearchParams(location.search).get('after') === 'issue';
let count = 3;
let minLength = 3;

async function load() {
  let d;
  try {
    d = await api.me.secretQuestions();
  } catch (e) {
    setStatus(status, `Secret questions cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  const questions = d.questions || [];
  count = Math.min(typeof d.required === 'number' && d.required > 0 ? d.required : 3, questions.length);
  minLength = typeof d.min_answer_length === 'number' && d.min_answer_length > 0 ? d.min_answer_length : 3;
  if (!count) {
    setStatus(status, 'No secret questions are configured on this server.', 'error');
    return;
  }
  if (d.locked) {
    setStatus(status, 'Your secret answers are locked after too many wrong answers. Ask the help desk to unlock them.', 'error');
    return;
  }
  setStatus(status, d.set
    ? 'You have set your secret questions. Saving new answers replaces them.'
    : fromIssue ? 'Your card is issued. Now set your secret questions.' : 'You have not set your secret questions yet.', d.set ? 'ok' : '');
  const fields = [];
  for (let i = 1; i <= count; i++) {
    fields.push(h('fieldset', {},
      h('legend', {}, `Question ${i}`),
      h('div', { class: 'field' },
        h('label', { for: `q${i}` }, 'Question'),
        h('select', { id: `q${i}`, name: `q${i}` },
          h('option', { value: '' }, 'Choose a question…'),
          questions.map((q) => h('option', { value: q }, q)))),
      h('div', { class: 'field' },
        h('label', { for: `a${i}` }, 'Answer'),
        h('input', { id: `a${i}`, name: `a${i}`, type: 'password', autocomplete: 'off' }))));
  }
  $('#sq-fields').replaceChildren(...fields);
  form.hidden = false;
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('#sq-error');
  err.textContent = '';
  const answers = [];
  const seen = new Set();
  let first = null;
  for (let i = 1; i <= count; i++) {
    const q = $(`#q${i}`);
    const a = $(`#a${i}`);
    let qmsg = '';
    if (!q.value) qmsg = 'Choose a question.';
    else if (seen.has(q.value)) qmsg = 'Choose a different question for each answer.';
    seen.add(q.value);
    const amsg = a.value.trim().length < minLength ? `Give an answer of at least ${minLength} characters.` : '';
    fieldError(q, qmsg);
    fieldError(a, amsg);
    first = first || (qmsg ? q : amsg ? a : null);
    answers.push({ question: q.value, answer: a.value.trim() });
  }
  if (first) {
    err.textContent = 'Check the questions and answers marked below.';
    first.focus();
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await api.me.setSecretQuestions(answers);
    form.reset();
    setStatus(status, 'Your secret questions are saved.', 'ok');
    if (fromIssue && !$('#back-home')) status.after(h('p', { id: 'back-home' }, h('a', { href: '/' }, 'Back to Your cards')));
  } catch (ex) {
    err.textContent = `Your answers were not saved. ${errorText(ex)}`;
  } finally {
    button.disabled = false;
  }
});

load();
