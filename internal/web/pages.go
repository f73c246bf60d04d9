package web

import (
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/ui"
)

// mountUI serves Self-Service at / and the console at /console/ (package
// ui). The pages read and write only through the API above.
func (s *Server) mountUI() {
	pages := ui.New(ui.Config{Viewer: s.viewer, Log: s.log})
	s.mux.Handle("/", pages.Handler())
	s.mountOIDC(pages)
}

// viewer resolves a page request's browser session. Pages accept only the
// session cookie, never a bearer token: a browser is the only client.
func (s *Server) viewer(r *http.Request) (*ui.Viewer, error) {
	id := s.sessionCookieValue(r)
	if id == "" {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "no session")
	}
	p, sess, err := s.identity.AuthenticateSession(r.Context(), id, s.clientAddr(r))
	if err != nil {
		return nil, err
	}
	return &ui.Viewer{Login: p.User.Login, DisplayName: p.User.DisplayName, Roles: p.Roles, CSRFToken: sess.CSRFToken}, nil
}
