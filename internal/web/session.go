package web

import (
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
)

const csrfHeader = "X-CSRF-Token"

// login checks a password under throttling keyed by login and by client
// address, so neither one account nor one address can be used to guess
// passwords quickly.
func (s *Server) login(c *call) (any, error) {
	var in LoginInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	remote := s.clientAddr(c.r)
	keys := service.LoginThrottleKeys(in.Login, remote)
	for _, k := range keys {
		if ok, wait := s.throttle.Allow(k); !ok {
			c.w.Header().Set("Retry-After", retryAfter(wait))
			return nil, lanyard.Errorf(lanyard.ERateLimited, "too many failed logins; try again in %s", wait.Round(time.Second))
		}
	}
	id, sess, u, err := s.svc.Login(c.r.Context(), in.Login, in.Password, remote)
	if err != nil {
		if lanyard.IsCode(err, lanyard.EUnauthenticated) {
			for _, k := range keys {
				s.throttle.Failure(k)
			}
		}
		return nil, err
	}
	for _, k := range keys {
		s.throttle.Success(k)
	}
	s.setSessionCookie(c.w, id, sess.ExpiresAt)
	return SessionInfo{User: u, Roles: u.Roles, CSRFToken: sess.CSRFToken}, nil
}

func retryAfter(d time.Duration) string {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}

func (s *Server) whoami(c *call) (any, error) {
	info := SessionInfo{User: c.p.User, Roles: c.p.Roles}
	if id := s.sessionCookieValue(c.r); id != "" && c.p.TokenID == 0 {
		if _, sess, err := s.svc.AuthenticateSession(c.r.Context(), id, s.clientAddr(c.r)); err == nil {
			info.CSRFToken = sess.CSRFToken
		}
	}
	return info, nil
}

func (s *Server) logout(c *call) (any, error) {
	id := s.sessionCookieValue(c.r)
	if id == "" || c.p.TokenID != 0 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "there is no browser session to end; revoke API tokens with DELETE /api/v1/tokens/{id}")
	}
	if err := s.svc.Logout(c.r.Context(), c.p, id); err != nil {
		return nil, err
	}
	s.clearSessionCookie(c.w)
	return nil, nil
}
