package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

const csrfHeader = "X-CSRF-Token"

// login checks a password (the service throttles by login and by client
// address, so neither one account nor one address can be used to guess
// passwords quickly). When a second factor is due it answers 202 with
// LoginPending and the login cookie instead of a session.
func (s *Server) login(c *call) (any, error) {
	var in apiv1.LoginInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	res, err := s.identity.Login(c.r.Context(), in.Login, in.Password, s.clientAddr(c.r))
	if err != nil {
		return nil, err
	}
	if res.Challenge != nil {
		s.setLoginCookie(c.w, res.ChallengeID, res.Challenge.ExpiresAt)
		c.w.Header().Set("Cache-Control", "no-store")
		c.status = http.StatusAccepted
		out := apiv1.LoginPending{SecondFactor: res.SecondFactor, ExpiresAt: res.Challenge.ExpiresAt}
		if res.Setup != nil {
			out.OTPAuthURL, out.Secret = res.Setup.URL, res.Setup.Secret
		}
		return out, nil
	}
	return s.startSession(c, res), nil
}

// loginSecondFactor is the login's second step: the code, with the login
// cookie from login.
func (s *Server) loginSecondFactor(c *call) (any, error) {
	var in apiv1.TOTPCode
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	res, err := s.identity.CompleteLogin(c.r.Context(), s.loginChallenge(c.r), in.Code, s.clientAddr(c.r))
	if err != nil {
		return nil, err
	}
	s.setLoginCookie(c.w, "", time.Time{})
	return s.startSession(c, res), nil
}

// loginQR is the QR code of the authenticator app the login enrolls.
func (s *Server) loginQR(c *call) (any, error) {
	setup, err := s.identity.LoginEnrollment(c.r.Context(), s.loginChallenge(c.r))
	if err != nil {
		return nil, err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	c.raw("image/png", setup.QRPNG)
	return nil, nil
}

func (s *Server) loginChallenge(r *http.Request) string {
	if ck, err := r.Cookie(s.loginCookieName()); err == nil {
		return ck.Value
	}
	return ""
}

// startSession sets the session cookie of a completed login.
func (s *Server) startSession(c *call, res *identity.LoginResult) apiv1.SessionInfo {
	s.setSessionCookie(c.w, res.SessionID, res.Session.ExpiresAt)
	return apiv1.SessionInfo{User: res.User, Roles: res.User.Roles, CSRFToken: res.Session.CSRFToken, SecondFactorAt: res.Session.SecondFactorAt}
}

// setRetryAfter sends a throttle refusal's wait as Retry-After (RFC 9110,
// 10.2.3).
func setRetryAfter(w http.ResponseWriter, err error) {
	var te *auth.ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", retryAfter(te.Wait))
	}
}

func retryAfter(d time.Duration) string {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}

func (s *Server) whoami(c *call) (any, error) {
	info := apiv1.SessionInfo{User: c.p.User, Roles: c.p.Roles, SecondFactorAt: c.p.SecondFactorAt}
	if id := s.sessionCookieValue(c.r); id != "" && c.p.TokenID == 0 {
		if _, sess, err := s.identity.AuthenticateSession(c.r.Context(), id, s.clientAddr(c.r)); err == nil {
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
	if err := s.identity.Logout(c.r.Context(), c.p, id); err != nil {
		return nil, err
	}
	s.clearSessionCookie(c.w)
	return nil, nil
}
