// A card's details: Overview, Contents (its certificates) and History
// (its operations), as tabs (WAI-ARIA tabs pattern: arrow keys move
// between tabs, Tab goes into the panel).
import '../app.js';
import * as api from '../api.js';
import { $, $$, h, badge, errorText, facts, fmtDate, fmtDateTime, label, setStatus, table } from '../dom.js';
import { canContinue, openClearDialog, openContinueDialog } from '../continue.js';
import { documentsButton, groupDocuments } from '../documents.js';
import { pinButtons } from '../pin.js';
import { reasonText, stateButtons } from '../cardstates.js';
import { replaceButtons, replacementFacts } from '../replace.js';
import { pinBlockedNotice, pinText } from '../pinstatus.js';
import { updateBanner, updateButtons } from '../update.js';
import { recoverKeysButton } from '../recoverkeys.js';

const main = $('#main');
const id = main.dataset.id;
const status = $('#card-status');
const inConsole = document.body.classList.contains('console');

// pukText says which Admin PIN (PUK) the card holds (issue 13): its own
// random one, sealed by the server, or a shared or unknown one that the
// server replaces at the card's next connection.
function pukText(state) {
  switch (state) {
    case 'random': return 'Its own random PUK, kept sealed by Lanyard';
    case 'default': return 'The card type\'s shared default PUK: replaced by its own at the card\'s next connection';
    case 'unknown': return 'Chosen at an earlier issue and not known to Lanyard: replaced at the next issue or clear';
    default: return 'Not issued by Lanyard (as the card came)';
  }
}
// Card staff (operators, administrators) do card work in the console; a
// CA manager there reads the card, not its AirCard's computers.
const cardStaff = document.getElementById('main').hasAttribute('data-card-staff');

const tabs = $$('[role=tab]');
function select(tab, focus) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) tab.focus();
  history.replaceState(null, '', '#' + tab.id.replace('tab-', ''));
}
tabs.forEach((t, i) => {
  t.addEventListener('click', () => select(t, false));
  t.addEventListener('keydown', (e) => {
    const k = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (k) select(tabs[(i + k + tabs.length) % tabs.length], true);
    else if (e.key === 'Home') select(tabs[0], true);
    else if (e.key === 'End') select(tabs[tabs.length - 1], true);
    else return;
    e.preventDefault();
  });
});

// recoveryNotice says how many of the owner's earlier archived encryption
// keys the issued card could still get (recoverable_keys).
function recoveryNotice(d) {
  const n = d.recoverable_keys || 0;
  return n ? h('p', { class: 'notice', role: 'note', id: 'card-recoverable-keys' },
    `${n} earlier encryption key${n === 1 ? '' : 's'} can be put on this card: Recover keys onto card`) : '';
}

async function load() {
  let d;
  let docs = [];
  try {
    [d, docs] = await Promise.all([api.cards.get(id), api.documents.ofCard(id).catch(() => [])]);
  } catch (e) {
    setStatus(status, `This card cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  const c = d.card || d; // the card's fields, with certificates and operations
  const certs = d.certificates || [];
  const ops = d.operations || [];
  $('#card-heading').textContent = `Card ${c.serial || c.id}`;
  document.title = `Card ${c.serial || c.id} · Lanyard`;

  $('#panel-overview').replaceChildren(
    h('h2', {}, 'Overview'),
    updateBanner(c, d.update),
    recoveryNotice(d),
    facts([
      ['Serial', h('code', {}, c.serial || '—')],
      ['Card type', c.card_type],
      ['Name', c.name],
      ['Owner', inConsole && c.owner ? h('a', { href: `/console/users?q=${encodeURIComponent(c.owner)}` }, c.owner) : c.owner],
      ['State', badge(c.state)],
      ...(c.revocation_reason ? [['Revocation reason', reasonText(c.revocation_reason)]] : []),
      ...replacementFacts(d),
      ['Issued', fmtDate(c.issued_at)],
      ...(inConsole ? [['Admin PIN (PUK)', pukText(c.puk_state)]] : []),
      ...(c.state !== 'clean' ? [['PIN', pinText(c.pin)]] : []),
      ['Certificates', String(certs.length)],
      ['Registered', fmtDate(c.created_at)],
      ['Last change', fmtDateTime(c.updated_at)],
    ]),
    canContinue(c) ? h('p', {}, h('button', {
      type: 'button', onclick: (e) => openContinueDialog(c, e.currentTarget, () => load()),
    }, 'Continue card issue'), ' ', h('button', {
      type: 'button', class: 'danger', onclick: (e) => openClearDialog(c, e.currentTarget, () => load()),
    }, 'Revoke and clear card')) : '',
    pinBlockedNotice({ ...c, kind: c.kind || d.kind, allowed_operations: d.allowed_operations }, inConsole, () => load()),
    pinButtons({ ...c, kind: c.kind || d.kind }, inConsole, () => load()),
    // Disable, enable, revoke with a reason, withdraw: exactly what the
    // server allows this person on this card.
    stateButtons(c, d.allowed_operations, status, () => load()),
    replaceButtons({ ...c, owner: c.owner || d.owner }, d.allowed_operations, status, () => load()),
    // Update card, Continue card update, Cancel card update.
    updateButtons(c, d.allowed_operations, d.update, status, () => load()),
    // Recover keys onto card (the owner's earlier archived keys).
    recoverKeysButton({ ...c, owner: c.owner || d.owner }, d.allowed_operations, status, () => load()),
    c.state === 'revoked' && (d.allowed_operations || []).includes('clear') ? h('p', {}, h('button', {
      type: 'button', id: 'card-clear', onclick: (e) => openClearDialog({ ...c, kind: c.kind || d.kind }, e.currentTarget, () => load()),
    }, 'Clear card')) : '',
    (c.kind === 'aircard' || d.kind === 'aircard') && (!inConsole || cardStaff) ? computersSection(c) : '');

  // Documents check: a "!" next to each certificate that needs documents;
  // certificates still waiting in the CA have no line of their own yet.
  const groups = groupDocuments(docs);
  const docsOf = (x) => {
    for (const [key, g] of groups) {
      if (g.slot === x.slot && g.template === x.template) return [key, g];
    }
    return [null, null];
  };
  const shown = new Set(certs.map((x) => docsOf(x)[0]).filter(Boolean));
  const waiting = [...groups.entries()].filter(([key]) => !shown.has(key)).map(([, g]) => g);
  $('#panel-contents').replaceChildren(
    h('h2', {}, 'Contents'),
    table('Certificates on this card', [
      { label: 'Documents', cell: (x) => { const g = docsOf(x)[1]; return g ? documentsButton(g, () => load()) : ''; } },
      { label: 'Template', cell: (x) => x.template || (x.source === 'tracked' ? 'Tracked (third-party)' : '—') },
      { label: 'Subject', cell: (x) => x.subject || '—' },
      { label: 'Serial', cell: (x) => h('code', {}, x.serial || '—') },
      { label: 'Status', cell: (x) => badge(x.on_hold ? 'on hold' : x.status) },
      { label: 'Valid until', cell: (x) => fmtDate(x.not_after) },
      { label: 'Slot', cell: (x) => x.slot || '—' },
      { label: 'Source', cell: (x) => label(x.source || 'managed') },
    ], certs, 'This card holds no certificates.'),
    waiting.length ? table('Certificates waiting for approval', [
      { label: 'Documents', cell: (g) => documentsButton(g, () => load()) },
      { label: 'Template', cell: (g) => g.templateName },
      { label: 'Slot', cell: (g) => g.slot },
      { label: 'Documents needed', cell: (g) => g.docs.map((x) => [label(x.kind), ' ', badge(x.state), ' ']) },
    ], waiting, '') : '');

  $('#panel-history').replaceChildren(
    h('h2', {}, 'History'),
    table('Operations on this card', [
      { label: 'Operation', cell: (o) => label(o.kind || o.type || o.operation) },
      { label: 'State', cell: (o) => badge(o.state || o.status) },
      { label: 'Step', cell: (o) => (o.error ? [o.step || '—', h('br'), h('span', { class: 'error-text' }, o.error)] : o.step || '—') },
      { label: 'Started', cell: (o) => fmtDateTime(o.created_at || o.started_at) },
      { label: 'Finished', cell: (o) => fmtDateTime(o.finished_at || o.updated_at) },
    ], ops, 'No operations are recorded for this card.'));

  setStatus(status, '');
  $('#card-tabs').hidden = false;
  const want = document.getElementById('tab-' + location.hash.slice(1));
  if (want && tabs.includes(want)) select(want, false);
}

// computersSection is an AirCard's list of allowed computers: its user
// and operators remove one; operators create a connection code for
// another computer (shown once).
function computersSection(c) {
  const box = h('div', { id: 'computers' }, h('p', {}, 'Loading the allowed computers…'));
  const codeBox = h('div', { id: 'aircard-code', role: 'status', 'aria-live': 'polite' });
  const show = async () => {
    let list;
    try {
      list = await api.cards.computers(c.id);
    } catch (e) {
      box.replaceChildren(h('p', { class: 'error' }, `The allowed computers cannot be shown. ${errorText(e)}`));
      return;
    }
    box.replaceChildren(table('Computers allowed to use this AirCard', [
      { label: 'Computer', cell: (w) => w.workstation || `#${w.workstation_id}` },
      { label: 'Connected', cell: (w) => (w.online ? 'Online' : 'Offline') },
      { label: 'Added by', cell: (w) => (w.added_by === 'code' ? 'connection code' : w.added_by) },
      { label: 'Added', cell: (w) => fmtDateTime(w.added_at) },
      {
        label: 'Actions', class: 'actions',
        cell: (w) => h('button', {
          type: 'button', class: 'danger', 'aria-label': `Remove ${w.workstation || w.workstation_id}`,
          onclick: async (e) => {
            e.currentTarget.disabled = true;
            try {
              await api.cards.removeComputer(c.id, w.workstation_id);
              setStatus(status, `${w.workstation || 'The computer'} may no longer use this AirCard; it was disconnected there.`);
            } catch (err) {
              setStatus(status, `The computer was not removed. ${errorText(err)}`, 'error');
            }
            show();
          },
        }, 'Remove'),
      },
    ], list, 'No computer may use this AirCard.'));
  };
  show();
  return h('section', { 'aria-labelledby': 'computers-heading' },
    h('h3', { id: 'computers-heading' }, 'Allowed computers'),
    box,
    inConsole ? codeForm(c, codeBox) : '',
    codeBox);
}

// codeForm creates an operator's connection code, shown once and, when
// asked, also sent to the card's owner by e-mail (guide: "the code sent
// by the administrator").
function codeForm(c, codeBox) {
  const mail = h('input', { type: 'checkbox', id: 'aircard-code-mail', checked: true });
  return h('div', {},
    h('div', { class: 'field check' }, h('label', {}, mail, ' ', `Also send it to ${c.owner || 'the owner'} by e-mail`)),
    h('p', {}, h('button', {
      type: 'button', id: 'aircard-code-create',
      onclick: async () => {
        try {
          const code = await api.cards.airCardCode(c.id, mail.checked);
          const sent = (code.mailed_to || []).length
            ? `It was sent to ${code.mailed_to.join(', ')}.`
            : (code.mail_note ? `It was not sent: ${code.mail_note}.` : 'Give it to the user.');
          codeBox.replaceChildren(
            h('p', {}, 'Connection code: ', h('strong', { id: 'aircard-code-value' }, code.code)),
            h('p', { class: 'hint', id: 'aircard-code-hint' }, `${sent} On the computer to connect, the user runs "lanyard agent aircard add ${code.code}". It works once, until ${fmtDateTime(code.expires_at)}.`));
        } catch (err) {
          codeBox.replaceChildren(h('p', { class: 'error' }, `No code was created. ${errorText(err)}`));
        }
      },
    }, 'Create connection code')));
}

load();
