// Console cluster: the replicas sharing the database (live or gone, the
// agents each holds) and the cluster-wide jobs' leases
// (GET /api/v1/replicas).
import '../app.js';
import * as api from '../api.js';
import { $, badge, errorText, fmtDateTime, h, setStatus, table } from '../dom.js';

const status = $('#cluster-status');

function agents(r) {
  const parts = [];
  parts.push(r.workstations === 1 ? '1 workstation' : `${r.workstations || 0} workstations`);
  if (r.aircard_services) parts.push(r.aircard_services === 1 ? '1 AirCard service' : `${r.aircard_services} AirCard services`);
  return parts.join(', ');
}

function replicaTable(v) {
  return table('', [
    { label: 'Replica', cell: (r) => (r.self ? [h('code', {}, r.id), ' (this server)'] : h('code', {}, r.id)) },
    { label: 'State', cell: (r) => badge(r.live ? 'live' : 'gone') },
    { label: 'Peer URL', cell: (r) => r.peer_url || '—' },
    { label: 'Agent URL', cell: (r) => r.agent_url || '—' },
    { label: 'Started', cell: (r) => fmtDateTime(r.started_at) },
    { label: 'Last heartbeat', cell: (r) => fmtDateTime(r.heartbeat_at) },
    { label: 'Agents', cell: agents },
  ], v.replicas || [], 'No replica is registered.');
}

function jobTable(v) {
  return table('', [
    { label: 'Job', cell: (j) => h('code', {}, j.name) },
    { label: 'Replica', cell: (j) => (j.replica ? h('code', {}, j.replica) : '—') },
    { label: 'Holder', cell: (j) => j.holder || '—' },
    { label: 'Lease', cell: (j) => (j.running ? `Running until ${fmtDateTime(j.lease_until)}` : 'Not running') },
    { label: 'Last run', cell: (j) => (j.last_run ? fmtDateTime(j.last_run) : 'Never') },
  ], v.jobs || [], 'No cluster-wide job has run yet.');
}

async function load() {
  try {
    const v = await api.cluster.get();
    $('#cluster-replicas').replaceChildren(replicaTable(v));
    $('#cluster-jobs').replaceChildren(jobTable(v));
    const live = (v.replicas || []).filter((r) => r.live).length;
    setStatus(status, v.cluster
      ? `${live} ${live === 1 ? 'replica' : 'replicas'} live.`
      : 'A single server: no cluster.');
  } catch (e) {
    setStatus(status, `The cluster cannot be shown. ${errorText(e)}`, 'error');
  }
}

load();
