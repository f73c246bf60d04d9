package web

import (
	"net/http"
	"time"
)

// The session cookie's names. Over HTTPS the cookie carries the __Host-
// prefix (RFC 6265bis, section 4.1.3.2): browsers accept such a cookie only
// if it is Secure, has Path=/ and no Domain, so neither a sibling subdomain
// nor a plain-HTTP page can plant or overwrite it (session fixation). Over
// plain HTTP (make run, tests) a browser would refuse a __Host- cookie, so
// the plain name is used there.
const (
	sessionCookie       = "lanyard_session"
	secureSessionCookie = "__Host-" + sessionCookie
)

// The login cookie holds a login between password and second factor
// (service.LoginChallenge). Its path keeps it to the second step's routes
// (no other route reads it, so it grants nothing else), which rules out the
// __Host- prefix; over HTTPS it carries __Secure- (RFC 6265bis, section
// 4.1.3.1) so that a plain-HTTP page cannot set it.
const (
	loginCookie       = "lanyard_login"
	secureLoginCookie = "__Secure-" + loginCookie
	loginCookiePath   = "/api/v1/session/second-factor"
)

// hstsValue asks browsers to use only HTTPS for this host for a year (RFC
// 6797). includeSubDomains is left out: Lanyard does not know which other
// hosts share its domain.
const hstsValue = "max-age=31536000"

// sessionCookieName is the name the session cookie has in this server's
// mode.
func (s *Server) sessionCookieName() string {
	if s.secure {
		return secureSessionCookie
	}
	return sessionCookie
}

// sessionCookieValue is the session ID the request carries, "" if none.
func (s *Server) sessionCookieValue(r *http.Request) string {
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

// setSessionCookie hands the browser its session ID: HttpOnly so page
// scripts never see it, SameSite=Lax against cross-site requests (the CSRF
// token guards the rest), Secure with the __Host- name when served over
// HTTPS. An expires of zero clears the cookie.
func (s *Server) setSessionCookie(w http.ResponseWriter, id string, expires time.Time) {
	s.setCookie(w, s.sessionCookieName(), "/", http.SameSiteLaxMode, id, expires)
}

// setCookie sets an HttpOnly cookie, Secure over HTTPS; an expires of
// zero clears it.
func (s *Server) setCookie(w http.ResponseWriter, name, path string, sameSite http.SameSite, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: s.secure, SameSite: sameSite, Expires: expires}
	if expires.IsZero() {
		c.Value, c.Expires, c.MaxAge = "", time.Time{}, -1
	}
	http.SetCookie(w, c)
}

// clearSessionCookie tells the browser to drop its session cookie.
func (s *Server) clearSessionCookie(w http.ResponseWriter) { s.setSessionCookie(w, "", time.Time{}) }

// strictTransport sends Strict-Transport-Security on every response when
// the server is reached over HTTPS (directly or through a TLS-terminating
// proxy, --secure-cookies). Browsers ignore the header over plain HTTP.
func (s *Server) strictTransport(next http.Handler) http.Handler {
	if !s.secure {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", hstsValue)
		next.ServeHTTP(w, r)
	})
}

// loginCookieName is the name the login cookie has in this server's mode.
func (s *Server) loginCookieName() string {
	if s.secure {
		return secureLoginCookie
	}
	return loginCookie
}

// setLoginCookie hands the browser its pending login (SameSite=Strict: the
// second step is always the login page's own request); an expires of zero
// clears it.
func (s *Server) setLoginCookie(w http.ResponseWriter, id string, expires time.Time) {
	s.setCookie(w, s.loginCookieName(), loginCookiePath, http.SameSiteStrictMode, id, expires)
}
