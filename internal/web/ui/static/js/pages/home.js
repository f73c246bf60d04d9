// Self-Service home: Your cards, then the cards connected at the
// person's workstations with an Issue card button each.
import '../app.js';
import * as api from '../api.js';
import { $, h, badge, errorText, facts, fmtDate, openDialog, setStatus } from '../dom.js';
import { openIssueDialog, pinSetupForm } from '../issue.js';
import { connectedTable } from '../connected.js';
import { reasonText, stateButtons } from '../cardstates.js';
import { replaceButtons, replacementFacts } from '../replace.js';
import { pinBlockedBadge, pinBlockedNotice } from '../pinstatus.js';
import { virtualSection } from '../virtual.js';
import { loadSoftStores } from '../softstore.js';
import { canContinue, openClearDialog, openContinueDialog } from '../continue.js';
import { updateBanner, updateButtons } from '../update.js';
import { recoverKeysButton } from '../recoverkeys.js';

const me = api.currentUser();

function certCount(card, details) {
  if (typeof card.certificate_count === 'number') return String(card.certificate_count);
  if (Array.isArray(card.certificates)) return String(card.certificates.length);
  if (details && Array.isArray(details.certificates)) return String(details.certificates.length);
  return '—';
}

// cardUpdate is an issued card's update state: from the list, or else
// from the card's details (the server sets it on a card it shows).
function cardUpdate(card, details) {
  return card.update || (details && details.update) || null;
}

function cardArticle(card, details) {
  const id = `card-${card.id}-title`;
  const title = card.name || card.card_type || 'Card';
  return h('article', { class: 'card', 'aria-labelledby': id, 'data-card-id': card.id },
    h('h2', { id }, title),
    facts([
      ['Serial', h('code', {}, card.serial || '—')],
      ['Card type', card.card_type],
      ['Name', card.name],
      ['State', [badge(card.state), ' ', pinBlockedBadge(card)]],
      ...(card.revocation_reason ? [['Revocation reason', reasonText(card.revocation_reason)]] : []),
      ...replacementFacts(card),
      ['Issued', fmtDate(card.issued_at)],
      ['Certificates', certCount(card, details)],
    ]),
    pinBlockedNotice(card, false, () => loadCards()),
    updateBanner(card, cardUpdate(card, details)),
    h('details', { class: 'menu' },
      h('summary', { 'aria-label': `Card menu for card ${card.serial || title}` }, 'Card menu'),
      h('ul', {},
        h('li', {}, h('a', { href: `/cards/${encodeURIComponent(card.id)}` }, 'Details')),
        h('li', {}, h('a', { href: `/cards/${encodeURIComponent(card.id)}#contents` }, 'Contents')),
        h('li', {}, h('a', { href: `/cards/${encodeURIComponent(card.id)}#history` }, 'History')),
        card.kind === 'aircard' ? h('li', {}, h('a', { href: `/cards/${encodeURIComponent(card.id)}#overview` }, 'Allowed computers')) : null,
        canContinue(card) ? h('li', {}, h('button', {
          type: 'button', class: 'link',
          onclick: (e) => openContinueDialog(card, e.currentTarget, () => loadCards()),
        }, 'Continue card issue')) : null,
        card.state === 'pin_setup' ? h('li', {}, h('button', {
          type: 'button', class: 'link',
          onclick: (e) => openPINSetup(card, e.currentTarget),
        }, 'Set up PIN')) : null,
        canContinue(card) ? h('li', {}, h('button', {
          type: 'button', class: 'link',
          onclick: (e) => openClearDialog(card, e.currentTarget, () => loadCards()),
        }, 'Revoke and clear card')) : null,
        // Disable, enable, revoke: what the server allows on this card.
        h('li', {}, stateButtons(card, card.allowed_operations, $('#cards-status'), () => loadCards())),
        // Temporary replacement, and Original found / not found.
        h('li', {}, replaceButtons(card, card.allowed_operations, $('#cards-status'), () => loadCards())),
        // Update card, Continue card update.
        h('li', {}, updateButtons(card, card.allowed_operations, cardUpdate(card, details), $('#cards-status'), () => loadCards())),
        // Recover keys onto card (the owner's earlier archived keys).
        h('li', {}, recoverKeysButton(card, card.allowed_operations, $('#cards-status'), () => loadCards())),
      )),
  );
}

export async function loadCards() {
  const status = $('#cards-status');
  const list = $('#cards');
  setStatus(status, 'Loading your cards…');
  let cards;
  try {
    cards = await api.cards.list({ user: me });
  } catch (e) {
    list.replaceChildren();
    setStatus(status, `Your cards cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  // The number of certificates comes with each card's details.
  // An issued card's update state (the banner) comes with its details
  // when the list does not carry it.
  const details = await Promise.all(cards.map((c) => ((typeof c.certificate_count === 'number' || Array.isArray(c.certificates)) && (c.state !== 'issued' || c.update)
    ? null : api.cards.get(c.id).catch(() => null))));
  list.replaceChildren(...cards.map((c, i) => cardArticle(c, details[i])));
  setStatus(status, cards.length
    ? `You have ${cards.length} ${cards.length === 1 ? 'card' : 'cards'}.`
    : 'You have no cards yet. Connect a card to your workstation and issue it under Connected cards.');
}

async function loadConnected() {
  const status = $('#connected-status');
  const box = $('#connected');
  setStatus(status, 'Looking for connected cards…');
  let conn;
  try {
    conn = await api.cards.connected();
  } catch (e) {
    box.replaceChildren();
    setStatus(status, `Connected cards cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  box.replaceChildren(connectedTable('Cards at your workstations', conn, (c, opener) => openIssueDialog(c, opener, onIssued),
    'No cards are connected. Insert a card into a reader at a workstation where the Lanyard agent runs, then choose Refresh.'));
  setStatus(status, conn.length ? `${conn.length} connected ${conn.length === 1 ? 'card' : 'cards'}.` : '');
  loadVirtual(conn);
}

function openPINSetup(card, opener) {
  const dlg = $('#issue-dialog');
  const body = $('#issue-body');
  setStatus($('#issue-status'), '');
  dlg.onclose = () => loadCards();
  body.replaceChildren(pinSetupForm(card, () => dlg.close()));
  openDialog(dlg, opener, $('#pin-setup-title'));
  $('#setup-password', body).focus();
}

async function loadVirtual(conn) {
  const status = $('#virtual-status');
  const box = $('#virtual');
  let opts;
  try {
    opts = await api.virtualCards.options();
  } catch (e) {
    box.replaceChildren();
    setStatus(status, `Virtual cards cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  box.replaceChildren(virtualSection(opts, conn || [], onIssued));
  setStatus(status, '');
  loadSoftStores(onIssued);
}

function onIssued(result) {
  if (result && result.secret_questions_needed) {
    location.assign('/secret-questions?after=issue');
    return;
  }
  loadCards();
  loadConnected();
}

// issuedPINView offers the random PIN of a card someone else issued for
// this user (the console's Issue a card for a user): shown once, at the
// user's next login, then erased on the server; kept no later than
// it.until, after which the card's PIN has to be reset.
function issuedPINView(it) {
  const id = `issued-pin-${it.card_id}`;
  const until = it.until ? ` It is kept for you until ${fmtDate(it.until)}; after that the card's PIN has to be reset.` : '';
  const box = h('div', { class: 'pin-once', id: `issued-${it.card_id}` },
    h('p', { class: 'notice' }, `Card ${it.serial}${it.card_type ? ` (${it.card_type})` : ''} was issued for you${it.issued_by ? ` by ${it.issued_by}` : ''}, with a random User PIN. `,
      `It is shown to you once: write it down or store it safely.${until}`));
  const status = h('p', { role: 'status', 'aria-live': 'polite' });
  const button = h('button', {
    type: 'button', class: 'primary', id: `show-pin-${it.card_id}`,
    onclick: async () => {
      button.disabled = true;
      try {
        const r = await api.me.showIssuedPIN(it.card_id, it.operation_id);
        button.replaceWith(h('div', { class: 'field' }, h('label', { for: id }, `User PIN of card ${it.serial}`),
          h('input', { id, readonly: true, value: r.pin, autocomplete: 'off', 'aria-describedby': `${id}-warning` })),
        h('p', { id: `${id}-warning` }, h('strong', {}, 'This PIN will not be shown again.')));
        $('#' + id).focus();
      } catch (e) {
        button.disabled = false;
        setStatus(status, `The PIN cannot be shown. ${errorText(e)}`, 'error');
      }
    },
  }, 'Show PIN');
  box.append(button, status);
  return box;
}

async function loadIssuedPINs() {
  let list = [];
  try {
    list = await api.me.issuedPINs();
  } catch {
    return; // Your cards still loads; the PIN waits for the next visit
  }
  $('#issued-pins').replaceChildren(...list.map(issuedPINView));
}

$('#connected-refresh').addEventListener('click', loadConnected);
loadIssuedPINs();
loadCards();
loadConnected();
