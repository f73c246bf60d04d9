// Console cards: search by serial/name, owner, state, which Admin PIN
// (PUK) the card holds, PIN blocked and content status (the Card
// Monitor's: certificates expiring or expired); each row opens the card's details.
import '../app.js';
import * as api from '../api.js';
import { $, h, badge, errorText, fmtDate, setStatus, table } from '../dom.js';
import { allowed, openResetPINDialog } from '../pin.js';
import { reasonText, stateButtons } from '../cardstates.js';
import { replaceButtons } from '../replace.js';
import { pinBlockedBadge } from '../pinstatus.js';

const status = $('#cards-status');
const form = $('#card-search');

// pukBadge says in words which PUK a card holds (issue 13): a shared one
// (the card type's default, or one chosen at an old issue and never
// stored) lets whoever holds the card reset its PIN. A factory-fresh card
// has none of Lanyard's.
const pukWords = { default: 'Shared (default)', unknown: 'Unknown', random: 'Own' };
function pukBadge(state) {
  if (!pukWords[state]) return '—';
  return h('span', { class: 'badge puk-' + state }, pukWords[state]);
}

// contentBadge names the Card Monitor's content status of a card: which
// of its certificates (managed: Lanyard's; tracked: found on the card)
// are within the warning period or expired.
const contentWords = { managed_expiring: 'Managed expiring', managed_expired: 'Managed expired', tracked_expiring: 'Tracked expiring', tracked_expired: 'Tracked expired' };
function contentBadge(st) {
  if (!contentWords[st]) return '—';
  return h('span', { class: 'badge content-' + st.replace('_', '-') }, contentWords[st]);
}

async function load() {
  const filter = { q: $('#card-q').value.trim(), user: $('#card-user').value.trim(), state: $('#card-state').value, puk_state: $('#card-puk').value, pin_blocked: $('#card-pin').value, content_status: $('#card-content').value };
  setStatus(status, 'Loading…');
  let list;
  try {
    list = await api.cards.list(filter);
  } catch (e) {
    $('#cards').replaceChildren();
    setStatus(status, `Cards cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  $('#cards').replaceChildren(table('', [
    { label: 'Serial', cell: (c) => h('a', { href: `/console/cards/${encodeURIComponent(c.id)}` }, h('code', {}, c.serial || `#${c.id}`)) },
    { label: 'Card type', cell: (c) => c.card_type || '—' },
    { label: 'Owner', cell: (c) => c.owner || '—' },
    { label: 'Name', cell: (c) => c.name || '—' },
    { label: 'State', cell: (c) => [badge(c.state), c.revocation_reason ? [' ', reasonText(c.revocation_reason)] : '', c.pin && c.pin.blocked ? [' ', pinBlockedBadge(c)] : ''] },
    { label: 'Issued', cell: (c) => fmtDate(c.issued_at) },
    { label: 'Admin PIN (PUK)', cell: (c) => pukBadge(c.puk_state) },
    { label: 'Content', cell: (c) => contentBadge(c.content_status) },
    {
      label: 'Card menu', class: 'actions',
      cell: (c) => h('details', { class: 'menu' },
        h('summary', { 'aria-label': `Card menu for ${c.serial || c.id}` }, 'Menu'),
        h('ul', {},
          h('li', {}, h('a', { href: `/console/cards/${encodeURIComponent(c.id)}` }, 'Details')),
          h('li', {}, h('a', { href: `/console/cards/${encodeURIComponent(c.id)}#contents` }, 'Contents')),
          h('li', {}, h('a', { href: `/console/cards/${encodeURIComponent(c.id)}#history` }, 'History')),
          allowed(c, 'reset_pin', true) ? h('li', {}, h('button', { type: 'button', onclick: (e) => openResetPINDialog(c, true, e.currentTarget, () => load()) }, 'Reset user PIN')) : '',
          // The state operations this person may start on the card.
          h('li', {}, stateButtons(c, c.allowed_operations, status, () => load())),
          h('li', {}, replaceButtons(c, c.allowed_operations, status, () => load())),
          // Update card contents: the card page knows whether an update
          // is due or unfinished (the list does not carry it).
          (c.allowed_operations || []).includes('update') ? h('li', {}, h('a', { href: `/console/cards/${encodeURIComponent(c.id)}#overview` }, 'Update card…')) : '')),
    },
  ], list, 'No card matches.'));
  setStatus(status, `${list.length} ${list.length === 1 ? 'card' : 'cards'}.`);
}

const params = new URLSearchParams(location.search);
for (const [k, id] of [['q', 'card-q'], ['user', 'card-user'], ['state', 'card-state'], ['puk_state', 'card-puk'], ['pin_blocked', 'card-pin'], ['content_status', 'card-content']]) {
  if (params.get(k)) $('#' + id).value = params.get(k);
}
form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
load();
