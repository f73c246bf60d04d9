// Console Notifications: SMTP settings with a test e-mail, the outbox
// (failed messages highlighted, with Retry) and the template editor.
import '../app.js';
import * as api from '../api.js';
import { $, h, badge, errorText, fmtDateTime, label, setStatus, table } from '../dom.js';

const status = $('#nt-status');
let templates = [];

function fillSettings(s) {
  $('#smtp-enabled').checked = s.enabled;
  $('#smtp-host').value = s.host || '';
  $('#smtp-port').value = s.port || '';
  $('#smtp-security').value = s.security || 'starttls';
  $('#smtp-username').value = s.username || '';
  $('#smtp-password').value = '';
  $('#smtp-password').placeholder = s.password_set ? '(a password is stored)' : '';
  $('#smtp-clear').checked = false;
  $('#smtp-from').value = s.from || '';
  $('#smtp-ca').value = s.ca || '';
}

$('#smtp-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#smtp-error').textContent = '';
  const btn = $('#smtp-save');
  btn.disabled = true;
  try {
    const s = await api.notifications.saveSettings({
      enabled: $('#smtp-enabled').checked,
      host: $('#smtp-host').value.trim(),
      port: Number($('#smtp-port').value) || 0,
      security: $('#smtp-security').value,
      username: $('#smtp-username').value.trim(),
      password: $('#smtp-password').value,
      clear_password: $('#smtp-clear').checked,
      from: $('#smtp-from').value.trim(),
      ca: $('#smtp-ca').value.trim(),
    });
    fillSettings(s);
    setStatus(status, `Settings saved; notifications are ${s.enabled ? 'on' : 'off'}.`, 'ok');
  } catch (ex) {
    $('#smtp-error').textContent = errorText(ex);
  } finally {
    btn.disabled = false;
  }
});

$('#test-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#test-error').textContent = '';
  const to = $('#test-to').value.trim();
  try {
    const m = await api.notifications.test(to);
    setStatus(status, `Test e-mail #${m.id} to ${to} is queued; the outbox shows when it is sent.`, 'ok');
    await loadOutbox();
  } catch (ex) {
    $('#test-error').textContent = errorText(ex);
  }
});

async function loadOutbox() {
  let list;
  try {
    list = await api.notifications.outbox($('#outbox-filter').value);
  } catch (e) {
    $('#outbox').replaceChildren(h('p', { class: 'error' }, `The outbox cannot be shown. ${errorText(e)}`));
    return;
  }
  const t = table('', [
    { label: 'Message', cell: (m) => `#${m.id}` },
    { label: 'Notification', cell: (m) => label(m.kind) },
    { label: 'To', cell: (m) => m.to.join(', ') },
    { label: 'Subject', cell: (m) => m.subject },
    { label: 'State', cell: (m) => badge(m.state) },
    { label: 'Attempts', cell: (m) => String(m.attempts) },
    { label: 'Next attempt', cell: (m) => (m.state === 'queued' ? fmtDateTime(m.next_attempt_at) : '—') },
    { label: 'Last error', cell: (m) => m.last_error || '—' },
    { label: 'Queued', cell: (m) => fmtDateTime(m.created_at) },
    {
      label: 'Actions', class: 'actions',
      cell: (m) => (m.state !== 'failed' ? '' : h('button', { type: 'button', class: 'small primary', 'aria-label': `Retry message ${m.id}`, onclick: () => retry(m) }, 'Retry')),
    },
  ], list, 'No messages.');
  // Failed messages stand out (the state badge says it in words too).
  if (t.tagName === 'TABLE') {
    t.querySelectorAll('tbody tr').forEach((tr, i) => { if (list[i].state === 'failed') tr.classList.add('failed'); });
  }
  $('#outbox').replaceChildren(t);
  const failed = list.filter((m) => m.state === 'failed').length;
  if (failed) setStatus(status, `${failed} ${failed === 1 ? 'message' : 'messages'} could not be delivered; check the settings, then retry.`, 'error');
}

async function retry(m) {
  try {
    await api.notifications.retry(m.id);
    setStatus(status, `Message #${m.id} is queued again.`, 'ok');
  } catch (e) {
    setStatus(status, `Message #${m.id} cannot be retried. ${errorText(e)}`, 'error');
  }
  await loadOutbox();
}

$('#outbox-filter').addEventListener('change', loadOutbox);
$('#outbox-refresh').addEventListener('click', loadOutbox);

function showTemplate() {
  const t = templates.find((x) => x.kind === $('#tpl-kind').value);
  if (!t) return;
  $('#tpl-desc').textContent = t.description + (t.default ? ' (default text)' : ' (edited)');
  $('#tpl-subject').value = t.subject;
  $('#tpl-text').value = t.text;
  $('#tpl-html').value = t.html || '';
  $('#tpl-fields').textContent = 'Fields: ' + t.fields.join(', ');
  $('#tpl-error').textContent = '';
}

async function saveTemplate(body, what) {
  const kind = $('#tpl-kind').value;
  $('#tpl-error').textContent = '';
  try {
    const t = await api.notifications.saveTemplate(kind, body);
    templates = templates.map((x) => (x.kind === kind ? t : x));
    showTemplate();
    setStatus(status, `Template "${label(kind)}" ${what}.`, 'ok');
  } catch (ex) {
    $('#tpl-error').textContent = errorText(ex);
  }
}

$('#tpl-kind').addEventListener('change', showTemplate);
$('#tpl-form').addEventListener('submit', (e) => {
  e.preventDefault();
  saveTemplate({ subject: $('#tpl-subject').value, text: $('#tpl-text').value, html: $('#tpl-html').value }, 'saved');
});
$('#tpl-reset').addEventListener('click', () => saveTemplate({ subject: '', text: '', html: '' }, 'restored to the default'));

(async () => {
  try {
    const [s, t] = await Promise.all([api.notifications.settings(), api.notifications.templates()]);
    fillSettings(s);
    templates = t;
    $('#tpl-kind').replaceChildren(...t.map((x) => h('option', { value: x.kind }, label(x.kind))));
    showTemplate();
    setStatus(status, s.enabled ? 'Notifications are on.' : 'Notifications are off: nothing is sent until you turn them on.');
  } catch (e) {
    setStatus(status, `Notifications cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  await loadOutbox();
})();
