// issue.js: the Issue card dialog, following the user guide's "Issue a
// card": certificate templates → (caution when the card is initialized)
// → PINs → Issue → third-party certificates to track → the result (a
// random PIN shown once, or "Card issue pending") → Close.
//
// What the dialog shows is what POST /issue/options says; the server
// checks every value again on POST /issue.
//
// The console's "Issue a card for a user" opens the same dialog with
// preset.user: the card is issued to that user under their policy, and
// the texts speak of them instead of "you".
import * as api from './api.js';
import { $, h, badge, codeLabel, copyText, errorText, fieldError, fmtDate, openDialog, sentence, setStatus, stepUpCodeOK } from './dom.js';

let busy = false;

// preset carries what an earlier step of the dialog chose: the card name
// of a virtual card (virtual.js), or the login of the user an operator
// issues the card for (console/issuefor.js).
export async function openIssueDialog(connected, opener, onDone, preset = {}) {
  const who = words(preset.user);
  const dlg = $('#issue-dialog');
  const body = $('#issue-body');
  const status = $('#issue-status');
  let result = null;
  busy = false;
  setStatus(status, '');
  body.replaceChildren(h('p', {}, `Reading the card and ${who.policy}…`));
  dlg.oncancel = (e) => { if (busy) e.preventDefault(); }; // never abandon a card half-written
  dlg.onclose = () => { if (result) onDone(result); };
  openDialog(dlg, opener, $('#issue-title'));

  let opts;
  try {
    opts = await api.issue.options(connected.workstation_id, connected.reader, preset.user);
  } catch (e) {
    body.replaceChildren(
      h('p', { class: 'error', role: 'alert' }, `This card cannot be issued. ${errorText(e)}`),
      h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dlg.close() }, 'Close')));
    body.querySelector('button').focus();
    return;
  }
  const card = opts.card || connected;
  const form = optionsForm(opts, card, dlg, who);
  body.replaceChildren(form);
  focusFirst(form);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const req = collect(form, opts, connected);
    if (!req) return;
    if (preset.name) req.name = preset.name;
    if (preset.user) req.user = preset.user;
    const tracked = opts.tracked || [];
    if (tracked.length && opts.tracked_selectable) {
      const step = trackedStep(tracked, async (slots) => {
        req.tracked = slots;
        result = await run(req, body, status, step, who);
      }, () => { body.replaceChildren(form); focusFirst(form); });
      body.replaceChildren(step);
      focusFirst(step);
      return;
    }
    result = await run(req, body, status, form, who);
  });
}

// words are the dialog's texts that depend on whom the card is for: the
// caller (Self-Service) or the user an operator issues it for.
function words(user) {
  if (!user) {
    return {
      policy: 'your policy', Policy: 'Your policy', cards: 'your cards',
      randomNote: 'A random User PIN is set on this card. It is shown to you once, after the card is issued.',
      ready: 'Your card is ready to use.', pinLabel: 'Your new User PIN', pinOf: 'Your PIN',
      pending: 'Your card issue request is awaiting approval; the card has the Pending state. Depending on your company’s rules, submit the signed documents it needs. When everything is approved, open the card menu and choose Continue card issue.',
    };
  }
  return {
    policy: `the policy of ${user}`, Policy: `The policy of ${user}`, cards: `the cards of ${user}`,
    randomNote: `A random User PIN is set on this card and reaches ${user} as their policy says. It is shown to you only if the policy lets administrators see it.`,
    ready: `The card is ready to use. ${user} finds it under Your cards at their next login.`, pinLabel: `New User PIN of ${user}`, pinOf: `The PIN of ${user}`,
    pending: `The card issue request is awaiting approval: certificates issued on another person’s behalf wait for a second person’s approval in the CA. ${user} finds the card, Pending, under Your cards; when everything is approved, Continue card issue finishes it.`,
  };
}

function focusFirst(root) {
  const el = root.querySelector('input:not([disabled]), button:not([disabled])');
  if (el) el.focus();
}

function optionsForm(opts, card, dlg, who) {
  const min = opts.pin_min || 0;
  const max = opts.pin_max || 0;
  const rule = min && max ? `${min} to ${max} characters` : min ? `at least ${min} characters` : max ? `at most ${max} characters` : '';
  const showUser = (opts.show_user_pin ?? !opts.initialize) && !opts.random_pin;
  const showAdmin = opts.show_admin_pin ?? !!opts.initialize;
  const required = opts.required_templates || [];
  const optional = opts.optional_templates || [];

  const pinInput = (id, text, hintID, auto = 'new-password', lo = min, hi = max) => h('div', { class: 'field' },
    h('label', { for: id }, text),
    h('input', { id, name: id, type: 'password', autocomplete: auto, minlength: lo || null, maxlength: hi || null, 'aria-describedby': hintID }));

  const pinHint = [
    rule ? `PINs have ${rule}.` : '',
    'If you leave the User PIN empty, Lanyard uses the PIN set by your administrator for this card type.',
  ].join(' ');
  // The Admin PIN (PUK) asked here is the one the card has now; the card
  // leaves the issue with its own random Admin PIN, kept sealed by
  // Lanyard and never shown (it resets a forgotten PIN later).
  const adminHint = 'Current Admin PIN of the card (PUK): needed only if it is not the default of its card type, '
    + 'for example a card used before. Leave it empty otherwise. '
    + 'After the issue the card has its own random Admin PIN, kept by Lanyard and never shown.';

  return h('form', { id: 'issue-form', novalidate: true },
    h('p', {}, 'Card ', h('strong', {}, card.serial || '(no serial)'), card.card_type ? ` (${card.card_type})` : '', ' in ', card.reader || 'the reader',
      card.workstation ? ` at ${card.workstation}` : '', '.'),
    opts.registered === false ? h('p', { class: 'hint' }, `This card is not yet registered in Lanyard; issuing adds it to ${who.cards}.`) : null,

    h('fieldset', {},
      h('legend', {}, 'Certificates'),
      required.length || optional.length ? null : h('p', { class: 'empty' }, `${who.Policy} lists no certificates for this card.`),
      required.map((t, i) => templateOption(t, `tpl-req-${i}`, { checked: true, disabled: true, tag: 'Required' })),
      optional.map((t, i) => templateOption(t, `tpl-opt-${i}`, { checked: false, disabled: !opts.optional_selectable, tag: 'Optional', optional: true })),
      optional.length && !opts.optional_selectable
        ? h('p', { class: 'hint', id: 'optional-note' }, `${who.Policy} does not let you choose optional certificates, so they are not issued now. Ask your administrator if you need one.`)
        : null),

    opts.initialize ? h('div', { class: 'caution', id: 'init-caution', role: 'note' },
      h('strong', {}, 'Caution: initializing the card deletes all of its contents.'),
      'Every key, certificate and file on the card is erased before the new certificates are written. This cannot be undone.') : null,

    h('fieldset', {},
      h('legend', {}, 'PINs'),
      h('p', { class: 'hint', id: 'pin-hint' }, pinHint),
      opts.random_pin ? h('p', { class: 'notice', id: 'random-note' }, who.randomNote) : null,
      opts.pin_setup ? h('p', { class: 'notice', id: 'pin-setup-note' }, 'You set up the PIN right after the issue, with your password and your authenticator app.') : null,
      showUser ? [pinInput('user-pin', 'User PIN', 'pin-hint'), pinInput('user-pin2', 'Confirm User PIN', 'pin-hint')] : null,
      showAdmin ? [pinInput('admin-pin', 'Current Admin PIN (if not the default)', 'admin-pin-hint', 'off', 6, 8),
        h('p', { class: 'hint', id: 'admin-pin-hint' }, adminHint)] : null,
      !showUser && !showAdmin && !opts.random_pin && !opts.pin_setup ? h('p', {}, 'No PIN is needed here: the card keeps the PINs set by your administrator.') : null),

    h('div', { class: 'error', id: 'issue-error', role: 'alert' }),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      h('button', { type: 'submit', class: opts.initialize ? 'danger' : 'primary', 'aria-describedby': opts.initialize ? 'init-caution' : null }, 'Issue')),
  );
}

function templateOption(t, id, { checked, disabled, tag, optional }) {
  const descID = id + '-desc';
  // The options name each template by its display name in description
  // (issuance.TemplateInfo); the internal name is the fallback.
  const name = t.display_name || t.description || t.name;
  const desc = t.description && t.description !== name ? t.description : '';
  return h('div', { class: 'option' },
    h('label', {},
      h('input', { type: 'checkbox', id, checked, disabled, 'data-template': optional ? t.name : null, 'aria-describedby': desc ? descID : null }),
      ' ', name, h('span', { class: 'tag' }, disabled && optional ? 'Optional, not selectable' : tag)),
    desc ? h('p', { class: 'desc', id: descID }, desc) : null);
}

// collect validates the form and returns the request, or null after
// marking what is wrong.
function collect(form, opts, connected) {
  const min = opts.pin_min || 0;
  const max = opts.pin_max || 0;
  const errBox = $('#issue-error', form);
  errBox.textContent = '';
  const problems = [];
  const check = (input, extra) => {
    if (!input) return;
    let msg = '';
    const v = input.value;
    if (v && min && v.length < min) msg = `Use at least ${min} characters.`;
    else if (v && max && v.length > max) msg = `Use at most ${max} characters.`;
    else if (extra) msg = extra(v);
    fieldError(input, msg);
    if (msg) problems.push(input);
  };
  const user = $('#user-pin', form);
  const user2 = $('#user-pin2', form);
  const admin = $('#admin-pin', form);
  check(user);
  check(user2, (v) => (user && v !== user.value ? 'The two User PINs differ.' : ''));
  check(admin);
  if (problems.length) {
    errBox.textContent = 'Some PINs need attention; each says what is wrong under its field.';
    problems[0].focus();
    return null;
  }
  const req = {
    workstation_id: connected.workstation_id,
    reader: connected.reader,
    templates: Array.from(form.querySelectorAll('input[data-template]:checked')).map((i) => i.dataset.template),
    tracked: [],
  };
  if (user && user.value) req.user_pin = user.value;
  if (admin && admin.value) req.admin_pin = admin.value;
  return req;
}

function trackedStep(tracked, onIssue, onBack) {
  const form = h('form', { novalidate: true, id: 'tracked-form' },
    h('h3', {}, 'Third-party certificates'),
    h('p', {}, 'Your card holds certificates that Lanyard did not issue. Choose the ones Lanyard should register, so that their validity is tracked.'),
    h('fieldset', {},
      h('legend', {}, 'Certificates to register'),
      tracked.map((t, i) => h('div', { class: 'option' },
        h('label', {},
          h('input', { type: 'checkbox', id: `tracked-${i}`, value: t.slot, checked: true }),
          ' ', t.subject || '(no subject)'),
        h('p', { class: 'desc' }, `Slot ${t.slot}; issued by ${t.issuer || 'unknown'}; serial ${t.serial || '—'}; valid until ${fmtDate(t.not_after)}`)))),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: onBack }, 'Back'),
      h('button', { type: 'submit', class: 'primary' }, 'Issue')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onIssue(Array.from(form.querySelectorAll('input[type=checkbox]:checked')).map((i) => i.value));
  });
  return form;
}

async function run(req, body, status, back, who) {
  busy = true;
  const buttons = Array.from(back.querySelectorAll('button'));
  buttons.forEach((b) => { b.disabled = true; });
  setStatus(status, 'Issuing the card. Keep it connected until this finishes…');
  try {
    const res = await api.issue.run(req);
    setStatus(status, '');
    body.replaceChildren(resultView(res, who));
    $('#issue-result-title', body).focus();
    if (res.card && res.card.state === 'pin_setup') {
      // Windows Hello for Business model: Issue → Set up PIN.
      body.replaceChildren(pinSetupForm(res.card, () => $('#issue-dialog').close()));
      focusFirst(body);
    }
    return res;
  } catch (e) {
    setStatus(status, '');
    body.replaceChildren(back);
    let err = $('.error[role=alert]', back);
    if (!err) {
      err = h('div', { class: 'error', role: 'alert' });
      back.insertBefore(err, back.querySelector('.buttons'));
    }
    err.textContent = `The card was not issued. ${errorText(e)}`;
    buttons.forEach((b) => { b.disabled = false; });
    focusFirst(back);
    return null;
  } finally {
    busy = false;
  }
}

function resultView(res, who) {
  const dlg = $('#issue-dialog');
  const pending = res.state === 'pending';
  // The issued card comes with its certificates (service.IssueCardResult).
  const certs = (res.card && res.card.certificates) || res.certificates || [];
  let pinInput = null;
  let copyStatus = null;
  const parts = [
    h('h3', { id: 'issue-result-title', tabindex: '-1' }, pending ? 'Card issue pending' : 'Card issued'),
    pending
      ? h('p', { class: 'notice' }, who.pending)
      : h('p', { class: 'success' }, who.ready),
  ];
  if (res.random_pin) {
    pinInput = h('input', { id: 'random-pin', readonly: true, value: res.random_pin, 'aria-describedby': 'random-pin-warning', autocomplete: 'off' });
    copyStatus = h('span', { role: 'status', 'aria-live': 'polite', class: 'status' });
    parts.push(h('div', { class: 'pin-once' },
      h('div', { class: 'field' }, h('label', { for: 'random-pin' }, who.pinLabel), pinInput),
      h('p', { id: 'random-pin-warning' }, h('strong', {}, 'This PIN will not be shown again. '), 'Write it down or store it safely now.'),
      h('button', {
        type: 'button',
        onclick: async () => setStatus(copyStatus, (await copyText(res.random_pin, pinInput)) ? 'PIN copied.' : 'Copying failed; select the PIN and copy it yourself.'),
      }, 'Copy PIN'), ' ', copyStatus));
  }
  const mail = pinMailView(res, who);
  if (mail) parts.push(mail);
  if (certs.length) {
    parts.push(h('h4', {}, 'Certificates'), h('ul', {}, certs.map((c) => h('li', {}, c.template || 'certificate', ' ', badge(c.status), c.subject ? ` — ${c.subject}` : ''))));
  }
  if (res.recovery_note) {
    // The owner's earlier encryption keys the card did not get (no step-up
    // or approved requests given): Recover keys onto card puts them there.
    parts.push(h('p', { class: 'notice', id: 'issue-recovery-note' }, res.recovery_note));
  }
  if (res.secret_questions_needed) {
    parts.push(h('p', { class: 'notice' }, 'You have not set your secret questions yet; closing this window takes you to them. '
      + 'With them you reset a forgotten or blocked PIN yourself, online or offline, and sign in to Remote Self-Service when you cannot sign in.'));
  }
  parts.push(h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'primary', onclick: () => dlg.close() }, 'Close')));
  return h('div', {}, parts);
}

// pinMailView says whether and where the policy mailed the random PIN
// (pin_mailed_to, pin_mail_note) and offers the user's own choice — the
// guide's "email it to yourself or your manager" — when the server allows
// one (pin_mail_choices). The server mails its sealed copy, once: the
// buttons go away after a mail, and a refusal is shown as it is.
function pinMailView(res, who) {
  const choices = res.pin_mail_choices || [];
  const mailed = res.pin_mailed_to || [];
  if (!choices.length && !mailed.length && !res.pin_mail_note) return null;
  const box = h('div', { class: 'pin-mail', id: 'pin-mail' });
  if (mailed.length) box.append(h('p', { id: 'pin-mailed', class: 'success' }, `${who.pinOf} was e-mailed to ${mailed.join(' and ')}.`));
  if (res.pin_mail_note) box.append(h('p', { id: 'pin-mail-note', class: 'notice' }, sentence(res.pin_mail_note)));
  if (!choices.length) return box;
  const status = h('p', { id: 'pin-mail-status', role: 'status', 'aria-live': 'polite' });
  const label = { user: 'E-mail it to me', manager: 'E-mail it to my manager' };
  const buttons = choices.map((to) => h('button', {
    type: 'button',
    id: `pin-mail-${to}`,
    // Not disabled after a mail: asking again gets the server's answer
    // (sent only once), which says so better than a dead button.
    onclick: async (e) => {
      const btn = e.currentTarget;
      btn.disabled = true;
      status.className = '';
      status.textContent = 'Sending…';
      try {
        const r = await api.cards.mailPIN(res.card.id, { operation_id: res.operation_id, to });
        status.className = 'success';
        status.textContent = `Your PIN was e-mailed to ${r.mailed_to}. It is sent only once.`;
      } catch (err) {
        status.className = 'error';
        status.textContent = errorText(err);
      } finally {
        btn.disabled = false;
      }
    },
  }, label[to] || to));
  box.append(h('p', {}, 'If necessary, e-mail your PIN (once):'), h('div', { class: 'buttons' }, buttons), status);
  return box;
}

// pinSetupForm is Set up PIN of a platform credential: the user proves
// their password and a code from their authenticator app, then chooses
// the PIN (POST /cards/{id}/pin-setup).
export function pinSetupForm(card, onDone) {
  const field = (id, text, attrs = {}) => h('div', { class: 'field' },
    h('label', { for: id }, text), h('input', { id, name: id, ...attrs }));
  const form = h('form', { id: 'pin-setup-form', novalidate: true },
    h('h3', { id: 'pin-setup-title', tabindex: '-1' }, 'Set up PIN'),
    h('p', {}, 'Your platform credential ', h('strong', {}, card.serial || ''), ' is issued. Confirm it is you with your password and your authenticator app, then choose its PIN.'),
    field('setup-password', 'Password', { type: 'password', autocomplete: 'current-password', required: true }),
    field('setup-code', codeLabel, { inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: !stepUpCodeOK('') }),
    field('setup-pin', 'New PIN', { type: 'password', autocomplete: 'new-password', required: true }),
    field('setup-pin2', 'Confirm new PIN', { type: 'password', autocomplete: 'new-password', required: true }),
    h('div', { class: 'error', id: 'pin-setup-error', role: 'alert' }),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: onDone }, 'Later'),
      h('button', { type: 'submit', class: 'primary' }, 'Set up PIN')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const errBox = $('#pin-setup-error', form);
    const pin = $('#setup-pin', form).value;
    if (pin !== $('#setup-pin2', form).value) {
      errBox.textContent = 'The two PINs differ.';
      $('#setup-pin2', form).focus();
      return;
    }
    const buttons = Array.from(form.querySelectorAll('button'));
    buttons.forEach((b) => { b.disabled = true; });
    errBox.textContent = '';
    try {
      await api.cards.setupPIN(card.id, { password: $('#setup-password', form).value, code: $('#setup-code', form).value, pin });
      form.replaceChildren(
        h('h3', { id: 'pin-setup-done', tabindex: '-1' }, 'PIN set up'),
        h('p', { class: 'success' }, 'Your platform credential is ready to use with its new PIN.'),
        h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'primary', onclick: onDone }, 'Close')));
      $('#pin-setup-done', form).focus();
    } catch (err) {
      errBox.textContent = `The PIN was not set. ${errorText(err)}`;
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return form;
}
