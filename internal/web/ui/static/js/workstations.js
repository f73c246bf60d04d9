// workstations.js: the workstation table shared by Self-Service and the
// console.
import { h, badge, fmtDateTime, table } from './dom.js';

export function workstationTable(list, emptyText, withOwner) {
  return table('', [
    { label: 'Name', cell: (w) => w.name || `#${w.id}` },
    withOwner ? { label: 'Owner', cell: (w) => w.owner || (w.owner_id ? `#${w.owner_id}` : '—') } : null,
    { label: 'Status', cell: (w) => badge(w.status) },
    { label: 'TPM', cell: (w) => (w.tpm ? 'Yes' : 'No') },
    { label: 'Agent version', cell: (w) => w.agent_version || '—' },
    { label: 'Paired', cell: (w) => fmtDateTime(w.paired_at) },
    { label: 'Last seen', cell: (w) => fmtDateTime(w.last_seen_at) },
    { label: 'Key fingerprint', cell: (w) => (w.key_sha256 ? h('code', { title: w.key_sha256 }, w.key_sha256.slice(0, 16) + '…') : '—') },
  ].filter(Boolean), list, emptyText);
}
