// Console workstations: every registered agent.
import '../app.js';
import * as api from '../api.js';
import { $, errorText, setStatus } from '../dom.js';
import { workstationTable } from '../workstations.js';

const status = $('#ws-status');

async function load() {
  try {
    const list = await api.workstations.list();
    $('#ws-list').replaceChildren(workstationTable(list, 'No workstation is registered.', true, status, load));
    if (/^Loading/.test(status.textContent)) setStatus(status, `${list.length} ${list.length === 1 ? 'workstation' : 'workstations'}.`);
  } catch (e) {
    setStatus(status, `Workstations cannot be shown. ${errorText(e)}`, 'error');
  }
}

load();
