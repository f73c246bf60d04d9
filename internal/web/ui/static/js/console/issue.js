// Console "Issue a card for a user" (the guide's ready-to-use card): the
// operator connects a card at their workstation, chooses the user, and
// opens the Self-Service Issue card dialog (issue.js) for that user: the
// server issues under the user's policy, and certificates issued on
// another person's behalf wait for a second person's CA approval.
import '../app.js';
import * as api from '../api.js';
import { $, h, errorText, setStatus } from '../dom.js';
import { openIssueDialog } from '../issue.js';
import { connectedTable } from '../connected.js';

const userInput = $('#issue-user');
const status = $('#issue-connected-status');

// suggest fills the user picker's list with the users matching what was
// typed so far.
let asked = '';
async function suggest() {
  const q = userInput.value.trim();
  if (q === asked) return;
  asked = q;
  let list = [];
  try {
    list = await api.users.list({ q });
  } catch {
    return; // the picker still takes a typed login
  }
  if (q !== asked) return;
  $('#issue-users').replaceChildren(...list.slice(0, 20).map((u) => h('option', { value: u.login }, u.display_name ? `${u.display_name} (${u.login})` : u.login)));
}

function issueFor(card, opener) {
  const user = userInput.value.trim();
  if (!user) {
    userInput.setCustomValidity('Choose the user the card is for.');
    userInput.reportValidity();
    setStatus(status, 'Choose the user the card is for first.', 'error');
    userInput.focus();
    return;
  }
  userInput.setCustomValidity('');
  openIssueDialog(card, opener, load, { user });
}

// load lists the cards connected at the operator's own workstations
// (GET /connected-cards?own=true): staff may see every workstation's
// readers, but a card is issued where the operator has it in hand.
async function load() {
  setStatus(status, 'Looking for connected cards…');
  let conn;
  try {
    conn = await api.cards.connected(true);
  } catch (e) {
    $('#issue-connected').replaceChildren();
    setStatus(status, `Connected cards cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  $('#issue-connected').replaceChildren(connectedTable('Cards at your workstations', conn, issueFor,
    'No cards are connected. Insert a card into a reader at your workstation where the Lanyard agent runs, then choose Refresh.'));
  setStatus(status, conn.length ? `${conn.length} connected ${conn.length === 1 ? 'card' : 'cards'}.` : '');
}

userInput.addEventListener('input', () => { userInput.setCustomValidity(''); suggest(); });
$('#issue-for-form').addEventListener('submit', (e) => e.preventDefault());
$('#issue-connected-refresh').addEventListener('click', load);
const preset = new URLSearchParams(location.search).get('user');
if (preset) userInput.value = preset;
load();
