// Self-Service "Encryption keys": the caller's archived keys (never the
// keys themselves) and the recovery of one as a PKCS #12 file.
import '../app.js';
import * as api from '../api.js';
import { $, h, badge, errorText, fmtDateTime, setStatus, table } from '../dom.js';
import { recoverKeyDialog } from '../recoverkey.js';

const status = $('#keys-status');

async function load() {
  let keys;
  try {
    keys = await api.archivedKeys.mine();
  } catch (e) {
    setStatus(status, `Your archived keys cannot be shown. ${errorText(e)}`, 'error');
    return;
  }
  setStatus(status, '');
  $('#keys').replaceChildren(table('Your archived keys, newest first', [
    { label: 'Template', cell: (k) => k.template },
    { label: 'Algorithm', cell: (k) => k.key_algorithm },
    { label: 'Certificate', cell: (k) => k.certificate_serial || '—' },
    { label: 'Archived', cell: (k) => fmtDateTime(k.created_at) },
    { label: 'State', cell: (k) => badge(k.state) },
    {
      label: 'Actions', class: 'actions',
      cell: (k) => (k.state !== 'active' ? '' : h('button', {
        type: 'button', class: 'small', 'aria-label': `Recover the ${k.template} key ${k.certificate_serial || k.id}`,
        onclick: (e) => recover(k, e.currentTarget),
      }, 'Recover as file')),
    },
  ], keys, 'You have no archived keys: none of your certificate templates archives keys.'));
}

async function recover(k, opener) {
  const saved = await recoverKeyDialog(opener, `Recover your ${k.template} key`,
    `The key of certificate ${k.certificate_serial || '(none yet)'}, with its certificate and the CA chain, in one file.`,
    `${k.template}-${k.id}.p12`, (secrets) => api.archivedKeys.recoverOwn(k.id, secrets));
  if (saved) setStatus(status, `The ${k.template} key was recovered: the file ${k.template}-${k.id}.p12 is in your downloads.`, 'ok');
}

load();
