// policynotify.js: the policy page's Notifications switches (issue 16,
// item 11). They edit settings.notifications.notify_user and
// notify_manager in the policy's JSON text, which the page saves as a
// whole: the text stays the one definition the server checks.
import { $ } from '../dom.js';

const fields = { '#pol-notify-user': 'notify_user', '#pol-notify-manager': 'notify_manager' };
// The Card Monitor's periods (days; empty: the default, 30 and 7).
const numbers = { '#pol-expiry-warning': 'expiry_warning_days', '#pol-expiry-resend': 'expiry_resend_days' };

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
  const n = o?.settings?.notifications || {};
  for (const [sel, key] of Object.entries(fields)) {
    $(sel).checked = !!n[key];
    $(sel).disabled = o === null;
  }
  for (const [sel, key] of Object.entries(numbers)) {
    $(sel).value = n[key] ? String(n[key]) : '';
    $(sel).disabled = o === null;
  }
}

// bindNotifications makes the switches edit text, and follow its edits.
export function bindNotifications(text) {
  for (const [sel, key] of Object.entries(fields)) {
    $(sel).addEventListener('change', (e) => {
      const o = parse(text);
      if (o === null) return;
      o.settings = o.settings || {};
      o.settings.notifications = { ...(o.settings.notifications || {}), [key]: e.target.checked };
      text.value = JSON.stringify(o, null, 2);
    });
  }
  for (const [sel, key] of Object.entries(numbers)) {
    $(sel).addEventListener('input', (e) => {
      const o = parse(text);
      if (o === null) return;
      o.settings = o.settings || {};
      const n = { ...(o.settings.notifications || {}) };
      // A value the server refuses (0, 400, 2.5) is sent as typed: its
      // message names the field.
      if (e.target.value === '') delete n[key];
      else n[key] = Number(e.target.value);
      o.settings.notifications = n;
      text.value = JSON.stringify(o, null, 2);
    });
  }
  text.addEventListener('input', () => syncNotifications(text));
}
