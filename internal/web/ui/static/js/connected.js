// connected.js: the table of cards connected at workstations (GET
// /connected-cards) with an Issue card button on each row, shared by
// Self-Service's Connected cards and the console's "Issue a card for a
// user".
import * as api from './api.js';
import { h, badge, label, table } from './dom.js';

const me = api.currentUser();

function registered(c) {
  if (!c.card_id) return 'No';
  if (c.owner && c.owner !== me) return `Yes, to ${c.owner}`;
  return c.owner ? 'Yes, to you' : 'Yes';
}

// connectedTable lists conn; onIssue(card, button) opens the Issue card
// dialog for a row.
export function connectedTable(caption, conn, onIssue, emptyText) {
  return table(caption, [
    { label: 'Workstation', cell: (c) => c.workstation || c.workstation_id || '—' },
    { label: 'Reader', cell: (c) => c.reader },
    { label: 'Serial', cell: (c) => h('code', {}, c.serial || '—') },
    { label: 'Card type', cell: (c) => c.card_type || 'Not recognized' },
    { label: 'Registered', cell: registered },
    { label: 'State', cell: (c) => (c.state ? badge(c.state) : label('')) },
    {
      label: 'Actions', class: 'actions',
      cell: (c) => h('button', {
        type: 'button', class: 'primary', 'aria-label': `Issue card in ${c.reader}`,
        onclick: (e) => onIssue(c, e.currentTarget),
      }, 'Issue card'),
    },
  ], conn, emptyText);
}
