// Console lists of policies, card types and certificate templates.
import '../app.js';
import * as api from '../api.js';
import { $, errorText, fieldError, setStatus, table } from '../dom.js';
import { kinds, nameLink } from './kinds.js';

const kind = $('#main').dataset.kind;
const k = kinds[kind];
const status = $('#list-status');

(async () => {
  try {
    const list = await api.objects[kind].list();
    $('#list').replaceChildren(table('', [{ label: 'Name', cell: (o) => nameLink(kind, o.name) }, ...k.columns], list, `There is no ${k.one} yet.`));
    setStatus(status, `${list.length} ${list.length === 1 ? k.one : kind.replace('-', ' ')}.`);
  } catch (e) {
    setStatus(status, `The list cannot be shown. ${errorText(e)}`, 'error');
  }
})();

$('#new-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('#new-name');
  const name = input.value.trim();
  const ok = /^[A-Za-z0-9._-]{1,64}$/.test(name);
  fieldError(input, ok ? '' : 'Use 1 to 64 letters, digits, dots, hyphens or underscores.');
  if (!ok) { input.focus(); return; }
  location.assign(`/console/${kind}/${encodeURIComponent(name)}?new=1`);
});

// Card types: the feature switches of the TPM card kinds (administrators
// change them; the server refuses anyone else).
if (kind === 'card-types') {
  const form = $('#features-form');
  const fstatus = $('#features-status');
  (async () => {
    try {
      const f = await api.features.get();
      $('#feature-tpm').checked = !!f.tpm_virtual_card;
      $('#feature-platform').checked = !!f.platform_credential;
    } catch (e) {
      setStatus(fstatus, `The features cannot be shown. ${errorText(e)}`, 'error');
    }
  })();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api.features.put({ tpm_virtual_card: $('#feature-tpm').checked, platform_credential: $('#feature-platform').checked });
      setStatus(fstatus, 'Features saved.');
    } catch (err) {
      setStatus(fstatus, `The features were not saved. ${errorText(err)}`, 'error');
    }
  });
}
