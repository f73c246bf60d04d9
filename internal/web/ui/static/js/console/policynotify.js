// policynotify.js: the switches of the console's object editor: on the
// policy page Notifications (issue 16, item 11) and Update card contents
// (issue 17), on the template page its Renewal key (issue 17). Each edits
// one value at a JSON path of the object's text, which the page saves as
// a whole: the text stays the one definition the server checks.
import { $ } from '../dom.js';

// editorFields are the switches per kind of object: checks (true or
// false), numbers (days; empty: the default, left out of the text) and
// selects (a value, or the default when empty).
export const editorFields = {
  policies: {
    checks: {
      '#pol-notify-user': ['settings', 'notifications', 'notify_user'],
      '#pol-notify-manager': ['settings', 'notifications', 'notify_manager'],
      '#pol-update-user': ['settings', 'workflow', 'issued_card_operations', 'update'],
      '#pol-update-optional': ['settings', 'workflow', 'select_optional_on_update'],
      '#pol-update-auto': ['settings', 'workflow', 'auto_update_on_connect'],
    },
    // Periods in days; empty: the default (30 and 7 for the Card
    // Monitor; the warning period for the renewal window).
    numbers: {
      '#pol-expiry-warning': ['settings', 'notifications', 'expiry_warning_days'],
      '#pol-expiry-resend': ['settings', 'notifications', 'expiry_resend_days'],
      '#pol-renewal-window': ['settings', 'certificates', 'renewal_window_days'],
    },
    // What a leaver's cards get (issue 18): "" leaves it to the source.
    selects: { '#pol-leaver': ['settings', 'workflow', 'leaver_action'] },
  },
  templates: {
    // new_key (default) or reuse_key: what Update card does with the key
    // of a certificate it renews.
    selects: { '#tpl-renewal-key': ['renewal_key'] },
  },
};

function parse(text) {
  try {
    const o = JSON.parse(text.value);
    return o && typeof o === 'object' ? o : null;
  } catch {
    return null;
  }
}

const get = (o, path) => path.reduce((v, k) => v?.[k], o);

// set writes v at path (undefined: deletes it), making the objects on
// the way.
function set(o, path, v) {
  let at = o;
  for (const k of path.slice(0, -1)) {
    at[k] = at[k] && typeof at[k] === 'object' ? { ...at[k] } : {};
    at = at[k];
  }
  const last = path[path.length - 1];
  if (v === undefined) delete at[last];
  else at[last] = v;
}

function each(spec, fn) {
  for (const [group, m] of Object.entries(spec || {})) {
    for (const [sel, path] of Object.entries(m)) fn(group, $(sel), path);
  }
}

// syncFields shows in the switches what the text says; they are disabled
// while the text is not valid JSON.
export function syncFields(text, spec) {
  const o = parse(text);
  each(spec, (group, el, path) => {
    const v = get(o, path);
    if (group === 'checks') el.checked = !!v;
    else if (group === 'selects') el.value = v ? String(v) : el.options[0].value; // the first option is the default
    else el.value = v ? String(v) : '';
    el.disabled = o === null;
  });
}

// bindFields makes the switches edit text, and follow its edits.
export function bindFields(text, spec) {
  each(spec, (group, el, path) => {
    el.addEventListener(group === 'numbers' ? 'input' : 'change', (e) => {
      const o = parse(text);
      if (o === null) return;
      let v = e.target.value === '' ? undefined : e.target.value;
      if (group === 'checks') v = e.target.checked;
      // A number the server refuses (0, 400, 2.5) is sent as typed: its
      // message names the field.
      else if (group === 'numbers' && v !== undefined) v = Number(v);
      set(o, path, v);
      text.value = JSON.stringify(o, null, 2);
    });
  });
  text.addEventListener('input', () => syncFields(text, spec));
}
