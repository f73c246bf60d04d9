// policynotify.js: the policy page's switches: Notifications (issue 16,
// item 11) and Update card contents (issue 17). Each edits one setting,
// settings.<section>.<key>, in the policy's JSON text, which the page
// saves as a whole: the text stays the one definition the server checks.
import { $ } from '../dom.js';

const fields = {
  '#pol-notify-user': ['notifications', 'notify_user'],
  '#pol-notify-manager': ['notifications', 'notify_manager'],
  '#pol-update-optional': ['workflow', 'select_optional_on_update'],
  '#pol-update-auto': ['workflow', 'auto_update_on_connect'],
};
// Periods in days; empty: the default (30 and 7 for the Card Monitor;
// the warning period for the renewal window).
const numbers = {
  '#pol-expiry-warning': ['notifications', 'expiry_warning_days'],
  '#pol-expiry-resend': ['notifications', 'expiry_resend_days'],
  '#pol-renewal-window': ['certificates', 'renewal_window_days'],
};

function parse(text) {
  try {
    const o = JSON.parse(text.value);
    return o && typeof o === 'object' ? o : null;
  } catch {
    return null;
  }
}

// syncNotifications shows in the switches what the text says; they are
// disabled while the text is not valid JSON.
export function syncNotifications(text) {
  const o = parse(text);
  for (const [sel, [section, key]] of Object.entries(fields)) {
    $(sel).checked = !!o?.settings?.[section]?.[key];
    $(sel).disabled = o === null;
  }
  for (const [sel, [section, key]] of Object.entries(numbers)) {
    const v = o?.settings?.[section]?.[key];
    $(sel).value = v ? String(v) : '';
    $(sel).disabled = o === null;
  }
}

// bindNotifications makes the switches edit text, and follow its edits.
export function bindNotifications(text) {
  for (const [sel, [section, key]] of Object.entries(fields)) {
    $(sel).addEventListener('change', (e) => {
      const o = parse(text);
      if (o === null) return;
      o.settings = o.settings || {};
      o.settings[section] = { ...(o.settings[section] || {}), [key]: e.target.checked };
      text.value = JSON.stringify(o, null, 2);
    });
  }
  for (const [sel, [section, key]] of Object.entries(numbers)) {
    $(sel).addEventListener('input', (e) => {
      const o = parse(text);
      if (o === null) return;
      o.settings = o.settings || {};
      const n = { ...(o.settings[section] || {}) };
      // A value the server refuses (0, 400, 2.5) is sent as typed: its
      // message names the field.
      if (e.target.value === '') delete n[key];
      else n[key] = Number(e.target.value);
      o.settings[section] = n;
      text.value = JSON.stringify(o, null, 2);
    });
  }
  text.addEventListener('input', () => syncNotifications(text));
}
