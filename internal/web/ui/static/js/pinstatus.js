// A card's PIN status as its agent last read it (docs/lifecycle.md, "PIN
// blocked cards"): the "PIN blocked" badge of the card lists, the PIN
// line of a card's overview, and the owner's "PIN blocked — unblock"
// notice that opens Reset PIN.
import { h, fmtDateTime } from './dom.js';
import { allowed, openResetPINDialog } from './pin.js';

// pinBlockedBadge marks a card whose PIN was last seen blocked; nothing
// otherwise.
export function pinBlockedBadge(card) {
  return card.pin && card.pin.blocked ? h('span', { class: 'badge pin-blocked' }, 'PIN blocked') : '';
}

// triesText says the tries left in words, "" when the card did not say.
function triesText(pin) {
  if (typeof pin.tries_left !== 'number') return '';
  const total = typeof pin.tries_total === 'number' ? ` of ${pin.tries_total}` : '';
  return `${pin.tries_left}${total} ${pin.tries_left === 1 && !total ? 'try' : 'tries'} left`;
}

// pinText is the PIN line of a card's overview: blocked or the tries
// left, and when and where that was seen.
export function pinText(pin) {
  if (!pin) return 'Not reported yet (the card was not seen by an agent since)';
  const tries = triesText(pin);
  const what = pin.blocked ? `Blocked${tries ? ` (${tries})` : ''}` : tries || 'Not blocked';
  const where = pin.workstation ? `seen at ${pin.workstation}` : 'after Lanyard set it';
  const puk = typeof pin.puk_tries_left === 'number' ? `; Admin PIN (PUK): ${pin.puk_tries_left} tries left` : '';
  return h('span', { id: 'card-pin' }, pin.blocked ? h('span', { class: 'badge pin-blocked' }, what) : what,
    ` — ${where}, ${fmtDateTime(pin.reported_at)}${puk}`);
}

// pinBlockedNotice tells the card's owner in Self-Service that the PIN
// is blocked, with the way out: Reset PIN (online unblock, with the card
// connected) when allowed, else the help desk.
export function pinBlockedNotice(card, inConsole, onDone) {
  if (inConsole || !card.pin || !card.pin.blocked) return '';
  const unblock = allowed(card, 'reset_pin', false)
    ? h('button', { type: 'button', id: 'pin-blocked-unblock', onclick: (e) => openResetPINDialog(card, false, e.currentTarget, onDone) }, 'Unblock it: Reset PIN')
    : 'ask your help desk to unblock it.';
  return h('p', { class: 'notice error', id: 'pin-blocked', role: 'alert' }, h('strong', {}, 'PIN blocked'), ' — ', unblock);
}
