// dom.js: small helpers to build and update the page without innerHTML,
// so data from the server is always text, never markup.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// h builds an element. attrs: "class", "text", "on<event>" (a function),
// booleans (set when true), anything else as an attribute.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// setStatus writes a message into a live region; kind is "", "ok" or "error".
export function setStatus(el, msg, kind = '') {
  if (!el) return;
  el.textContent = msg || '';
  el.classList.remove('ok', 'error');
  if (kind) el.classList.add(kind);
}

// errorText is what a person should read for err.
// Server messages are lower-case phrases; shown alone they read as
// sentences.
export function errorText(err) {
  if (!err) return '';
  return sentence(err.message || String(err));
}

export function sentence(s) {
  s = String(s || '').trim();
  if (!s) return '';
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?…]$/.test(s) ? s : s + '.';
}

const zeroTime = /^0001-01-01/;

export function fmtDate(s) {
  if (!s || zeroTime.test(s)) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function fmtDateTime(s) {
  if (!s || zeroTime.test(s)) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function label(word) {
  if (!word) return '—';
  if (word === 'pin_setup') return 'PIN setup needed';
  const s = String(word).replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// badge shows a state or status in words (never colour alone).
export function badge(state) {
  return h('span', { class: 'badge ' + (state || 'unknown') }, label(state));
}

// table builds a data table. columns: [{label, cell(row) → node|string}].
export function table(caption, columns, rows, emptyText) {
  if (!rows.length) return h('p', { class: 'empty' }, emptyText);
  return h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.cell(r)))))),
  );
}

// facts builds a definition list from [term, value] pairs.
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([t, v]) => [h('dt', {}, t), h('dd', {}, v === '' || v === undefined || v === null ? '—' : v)]));
}

// openDialog shows a modal dialog and gives focus back to the element
// that opened it when it closes. showModal keeps keyboard focus inside;
// Escape closes it unless the caller prevents "cancel".
export function openDialog(dlg, opener, focus) {
  const back = opener || document.activeElement;
  dlg.addEventListener('close', () => { if (back && back.isConnected) back.focus(); }, { once: true });
  dlg.showModal();
  const first = focus || dlg.querySelector('[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, button:not([disabled])');
  if (first) first.focus();
}

// fieldError marks an input invalid with a message tied to it.
export function fieldError(input, msg) {
  const id = input.id + '-err';
  let p = document.getElementById(id);
  if (!msg) {
    input.removeAttribute('aria-invalid');
    if (p) p.remove();
    return;
  }
  if (!p) {
    p = h('p', { id, class: 'error' });
    input.insertAdjacentElement('afterend', p);
    const described = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    if (!described.includes(id)) described.push(id);
    input.setAttribute('aria-describedby', described.join(' '));
  }
  p.textContent = msg;
  input.setAttribute('aria-invalid', 'true');
}

// copyText copies to the clipboard, falling back to selecting the input
// for browsers without the asynchronous clipboard (plain HTTP).
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.select();
      try { return document.execCommand('copy'); } catch { return false; }
    }
    return false;
  }
}

// confirmAction asks before something that cannot be undone, in a modal
// dialog built on the spot; it resolves to true when confirmed.
export function confirmAction(opener, title, message, actionLabel) {
  return new Promise((resolve) => {
    let ok = false;
    const id = 'confirm-title';
    const dlg = h('dialog', { 'aria-labelledby': id },
      h('h2', { id }, title),
      h('p', {}, message),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
        h('button', { type: 'button', class: 'danger', onclick: () => { ok = true; dlg.close(); } }, actionLabel)));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(ok); });
    document.body.append(dlg);
    openDialog(dlg, opener, dlg.querySelector('button'));
  });
}

// groupKey spaces a base32 key in fours, as authenticator apps accept it
// and people read it.
// Smart card step-up: over HTTPS the browser may present the card Lanyard
// issued, which then stands in for the authenticator app's code in a
// step-up (password plus second factor): the code may be left empty.
export const cardStepUp = location.protocol === 'https:';
export const codeLabel = cardStepUp
  ? 'Code from your authenticator app (leave empty to use your smart card)'
  : 'Code from your authenticator app';

// stepUpCodeOK accepts a step-up code: six digits, or nothing where the
// card may stand in for it.
export const stepUpCodeOK = (v) => /^[0-9]{6}$/.test(v) || (cardStepUp && v === '');

export const groupKey = (s) => s.replace(/(.{4})(?=.)/g, '$1 ');
