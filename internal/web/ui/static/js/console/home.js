// Console overview: the one live number worth showing up front.
import '../app.js';
import * as api from '../api.js';
import { $ } from '../dom.js';

(async () => {
  try {
    const pending = await api.requests.list('pending');
    $('#queue-count').textContent = pending.length === 1 ? '1 request waits for a decision.' : `${pending.length} requests wait for a decision.`;
  } catch {
    // Only CA managers, administrators and auditors read the queue.
  }
})();
