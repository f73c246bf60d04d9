// Console Directory: the directory sources (administrators), Sync now and
// Dry run with the report, and the form to add or change a source. The
// bind password is write-only: the page never receives it.
import '../app.js';
import * as api from '../api.js';
import { $, h, errorText, facts, fmtDateTime, label, setStatus, table, confirmAction } from '../dom.js';

const status = $('#dir-status');
let sources = [];

function reportLine(r) {
  return `${r.created} created, ${r.updated} updated, ${r.disabled} disabled, ${r.enabled} enabled, ${r.moved} moved, ${r.unchanged} unchanged, ${r.errors.length} ${r.errors.length === 1 ? 'error' : 'errors'}`;
}

function showReport(r) {
  const what = r.dry_run ? 'Dry run: nothing was changed' : 'Sync';
  const parts = [
    h('p', {}, `${what} of ${r.source} (${r.full ? 'full' : 'incremental'}), ${fmtDateTime(r.finished_at)}: ${r.read} entries read.`),
    facts([['Created', String(r.created)], ['Updated', String(r.updated)], ['Disabled (left)', String(r.disabled)], ['Enabled again', String(r.enabled)],
      ['Moved (cards marked for update)', String(r.moved)], ['Unchanged', String(r.unchanged)],
      ['Leavers\' cards changed', String(r.cards_changed)], ['Cards marked update due', String(r.cards_due)]]),
  ];
  if (r.changes.length) {
    parts.push(table('Changes', [
      { label: 'Action', cell: (c) => label(c.action) },
      { label: 'Login', cell: (c) => c.login },
      { label: 'What', cell: (c) => [(c.fields || []).join(', '), c.moved ? ' (policy changed: cards update due)' : '', c.cards && c.cards.length ? ` cards ${c.cards.join(', ')}` : '', c.warning ? ` — warning: ${c.warning}` : ''].join('') || '—' },
    ], r.changes, ''));
  }
  if (r.omitted) parts.push(h('p', {}, `And ${r.omitted} more.`));
  parts.push(r.errors.length
    ? table('Entries not synced', [{ label: 'Entry', cell: (e) => e.dn || '—' }, { label: 'Why', cell: (e) => e.message }], r.errors, '')
    : h('p', { class: 'ok' }, 'No errors.'));
  $('#dir-report').replaceChildren(...parts);
  $('#dir-report-section').hidden = false;
}

async function sync(src, dryRun, btn) {
  btn.disabled = true;
  setStatus(status, `${dryRun ? 'Dry run' : 'Sync'} of ${src.name} running…`);
  try {
    const r = await api.directory.sync(src.id, dryRun);
    showReport(r);
    setStatus(status, `${dryRun ? 'Dry run' : 'Sync'} of ${src.name}: ${reportLine(r)}.`, r.errors.length ? 'error' : 'ok');
  } catch (e) {
    setStatus(status, `${dryRun ? 'The dry run' : 'The sync'} of ${src.name} failed. ${errorText(e)}`, 'error');
  } finally {
    btn.disabled = false;
  }
  // A sync that ran, or failed, changed what the list shows.
  if (!dryRun) await load(false);
}

function edit(src) {
  $('#dir-form-title').textContent = `Change ${src.name}`;
  $('#dir-save').textContent = 'Save source';
  $('#dir-cancel').hidden = false;
  $('#dir-id').value = String(src.id);
  $('#dir-name').value = src.name;
  $('#dir-kind').value = src.kind;
  $('#dir-url').value = src.url;
  $('#dir-starttls').checked = src.start_tls;
  $('#dir-ca').value = src.ca_pem || '';
  $('#dir-binddn').value = src.bind_dn || '';
  $('#dir-password').value = '';
  $('#dir-password').placeholder = src.has_bind_password ? '(a password is stored)' : '';
  $('#dir-basedn').value = src.base_dn;
  $('#dir-userfilter').value = src.user_filter || '';
  $('#dir-groupfilter').value = src.group_filter || '';
  $('#dir-mapping').value = src.mapping || '';
  $('#dir-pagesize').value = src.page_size || '';
  $('#dir-interval').value = src.sync_interval_minutes || '';
  $('#dir-leaver').value = src.leaver_action === 'revoke' ? 'revoke' : '';
  $('#dir-enabled').checked = src.enabled;
  $('#dir-name').focus();
}

function resetForm() {
  $('#dir-form').reset();
  $('#dir-id').value = '';
  $('#dir-password').placeholder = '';
  $('#dir-form-title').textContent = 'Add a directory source';
  $('#dir-save').textContent = 'Add source';
  $('#dir-cancel').hidden = true;
  $('#dir-error').textContent = '';
}

async function remove(src, btn) {
  if (!await confirmAction(btn, `Delete ${src.name}?`, 'Its users stay in Lanyard, no longer synced, and can no longer sign in with their directory password.', 'Delete source')) return;
  try {
    await api.directory.remove(src.id);
    setStatus(status, `${src.name} was deleted.`, 'ok');
    await load(false);
  } catch (e) {
    setStatus(status, `${src.name} cannot be deleted. ${errorText(e)}`, 'error');
  }
}

function render() {
  $('#sources').replaceChildren(table('', [
    { label: 'Name', cell: (s) => s.name },
    { label: 'Kind', cell: (s) => (s.kind === 'ad' ? 'Active Directory' : 'OpenLDAP') },
    { label: 'URL', cell: (s) => s.url },
    { label: 'Enabled', cell: (s) => (s.enabled ? 'Yes' : 'No') },
    { label: 'Last sync', cell: (s) => (s.last_sync_at ? fmtDateTime(s.last_sync_at) : 'Never') },
    { label: 'Last report', cell: (s) => (s.last_error ? h('span', { class: 'error' }, `Failed ${fmtDateTime(s.last_error_at)}: ${s.last_error}`) : (s.last_report ? reportLine(s.last_report) : '—')) },
    {
      label: 'Actions', class: 'actions',
      cell: (s) => [
        h('button', { type: 'button', class: 'small primary', 'aria-label': `Sync ${s.name} now`, onclick: (e) => sync(s, false, e.currentTarget) }, 'Sync now'),
        h('button', { type: 'button', class: 'small', 'aria-label': `Dry run of ${s.name}`, onclick: (e) => sync(s, true, e.currentTarget) }, 'Dry run'),
        s.last_report ? h('button', { type: 'button', class: 'small', 'aria-label': `Last report of ${s.name}`, onclick: () => showReport(s.last_report) }, 'Report') : null,
        h('button', { type: 'button', class: 'small', 'aria-label': `Change ${s.name}`, onclick: () => edit(s) }, 'Change'),
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${s.name}`, onclick: (e) => remove(s, e.currentTarget) }, 'Delete'),
      ],
    },
  ], sources, 'No directory source yet: add one below.'));
}

async function load(say = true) {
  try {
    sources = await api.directory.list();
  } catch (e) {
    setStatus(status, `The directory sources cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  render();
  if (say) setStatus(status, `${sources.length} ${sources.length === 1 ? 'source' : 'sources'}.`);
}

$('#dir-cancel').addEventListener('click', resetForm);
$('#dir-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#dir-error').textContent = '';
  const id = $('#dir-id').value;
  const body = {
    name: $('#dir-name').value.trim(),
    kind: $('#dir-kind').value,
    url: $('#dir-url').value.trim(),
    start_tls: $('#dir-starttls').checked,
    ca_pem: $('#dir-ca').value.trim(),
    bind_dn: $('#dir-binddn').value.trim(),
    base_dn: $('#dir-basedn').value.trim(),
    user_filter: $('#dir-userfilter').value.trim(),
    group_filter: $('#dir-groupfilter').value.trim(),
    mapping: $('#dir-mapping').value.trim(),
    page_size: Number($('#dir-pagesize').value) || 0,
    sync_interval_minutes: Number($('#dir-interval').value) || 0,
    leaver_action: $('#dir-leaver').value,
    enabled: $('#dir-enabled').checked,
  };
  const pw = $('#dir-password').value;
  if (pw || !id) body.bind_password = pw;
  const btn = $('#dir-save');
  btn.disabled = true;
  try {
    const s = id ? await api.directory.replace(id, body) : await api.directory.create(body);
    setStatus(status, `${s.name} was ${id ? 'saved' : 'added'}; ${s.enabled ? 'Sync now reads it at once, or wait for the next interval' : 'it is off'}.`, 'ok');
    resetForm();
    await load(false);
  } catch (ex) {
    $('#dir-error').textContent = errorText(ex);
  } finally {
    btn.disabled = false;
  }
});

load();
