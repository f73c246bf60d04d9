// Self-Service workstations: confirm an agent's pairing code, list the
// person's workstations.
import '../app.js';
import * as api from '../api.js';
import { $, errorText, fieldError, setStatus } from '../dom.js';
import { workstationTable } from '../workstations.js';

async function load() {
  const status = $('#ws-status');
  try {
    const list = await api.workstations.list();
    $('#ws-list').replaceChildren(workstationTable(list, 'You have no paired workstations yet.', false, status, load));
    if (/^Loading/.test(status.textContent)) setStatus(status, '');
  } catch (e) {
    $('#ws-list').replaceChildren();
    setStatus(status, `Workstations cannot be shown. ${errorText(e)}`, 'error');
  }
}

$('#pair-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('#pair-code');
  const err = $('#pair-error');
  const code = input.value.trim();
  err.textContent = '';
  fieldError(input, code ? '' : 'Enter the code the agent shows.');
  if (!code) { input.focus(); return; }
  const button = e.target.querySelector('button[type=submit]');
  button.disabled = true;
  setStatus($('#pair-status'), 'Confirming…');
  try {
    await api.workstations.pair(code);
    input.value = '';
    setStatus($('#pair-status'), 'The workstation is paired. Its agent connects within a few seconds.', 'ok');
    load();
  } catch (ex) {
    setStatus($('#pair-status'), '');
    err.textContent = `The workstation was not paired. ${errorText(ex)}`;
    input.focus();
  } finally {
    button.disabled = false;
  }
});

load();
