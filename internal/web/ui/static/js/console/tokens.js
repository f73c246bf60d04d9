// Console users page, API tokens section: the token policy (the longest
// lifetime a new API token may have). Everyone on the page sees it; only
// administrators get the Save button (the server refuses anyone else).
import * as api from '../api.js';
import { $, errorText, fieldError, setStatus } from '../dom.js';

const form = $('#token-form');
const input = $('#token-max-ttl');
const status = $('#token-status');

(async () => {
  try {
    input.value = (await api.tokenSettings.get()).max_ttl || '';
  } catch (e) {
    setStatus(status, `The token policy cannot be shown. ${errorText(e)}`, 'error');
  }
})();

if ($('#token-save')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const maxTTL = input.value.trim();
    fieldError(input, maxTTL ? '' : 'Enter a lifetime in hours, such as 720h.');
    if (!maxTTL) { input.focus(); return; }
    try {
      const saved = await api.tokenSettings.put({ max_ttl: maxTTL });
      input.value = saved.max_ttl;
      setStatus(status, `Token policy saved: API tokens live at most ${saved.max_ttl} from their creation, existing ones included.`, 'ok');
    } catch (err) {
      setStatus(status, `The token policy was not saved. ${errorText(err)}`, 'error');
      input.focus();
    }
  });
} else {
  form.addEventListener('submit', (e) => e.preventDefault());
}
