// Console overview: the one live number worth showing up front.
import '../app.js';
import * as api from '../api.js';
import { $, h } from '../dom.js';

(async () => {
  try {
    const pending = await api.requests.list('pending');
    $('#queue-count').textContent = pending.length === 1 ? '1 request waits for a decision.' : `${pending.length} requests wait for a decision.`;
  } catch {
    // Only CA managers, administrators and auditors read the queue.
  }
})();

// Card contents: how many cards have each content status, each a link to
// the cards list filtered by it.
(async () => {
  let counts;
  try {
    counts = await api.cards.contentCounts();
  } catch {
    return; // operators, administrators and auditors only
  }
  $('#content-counts').replaceChildren(...counts.map((c) => h('li', { 'data-status': c.status },
    h('a', { href: `/console/cards?content_status=${encodeURIComponent(c.status)}` }, h('strong', {}, String(c.cards)), ' ', c.label))));
  $('#content-section').hidden = false;
})();
