// api.js is the only module that knows the JSON API's paths and shapes.
// Pages call the functions below; when an endpoint is renamed, this file
// is the one to change. Every error becomes an APIError carrying the
// server's problem+json detail, which pages show as it is.

const base = '/api/v1';

export class APIError extends Error {
  constructor(status, problem, retryAfter) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.code = (problem && problem.code) || '';
    this.problem = problem || {};
    this.retryAfter = retryAfter || '';
  }
}

// The session's CSRF token: the page puts it in a meta element; a fresh
// login hands it back in the JSON.
let csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || '';

export function currentUser() {
  return document.querySelector('meta[name="lanyard-user"]')?.content || '';
}

function call(method, path, body) {
  if (body === undefined) return send(method, path);
  return send(method, path, typeof body === 'string' ? body : JSON.stringify(body), 'application/json');
}

// The Remote Self-Service session's CSRF token (/rss/): a session of its
// own, which a 401 ends without sending anyone to the login form.
let rssToken = '';

function rssCall(method, path, body) {
  if (body === undefined) return send(method, path, undefined, undefined, true);
  return send(method, path, JSON.stringify(body), 'application/json', true);
}

// loginPaths are the login form's own calls: their 401 is an answer to
// show, not an expired session.
const loginPaths = new Set(['/session', '/session/second-factor', '/session/card', '/session/second-factor/card']);

// send is call with a body of any type (a File for uploads); rss sends
// the Remote Self-Service session's token instead of the session's.
async function send(method, path, body, contentType, rss = false) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json, application/problem+json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = contentType;
    opts.body = body;
  }
  if (method !== 'GET' && method !== 'HEAD') opts.headers['X-CSRF-Token'] = rss ? rssToken : csrfToken;
  let res;
  try {
    res = await fetch(base + path, opts);
  } catch {
    throw new APIError(0, { detail: 'The server cannot be reached. Check your network connection and try again.' });
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    // An expired session on any page but the login form: log in again and
    // come back here.
    if (res.status === 401 && !rss && !loginPaths.has(path)) {
      location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    }
    throw new APIError(res.status, data || { detail: `The server answered ${res.status} ${res.statusText}.` }, res.headers.get('Retry-After'));
  }
  return data;
}

// items accepts both list shapes: a bare array or {"items": [...]}.
export function items(d) {
  if (Array.isArray(d)) return d;
  if (d && Array.isArray(d.items)) return d.items;
  return [];
}

function query(params) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') s.set(k, v);
  }
  const t = s.toString();
  return t ? '?' + t : '';
}

const enc = encodeURIComponent;

export const session = {
  // The session, or {second_factor: 'code'|'enroll', secret, otpauth_url}
  // when the second step is due.
  login: async (login, password) => {
    const info = await call('POST', '/session', { login, password });
    if (info && info.csrf_token) csrfToken = info.csrf_token;
    return info;
  },
  // The login's second step: the authenticator app's code.
  secondFactor: async (code) => {
    const info = await call('POST', '/session/second-factor', { code });
    if (info && info.csrf_token) csrfToken = info.csrf_token;
    return info;
  },
  // Smart card sign-in: the card certificate the browser presented on
  // this HTTPS connection; the card is the second factor.
  cardLogin: async () => {
    const info = await call('POST', '/session/card');
    if (info && info.csrf_token) csrfToken = info.csrf_token;
    return info;
  },
  // The login's second step by card instead of the app's code.
  cardSecondFactor: async () => {
    const info = await call('POST', '/session/second-factor/card');
    if (info && info.csrf_token) csrfToken = info.csrf_token;
    return info;
  },
  qrURL: base + '/session/second-factor/qr.png', // the enrolling app's QR code
  // The login waiting for its second factor after a single sign-on.
  pending: () => call('GET', '/session/second-factor'),
  // The single sign-on providers the login page offers, and the address
  // that starts a sign-in at one.
  providers: () => call('GET', '/session/providers'),
  ssoURL: (name, next) => `/login/oidc/${enc(name)}?next=${enc(next)}`,
  whoami: () => call('GET', '/session'),
  logout: () => call('DELETE', '/session'),
};

// Cards (issue #4: the lead's card API).
export const cards = {
  list: (filter) => call('GET', '/cards' + query(filter)).then(items), // filter: {user, state, q, puk_state, pin_blocked, content_status}
  // [{status, label, cards}]: every card counted by the Card Monitor's content status (staff, auditors)
  contentCounts: () => call('GET', '/card-content-status').then(items),
  get: (id) => call('GET', `/cards/${enc(id)}`), // the card's fields with certificates and operations
  // req: {workstation_id, reader, user_pin, admin_pin}
  continueIssue: (id, req) => call('POST', `/cards/${enc(id)}/continue`, req),
  // req: {workstation_id, reader, admin_pin}
  revokeClear: (id, req) => call('POST', `/cards/${enc(id)}/revoke-clear`, req),
  // req: {operation_id, to: 'user' | 'manager'}: e-mail the random PIN of
  // the issue just finished (once; the server mails its own sealed copy)
  mailPIN: (id, req) => call('POST', `/cards/${enc(id)}/mail-pin`, req),
  // own: only the caller's own workstations (staff see every one without)
  connected: (own) => call('GET', '/connected-cards' + (own ? '?own=true' : '')).then(items),
  // req: {password, code, pin}: Set up PIN of a platform credential
  setupPIN: (id, req) => call('POST', `/cards/${enc(id)}/pin-setup`, req),
  computers: (id) => call('GET', `/cards/${enc(id)}/computers`).then(items), // AirCard: [{workstation_id, workstation, added_by, added_at, online}]
  removeComputer: (id, ws) => call('DELETE', `/cards/${enc(id)}/computers/${enc(ws)}`),
  // {code, serial, expires_at, mailed_to, mail_note}, shown once; mail: also sent to the owner
  airCardCode: (id, mail) => call('POST', `/cards/${enc(id)}/aircard-codes`, { mail: !!mail }),
  // req: {workstation_id, reader, old_pin, new_pin}: Change PIN (the owner)
  changePIN: (id, req) => call('POST', `/cards/${enc(id)}/pin-change`, req),
  // req: {workstation_id, reader, new_pin, answers: [{question, answer}]}:
  // Reset PIN / online unblock; {card, random_pin, pin_held_for_owner, pin_mailed_to, pin_mail_note}
  resetPIN: (id, req) => call('POST', `/cards/${enc(id)}/pin-reset`, req),
  // req: {challenge, answers: [{question, answer}]}: the offline unblock's
  // response to a challenge read from the card; {response, serial, scheme}
  offlineUnblock: (id, req) => call('POST', `/cards/${enc(id)}/offline-unblock`, req),
  // Card state operations, the card absent (docs/lifecycle.md); each
  // returns the card as it is now.
  disable: (id) => call('POST', `/cards/${enc(id)}/disable`, {}),
  enable: (id) => call('POST', `/cards/${enc(id)}/enable`, {}),
  // req: {reason: lost|compromised|damaged|superseded|withdrawn, comment}
  revoke: (id, req) => call('POST', `/cards/${enc(id)}/revoke`, req),
  // req: {to: 'stock' | 'owner'}
  withdraw: (id, req) => call('POST', `/cards/${enc(id)}/withdraw`, req),
  // req: {kind: permanent|temporary, reason: lost|compromised|damaged,
  // workstation_id, reader, templates, user_pin, comment}: Replace card;
  // {card, state, random_pin, old_card, replacement}
  replace: (id, req) => call('POST', `/cards/${enc(id)}/replace`, req),
  // Update card contents (docs/lifecycle.md): target {workstation_id,
  // reader} names the reader holding card id.
  // {card, due, slots: [{slot, template, action, key, reasons, old, not_after, need_ca, need_form}],
  //  optional_templates, optional_selectable, tracked, untracked, tracked_selectable, cautions}
  updateOptions: (id, target) => call('POST', `/cards/${enc(id)}/update/options`, target),
  // req: {workstation_id, reader, templates, tracked, renew, accept_key_loss};
  // {card, operation_id, state: done|pending, slots: [{slot, template, action, key, old_serial, new_serial, status}]}
  update: (id, req) => call('POST', `/cards/${enc(id)}/update`, req),
  continueUpdate: (id, target) => call('POST', `/cards/${enc(id)}/update/continue`, target),
  // req: {comment} (administrators); the card as it is now
  cancelUpdate: (id, req) => call('POST', `/cards/${enc(id)}/update/cancel`, req),
  // Update card contents of a software store (its re-issue). req:
  // {password, templates}; {card, operation_id, files: [{template, action,
  // old_serial, new_serial, old_path, path, nss, nss_note}]}
  reissueStore: (id, req) => call('POST', `/cards/${enc(id)}/software-store/reissue`, req),
  // Recover keys onto card: req {workstation_id, reader} with the
  // owner's {account_password, code} or staff's {requests}.
  recoverKeys: (id, req) => call('POST', `/cards/${enc(id)}/recover-keys`, req),
  // req: {found}: end a temporary replacement; {original, temporary, replacement}
  resolveReplacement: (id, req) => call('POST', `/cards/${enc(id)}/replace/resolve`, req),
};

// The token policy: {max_ttl}, the longest lifetime a new API token may
// have (a Go duration such as "720h"); administrators change it.
export const tokenSettings = {
  get: () => call('GET', '/settings/tokens'),
  put: (s) => call('PUT', '/settings/tokens', s),
};

// SCIM tokens (administrators): [{id, name, prefix, created_by,
// created_at, last_used_at, revoked}]; create answers {token, info,
// endpoint}, the secret shown once.
export const scimTokens = {
  list: () => call('GET', '/scim/tokens').then(items),
  create: (name) => call('POST', '/scim/tokens', { name }),
  revoke: (id) => call('DELETE', `/scim/tokens/${enc(id)}`),
};

export const features = {
  get: () => call('GET', '/features'), // {tpm_virtual_card, platform_credential}
  put: (f) => call('PUT', '/features', f),
};

export const virtualCards = {
  options: () => call('GET', '/virtual-cards/options').then(items), // [{workstation_id, workstation, kind, card_type, available, reason}]
  // req: {workstation_id, kind, name}; the answer is a connected card
  create: (req) => call('POST', '/virtual-cards', req),
};

// Software stores (the guide's "Registry"): PKCS#12 in the machine's or
// the user's store on a workstation.
export const softwareStores = {
  options: () => call('GET', '/software-stores/options').then(items), // [{workstation_id, workstation, scope, available, reason, offer}]
  // req: {workstation_id, scope, name, password, templates}; the password cannot be reset
  issue: (req) => call('POST', '/software-stores', req),
};

export const issue = {
  // user: the login an operator issues the card for (default: the caller)
  options: (workstationID, reader, user) => call('POST', '/issue/options', { workstation_id: workstationID, reader, user }),
  // req: {workstation_id, reader, user, templates, user_pin, admin_pin, tracked}
  run: (req) => call('POST', '/issue', req),
};

export const me = {
  secretQuestions: () => call('GET', '/me/secret-questions'), // {set, questions}
  setSecretQuestions: (answers) => call('PUT', '/me/secret-questions', { answers }), // [{question, answer}]
  // cards someone else issued for the caller whose random PIN waits to be
  // shown once: [{card_id, serial, card_type, operation_id, issued_by}]
  issuedPINs: () => call('GET', '/me/issued-pins').then(items),
  showIssuedPIN: (cardID, operationID) => call('POST', `/cards/${enc(cardID)}/issued-pin`, { operation_id: operationID }), // {pin}, once
};

// The caller's authenticator app (TOTP second factor).
export const totp = {
  status: () => call('GET', '/me/totp'), // {login, enrolled, confirmed, created_at, confirmed_at}
  begin: () => call('POST', '/me/totp'), // {otpauth_url, secret, qr_png}
  setup: () => call('GET', '/me/totp/setup'), // the unconfirmed enrollment again
  qrURL: base + '/me/totp/qr.png', // same origin: the page's img-src allows only 'self'
  confirm: (code) => call('POST', '/me/totp/confirm', { code }),
  remove: (code) => call('DELETE', '/me/totp', { code: code || '' }),
  // Staff: another user's.
  statusOf: (login) => call('GET', `/users/${enc(login)}/totp`),
  reset: (login) => call('DELETE', `/users/${enc(login)}/totp`),
};

// A user's secret answers, as the help desk sees them: never the answers.
export const secretAnswers = {
  statusOf: (login) => call('GET', `/users/${enc(login)}/secret-answers`), // {set, answered, failures, locked, locked_at}
  reset: (login) => call('DELETE', `/users/${enc(login)}/secret-answers`),
  unlock: (login) => call('POST', `/users/${enc(login)}/secret-answers/unlock`),
};

export const workstations = {
  list: (filter) => call('GET', '/workstations' + query(filter)).then(items), // {owner, status}
  pair: (code) => call('POST', '/workstations/pair', { code }),
  revoke: (id) => call('DELETE', `/workstations/${enc(id)}`),
};

export const users = {
  list: (filter) => call('GET', '/users' + query(filter)).then(items), // {q, group, role}
  get: (login) => call('GET', `/users/${enc(login)}`),
  create: (u) => call('POST', '/users', u),
  update: (login, patch) => call('PATCH', `/users/${enc(login)}`, patch),
};

export const requests = {
  list: (status) => call('GET', '/requests' + query({ status })).then(items),
  approve: (id, comment) => call('POST', `/requests/${enc(id)}/approve`, { comment }),
  reject: (id, comment) => call('POST', `/requests/${enc(id)}/reject`, { comment }),
};

// Documents check (issue #5): forms as PDF, signed uploads, decisions.
// Forms and uploaded files are links (the browser downloads them with
// the session cookie); uploads send the file itself as the body.
export const documents = {
  ofCard: (cardID) => call('GET', `/cards/${enc(cardID)}/documents`).then(items),
  list: (filter) => call('GET', '/documents' + query(filter)).then(items), // {state, kind, user, card}
  get: (id) => call('GET', `/documents/${enc(id)}`),
  formURL: (id) => `${base}/documents/${enc(id)}/form.pdf`,
  fileURL: (id, version) => `${base}/documents/${enc(id)}/uploads/${enc(version)}`,
  upload: (id, file) => send('POST', `/documents/${enc(id)}/uploads` + query({ name: file.name }), file, uploadType(file)),
  approve: (id, comment) => call('POST', `/documents/${enc(id)}/approve`, { comment }),
  reject: (id, comment) => call('POST', `/documents/${enc(id)}/reject`, { comment }),
  receipt: (id, note) => call('POST', `/documents/${enc(id)}/receipt`, { comment: note }),
};

// uploadType is the file's media type; browsers often know none for
// .p7s signatures, so the name decides then.
function uploadType(file) {
  if (file.type && file.type !== 'application/octet-stream') return file.type;
  const ext = (file.name.match(/\.[^.]+$/) || [''])[0].toLowerCase();
  return {
    '.pdf': 'application/pdf', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
    '.p7s': 'application/pkcs7-signature', '.pem': 'application/pkcs7-signature', '.der': 'application/pkcs7-signature',
  }[ext] || 'application/octet-stream';
}

// E-mail notifications (administrators).
export const notifications = {
  settings: () => call('GET', '/notifications/settings'), // {enabled, host, port, security, username, password_set, from, ca}
  saveSettings: (s) => call('PUT', '/notifications/settings', s), // password: '' keeps the stored one
  templates: () => call('GET', '/notifications/templates').then(items),
  saveTemplate: (kind, t) => call('PUT', `/notifications/templates/${enc(kind)}`, t), // {subject, text, html}; all empty: default
  test: (to) => call('POST', '/notifications/test', { to }),
  outbox: (state) => call('GET', '/notifications/outbox' + query({ state, limit: 200 })).then(items),
  retry: (id) => call('POST', `/notifications/outbox/${enc(id)}/retry`),
};

// Directory sources (administrators). bind_password is write-only: absent
// keeps the stored one.
// The cluster's replicas and the cluster-wide jobs' leases (readers).
export const cluster = {
  get: () => call('GET', '/replicas'),
};

export const directory = {
  list: () => call('GET', '/directory-sources').then(items),
  create: (s) => call('POST', '/directory-sources', s),
  replace: (id, s) => call('PUT', `/directory-sources/${enc(id)}`, s),
  remove: (id) => call('DELETE', `/directory-sources/${enc(id)}`),
  sync: (id, dryRun) => call('POST', `/directory-sources/${enc(id)}/sync`, { dry_run: !!dryRun }),
};

// Single sign-on providers (administrators). The client secret is
// write-only: absent keeps it, '' removes it.
export const ssoProviders = {
  list: () => call('GET', '/oidc-providers').then(items),
  create: (p) => call('POST', '/oidc-providers', p),
  update: (name, p) => call('PATCH', `/oidc-providers/${enc(name)}`, p),
  remove: (name) => call('DELETE', `/oidc-providers/${enc(name)}`),
};

// The console's configuration objects share one shape of API: a
// collection of named objects with GET, POST, PUT. `body` may be raw JSON
// text, sent as the administrator wrote it so that the server's
// validation speaks to exactly that.
function named(path) {
  return {
    list: () => call('GET', path).then(items),
    get: (name) => call('GET', `${path}/${enc(name)}`),
    create: (body) => call('POST', path, body),
    replace: (name, body) => call('PUT', `${path}/${enc(name)}`, body),
  };
}

export const objects = {
  policies: named('/policies'),
  'card-types': named('/card-types'),
  templates: named('/templates'),
};

// Remote Self-Service: secret questions for a user name, the answers, the
// user's cards and the urgent disable (the card operation's own route,
// which accepts this session).
const keepToken = (s) => { rssToken = (s && s.csrf_token) || ''; return s; };
export const rss = {
  questions: (login) => rssCall('POST', '/rss/questions', { login }), // {questions, ticket}
  signIn: (login, ticket, answers) => rssCall('POST', '/rss/session', { login, ticket, answers }).then(keepToken),
  session: () => rssCall('GET', '/rss/session').then(keepToken),
  signOut: () => rssCall('DELETE', '/rss/session'),
  cards: () => rssCall('GET', '/rss/cards'), // [{id, serial, card_type, state, operations}]
  disable: (id) => rssCall('POST', `/cards/${enc(id)}/disable`, {}),
  // The response to a challenge read from the card ({response, serial, scheme}).
  offlineUnblock: (id, challenge) => rssCall('POST', `/cards/${enc(id)}/offline-unblock`, { challenge }),
};

// fetchFile sends body as JSON and answers the response as a Blob (a
// file the server makes once, such as a recovered key's PKCS #12), or
// throws the server's problem as an APIError like every other call.
async function fetchFile(path, body) {
  let res;
  try {
    res = await fetch(base + path, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store', body: JSON.stringify(body),
      headers: { Accept: 'application/x-pkcs12, application/problem+json', 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken },
    });
  } catch {
    throw new APIError(0, { detail: 'The server cannot be reached. Check your network connection and try again.' });
  }
  if (!res.ok) {
    let problem = null;
    try { problem = JSON.parse(await res.text()); } catch { problem = null; }
    throw new APIError(res.status, problem || { detail: `The server answered ${res.status} ${res.statusText}.` }, res.headers.get('Retry-After'));
  }
  return res.blob();
}

// Key archival (docs/lifecycle.md, "Key archival and recovery"): archived
// encryption keys are listed, never shown; a recovery answers a PKCS #12
// file once. secrets: {password, account_password, code}.
export const archivedKeys = {
  mine: () => call('GET', '/me/archived-keys').then(items),
  recoverOwn: (id, secrets) => fetchFile(`/me/archived-keys/${enc(id)}/recover`, secrets),
  // Staff: another user's keys, and requests under dual control.
  ofUser: (login) => call('GET', `/users/${enc(login)}/archived-keys`).then(items),
  requests: (state) => call('GET', '/key-recoveries' + query({ state })).then(items),
  request: (keyID, reason) => call('POST', '/key-recoveries', { archived_key_id: keyID, reason }),
  // decision: {comment, account_password, code}
  approve: (id, decision) => call('POST', `/key-recoveries/${enc(id)}/approve`, decision),
  reject: (id, decision) => call('POST', `/key-recoveries/${enc(id)}/reject`, decision),
  download: (id, secrets) => fetchFile(`/key-recoveries/${enc(id)}/download`, secrets),
  // The key recovery key (administrators).
  kra: () => call('GET', '/settings/kra').then(items),
  rotateKRA: () => call('POST', '/settings/kra/rotate'),
};
