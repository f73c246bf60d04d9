// recoverkey.js: the dialog that takes an archived key out as a
// password-protected PKCS #12 file (docs/lifecycle.md, "Key archival and
// recovery"). The file's password follows the policy's rules for
// software-store passwords (the server checks them); the account
// password and a current authenticator code are the step-up. Nothing
// typed here is kept: the fields are cleared when the dialog closes.
import { $, h, codeLabel, errorText, fieldError, openDialog, stepUpCodeOK } from './dom.js';

// recoverKeyDialog asks for the secrets, calls take(secrets) for the
// file (a Blob) and saves it as fileName. It resolves to true once the
// file was handed to the browser, false when cancelled.
export function recoverKeyDialog(opener, title, intro, fileName, take) {
  return new Promise((resolve) => {
    let saved = false;
    const field = (id, text, attrs) => h('div', { class: 'field' }, h('label', { for: id }, text), h('input', { id, ...attrs }));
    const error = h('div', { class: 'error', role: 'alert', id: 'recover-error' });
    const form = h('form', { novalidate: true },
      h('p', {}, intro),
      h('fieldset', {},
        h('legend', {}, 'Password of the file'),
        h('p', { class: 'hint', id: 'recover-password-hint' }, 'Whoever has the file and this password has the key: choose a long password and keep the file safe. Your policy sets how long it must be.'),
        field('recover-password', 'Password', { type: 'password', autocomplete: 'new-password', maxlength: 128, required: true, 'aria-describedby': 'recover-password-hint' }),
        field('recover-password2', 'Confirm password', { type: 'password', autocomplete: 'new-password', maxlength: 128, required: true })),
      h('fieldset', {},
        h('legend', {}, 'Confirm it is you'),
        field('recover-account', 'Your account password', { type: 'password', autocomplete: 'current-password', maxlength: 1024, required: true }),
        field('recover-code', codeLabel, { inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: !stepUpCodeOK('') })),
      error,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
        h('button', { type: 'submit', class: 'primary', id: 'recover-submit' }, 'Recover the key')));
    const dlg = h('dialog', { 'aria-labelledby': 'recover-title', id: 'recover-dialog' }, h('h2', { id: 'recover-title' }, title), form);
    dlg.addEventListener('close', () => { form.reset(); dlg.remove(); resolve(saved); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const pw = $('#recover-password', form);
      const pw2 = $('#recover-password2', form);
      const account = $('#recover-account', form);
      const code = $('#recover-code', form);
      const checks = [
        [pw, pw.value ? '' : 'Enter a password for the file.'],
        [pw2, pw.value && pw.value !== pw2.value ? 'The two passwords differ.' : ''],
        [account, account.value ? '' : 'Enter your account password.'],
        [code, stepUpCodeOK(code.value.trim()) ? '' : 'Enter the 6-digit code your authenticator app shows now.'],
      ];
      let first = null;
      for (const [input, msg] of checks) {
        fieldError(input, msg);
        if (msg && !first) first = input;
      }
      if (first) { first.focus(); return; }
      const submit = $('#recover-submit', form);
      submit.disabled = true;
      error.textContent = '';
      try {
        const blob = await take({ password: pw.value, account_password: account.value, code: code.value.trim() });
        save(blob, fileName);
        saved = true;
        dlg.close();
      } catch (err) {
        error.textContent = errorText(err);
        code.value = '';
        code.focus();
      } finally {
        submit.disabled = false;
      }
    });
    document.body.append(dlg);
    openDialog(dlg, opener, $('#recover-password', form));
  });
}

// save hands blob to the browser as a download named name.
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
