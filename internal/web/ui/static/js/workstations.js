// workstations.js: the workstation table shared by Self-Service and the
// console, with Revoke for active and pending workstations.
import * as api from './api.js';
import { h, badge, confirmAction, errorText, fmtDateTime, setStatus, table } from './dom.js';

function readers(w) {
  // A list gives an AirCard service's count only: a reader per AirCard.
  if (w.role === 'aircard_service') {
    const n = w.reader_count || 0;
    return n === 1 ? '1 AirCard hosted' : `${n} AirCards hosted`;
  }
  const list = w.readers || [];
  if (!list.length) return '—';
  return h('ul', { class: 'plain' }, list.map((r) => h('li', {}, r.name, r.present ? ` (card ${r.serial || 'present'})` : ' (empty)')));
}

// workstationTable renders list; status is the live region for results,
// reload is called after a change.
export function workstationTable(list, emptyText, withOwner, status, reload) {
  return table('', [
    { label: 'Name', cell: (w) => w.name || `#${w.id}` },
    withOwner ? { label: 'Owner', cell: (w) => w.owner || (w.owner_id ? `#${w.owner_id}` : '—') } : null,
    { label: 'Status', cell: (w) => badge(w.status) },
    // In a cluster the console also names the server holding the agent.
    { label: 'Agent', cell: (w) => (!w.online ? 'Not connected' : withOwner && w.replica ? `Connected (server ${w.replica})` : 'Connected') },
    { label: 'Readers', cell: readers },
    { label: 'TPM', cell: (w) => (w.tpm ? 'Yes' : 'No') },
    { label: 'Agent version', cell: (w) => w.agent_version || '—' },
    { label: 'Last seen', cell: (w) => fmtDateTime(w.last_seen_at) },
    {
      label: 'Actions', class: 'actions',
      cell: (w) => (w.status === 'revoked' ? '' : h('button', {
        type: 'button', class: 'small', 'aria-label': `Revoke workstation ${w.name || w.id}`,
        onclick: async (e) => {
          const opener = e.currentTarget;
          const ok = await confirmAction(opener, `Revoke workstation ${w.name || w.id}?`,
            'Its certificate is revoked and its agent disconnected. The agent must be paired again to be used.', 'Revoke');
          if (!ok) return;
          try {
            await api.workstations.revoke(w.id);
            setStatus(status, `Workstation ${w.name || w.id} revoked.`, 'ok');
            reload();
          } catch (ex) {
            setStatus(status, `The workstation was not revoked. ${errorText(ex)}`, 'error');
          }
        },
      }, 'Revoke')),
    },
  ].filter(Boolean), list, emptyText);
}
