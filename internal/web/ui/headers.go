package ui

import "net/http"

// contentSecurityPolicy allows scripts, styles, fetches and images only
// from this origin and nothing inline: the pages' scripts are files under
// /static/js, their styles one file under /static/css. form-action and
// base-uri close the remaining injection routes; frame-ancestors 'none'
// (with X-Frame-Options for older browsers) stops clickjacking.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Secure sets the UI's security headers on next's responses: the single
// sign-on's start and redirect URI (internal/web/oidc.go) are pages too.
// Referrer-Policy same-origin keeps the callback's code and state out of
// any other site's Referer.
func Secure(next http.Handler) http.Handler { return secure(next) }

// secure sets the security headers on every UI response.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		next.ServeHTTP(w, r)
	})
}
