// kinds.js: how the console lists and seeds each configuration object.
import { h, label } from '../dom.js';

const yes = (b) => (b ? 'Yes' : 'No');

function documentsCheck(d) {
  if (!d || !d.check || d.check === 'none') return 'None';
  const what = { certificate_request: 'Certificate request', certificate_form: 'Certificate form', both: 'Request and form' }[d.check] || label(d.check);
  return [what, d.channel === 'other' ? 'by other means' : '', d.precheck ? 'prechecked' : ''].filter(Boolean).join(', ');
}

export const kinds = {
  policies: {
    one: 'policy',
    columns: [
      { label: 'Priority', cell: (p) => String(p.priority) },
      { label: 'Description', cell: (p) => p.description || '—' },
      { label: 'Assigned to', cell: (p) => (p.assignments || []).map((a) => (a.kind === 'everyone' ? 'Everyone' : `${label(a.kind)} ${a.name}`)).join('; ') || 'Nobody' },
      { label: 'Initialize card', cell: (p) => yes(p.settings?.issuance?.initialize_card) },
      { label: 'Random PIN', cell: (p) => yes(p.settings?.issuance?.random_user_pin) },
      // Documents check: which signed documents an issue waits for, and
      // whether a document officer prechecks the request form first.
      { label: 'Documents check', cell: (p) => documentsCheck(p.settings?.documents) },
    ],
    seed: (name) => ({ name, description: '', priority: 100, assignments: [] }),
  },
  'card-types': {
    one: 'card type',
    columns: [
      { label: 'Kind', cell: (c) => label(c.kind) },
      { label: 'PIN length', cell: (c) => (c.pin_policy ? `${c.pin_policy.min_length}–${c.pin_policy.max_length}` : '—') },
      { label: 'Key algorithms', cell: (c) => (c.key_algorithms || []).join(', ') || '—' },
      { label: 'Initialization', cell: (c) => yes(c.supports_initialization) },
    ],
    seed: (name) => ({ name, description: '', kind: 'piv', atr_patterns: [], key_algorithms: ['rsa2048'], pin_policy: { min_length: 6, max_length: 8, pin_retries: 3, puk_retries: 3 } }),
  },
  templates: {
    one: 'template',
    columns: [
      { label: 'Display name', cell: (t) => t.display_name || '—' },
      { label: 'CA', cell: (t) => t.ca || '—' },
      { label: 'Validity', cell: (t) => `${t.validity_days} days` },
      { label: 'Key algorithms', cell: (t) => (t.key_algorithms || []).join(', ') },
      { label: 'Approval', cell: (t) => [t.requires_ca_approval ? 'CA manager' : '', t.requires_form_approval ? 'Certificate form' : ''].filter(Boolean).join(', ') || 'None' },
      { label: 'Card-held keys only', cell: (t) => yes(t.card_keys_only) },
      { label: 'Put certificate on hold when the card is disabled', cell: (t) => yes(t.revoke_on_disable) },
      { label: 'Renewal key', cell: (t) => (t.renewal_key === 'reuse_key' ? 'Reuse key' : 'New key') },
    ],
    // card_keys_only: the template certifies only keys generated on a card;
    // the server turns it on for every smart card logon template.
    // revoke_on_disable: on for new templates (a disabled card may be in
    // the wrong hands); templates saved before the setting have it off.
    // renewal_key: Update card contents renews with a new key pair
    // (new_key) or certifies the card's key again (reuse_key).
    seed: (name) => ({ name, display_name: name, key_algorithms: ['ecp256'], validity_days: 365, key_usage: ['digital_signature'], ext_key_usage: ['client_auth'], subject: { common_name: '{display_name}' }, card_keys_only: false, revoke_on_disable: true, renewal_key: 'new_key' }),
  },
};

export function nameLink(kind, name) {
  return h('a', { href: `/console/${kind}/${encodeURIComponent(name)}` }, h('code', {}, name));
}
