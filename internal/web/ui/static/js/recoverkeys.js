// recoverkeys.js: Recover keys onto card (docs/lifecycle.md, "Key
// archival"): the card owner's earlier archived encryption keys go into
// the card's retired key slots (82 up, with the key history), so that
// mail encrypted to earlier certificates opens with the card. The menu
// entry follows the card's allowed_operations (recover_keys). The owner
// confirms with their account password and a code from their
// authenticator app; an operator or administrator putting someone else's
// keys onto their card picks key recovery requests of their own that a
// second person approved (each is used once). Nothing typed is kept: the
// dialog is removed when it closes.
import * as api from './api.js';
import { h, codeLabel, errorText, setStatus } from './dom.js';
import { cardActionDialog } from './continue.js';

// recoverKeysButton is the card menu's Recover keys onto card entry, or
// '' when the card's allowed operations do not have it. card.owner is
// the owner's login (the signed-in user's own card when absent).
export function recoverKeysButton(card, allowed, status, onDone) {
  if (!(allowed || []).includes('recover_keys')) return '';
  return h('p', { class: 'card-actions' }, h('button', {
    type: 'button', id: `card-recover-keys-${card.id}`,
    onclick: (e) => openRecoverKeysDialog(card, e.currentTarget, status, onDone),
  }, 'Recover keys onto card'));
}

// ownCard reports whether card is the signed-in user's.
function ownCard(card) {
  const me = api.currentUser();
  return !card.owner || card.owner === me;
}

// approvedRequests are the signed-in person's approved key recovery
// requests of owner's keys: those Recover keys onto card may use.
async function approvedRequests(owner) {
  const me = api.currentUser();
  const all = await api.archivedKeys.requests('approved');
  return all.filter((r) => r.requester === me && r.owner === owner);
}

// openRecoverKeysDialog opens the dialog for card: the owner's step-up,
// or staff's approved requests.
export async function openRecoverKeysDialog(card, opener, status, onDone) {
  const own = ownCard(card);
  let fields;
  let hint;
  if (own) {
    hint = `Your earlier encryption keys, which Lanyard keeps, are put on card ${card.serial} next to its current ones, `
      + 'so that mail encrypted to your earlier certificates opens with the card. Connect the card, then confirm it is you '
      + 'with your account password and the code your authenticator app shows now.';
    fields = [['recover-keys-account', 'Your account password', 'current-password'],
      ['recover-keys-code', codeLabel, 'one-time-code', 'text']];
  } else {
    let reqs;
    try {
      reqs = await approvedRequests(card.owner);
    } catch (err) {
      setStatus(status, `Your key recovery requests cannot be read. ${errorText(err)}`, 'error');
      return;
    }
    if (!reqs.length) {
      setStatus(status, `Putting ${card.owner}'s keys onto their card needs key recovery requests of yours that a second person approved. `
        + `Request the recovery of ${card.owner}'s keys on the Key recovery page, have another administrator approve it, then come back.`, 'error');
      return;
    }
    hint = `The archived keys of ${card.owner} named by the approved requests you pick are put on card ${card.serial} (retired key slots). `
      + 'Each request is used once. The owner is told. Connect the card first.';
    fields = reqs.map((r) => [`recover-keys-request-${r.id}`,
      `Request ${r.id}: key ${r.archived_key_id}${r.reason ? ` (${r.reason})` : ''}, approved by ${r.decider || 'a second person'}`, 'off', 'checkbox']);
  }
  cardActionDialog({
    id: 'recover-keys', title: 'Recover keys onto card', submitText: 'Recover keys onto card', hint, fields,
    busyText: 'Putting the keys on the card. Keep it connected…',
    failText: 'The keys were not put on the card.',
    card,
    action: async (target, v) => {
      const req = { workstation_id: target.workstation_id, reader: target.reader };
      if (own) {
        req.account_password = v['recover-keys-account'];
        req.code = String(v['recover-keys-code'] || '').trim();
      } else {
        req.requests = Object.entries(v).filter(([, on]) => on).map(([fid]) => Number(fid.slice('recover-keys-request-'.length)));
        if (!req.requests.length) throw new Error('pick at least one approved request');
      }
      const r = await api.cards.recoverKeys(card.id, req);
      const keys = r.keys || [];
      return {
        result: r.card || card,
        lines: [h('p', { class: 'success', id: 'recover-keys-result' },
          `Card ${card.serial} now holds ${keys.length} earlier key${keys.length === 1 ? '' : 's'} in its retired key slots.`),
        h('ul', {}, ...keys.map((k) => h('li', {}, `${k.template}, certificate `, h('code', {}, k.certificate_serial || '—'))))],
      };
    },
  }, opener, onDone);
}
