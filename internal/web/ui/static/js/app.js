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
