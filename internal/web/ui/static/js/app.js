// app.js: what every signed-in page shares: the logout button, and a
// console note of any Content-Security-Policy violation (tests watch it).
import { session } from './api.js';

document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline code'}`);
});

const logout = document.getElementById('logout');
if (logout) {
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try { await session.logout(); } catch { /* the session is gone either way */ }
    location.assign('/login');
  });
}

// Card menus are <details> elements: Escape closes an open one and puts
// focus back on its button; a click elsewhere closes them all.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  const open = e.target.closest?.('details.menu[open]');
  if (open) {
    open.open = false;
    open.querySelector('summary').focus();
  }
});
document.addEventListener('click', (e) => {
  for (const d of document.querySelectorAll('details.menu[open]')) {
    if (!d.contains(e.target)) d.open = false;
  }
});
