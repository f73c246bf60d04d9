// Console editor for one policy, card type or template: the object as
// JSON text, saved with PUT (or POST when new). The text goes to the
// server as written, so its validation message names exactly what is
// wrong.
import '../app.js';
import * as api from '../api.js';
import { $, h, errorText, fieldError, setStatus } from '../dom.js';
import { kinds } from './kinds.js';
import { bindFields, editorFields, syncFields } from './policynotify.js';

const main = $('#main');
const kind = main.dataset.kind;
const name = main.dataset.name;
const k = kinds[kind];
const status = $('#obj-status');
const text = $('#obj-json');
const err = $('#obj-error');
let isNew = new URLSearchParams(location.search).get('new') === '1';
let original = '';

const pretty = (o) => JSON.stringify(o, null, 2);
// The text changed from here: the page's switches follow it.
const fields = editorFields[kind];
const changed = fields ? () => syncFields(text, fields) : () => {};
if (fields) bindFields(text, fields);

async function load() {
  if (isNew) {
    original = pretty(k.seed(name));
    setStatus(status, `New ${k.one}: fill in the JSON and save to create it.`);
  } else {
    try {
      original = pretty(await api.objects[kind].get(name));
      setStatus(status, '');
    } catch (e) {
      setStatus(status, `This ${k.one} cannot be shown. ${errorText(e)}`, 'error');
      return;
    }
  }
  text.value = original;
  changed();
  $('#obj-save').textContent = isNew ? `Create ${k.one}` : 'Save';
  $('#obj-form').hidden = false;
}

$('#obj-reset').addEventListener('click', () => {
  text.value = original;
  changed();
  err.textContent = '';
  fieldError(text, '');
  setStatus(status, 'Changes reverted.');
});

$('#obj-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  err.textContent = '';
  text.removeAttribute('aria-invalid');
  let parsed;
  try {
    parsed = JSON.parse(text.value);
  } catch (ex) {
    err.textContent = `This is not valid JSON: ${ex.message}`;
    text.setAttribute('aria-invalid', 'true');
    text.focus();
    return;
  }
  if (parsed && typeof parsed === 'object' && parsed.name !== undefined && parsed.name !== name) {
    err.textContent = `The name cannot change here: it must stay "${name}".`;
    text.focus();
    return;
  }
  const button = $('#obj-save');
  button.disabled = true;
  setStatus(status, 'Saving…');
  try {
    const saved = isNew ? await api.objects[kind].create(text.value) : await api.objects[kind].replace(name, text.value);
    original = pretty(saved);
    text.value = original;
    changed();
    if (isNew) {
      isNew = false;
      history.replaceState(null, '', location.pathname);
      button.textContent = 'Save';
    }
    setStatus(status, `Saved ${k.one} ${name}.`, 'ok');
  } catch (ex) {
    setStatus(status, '');
    err.replaceChildren(h('strong', {}, 'Not saved. '), errorText(ex));
    text.setAttribute('aria-invalid', 'true');
    text.focus();
  } finally {
    button.disabled = false;
  }
});

load();
