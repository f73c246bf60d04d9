package web

import (
	"context"
	"net/http"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// Remote Self-Service (/rss/, docs/lifecycle.md): a user who cannot sign
// in answers their secret questions and gets a short session of its own —
// its own cookie, its own table — that only the routes below accept
// (rssOnly), plus the card operations Remote Self-Service offers, which
// are named in rssAlso. Every other route reads only the session cookie
// and API tokens, so it refuses a Remote Self-Service caller as
// unauthenticated (docs/security.md).

// The Remote Self-Service cookie. Path=/ so that it reaches the card
// operations it may start; __Host- over HTTPS as the session cookie.
const (
	rssCookie       = "lanyard_rss"
	secureRSSCookie = "__Host-" + rssCookie
)

// rssAuth says whether a route accepts a Remote Self-Service session.
type rssAuth int

const (
	rssNever rssAuth = iota // the default: session cookie and API tokens only
	rssOnly                 // only a Remote Self-Service session
)

// rssAlso lists the routes of other files that a Remote Self-Service
// session may call besides the session cookie and API tokens: the urgent
// card disable and the offline unblock's response (cardperm decides
// whether the card's owner may, through this channel). Named here, by method and path, so that the list of
// everything such a session reaches is in one place.
var rssAlso = map[string]bool{
	"POST /api/v1/cards/{id}/disable":         true,
	"POST /api/v1/cards/{id}/offline-unblock": true,
}

func (s *Server) rssCookieName() string {
	if s.secure {
		return secureRSSCookie
	}
	return rssCookie
}

func (s *Server) rssCookieValue(r *http.Request) string {
	if c, err := r.Cookie(s.rssCookieName()); err == nil {
		return c.Value
	}
	return ""
}

// setRSSCookie hands the browser its Remote Self-Service session
// (SameSite=Strict: only the /rss/ page's own requests carry it); an
// expires of zero clears it.
func (s *Server) setRSSCookie(w http.ResponseWriter, id string, expires time.Time) {
	s.setCookie(w, s.rssCookieName(), "/", http.SameSiteStrictMode, id, expires)
}

// authenticateRSS resolves a Remote Self-Service session; unsafe requests
// carry its CSRF token as the session's do.
func (s *Server) authenticateRSS(ctx context.Context, r *http.Request) (*lanyard.Principal, *lanyard.Session, error) {
	id := s.rssCookieValue(r)
	if id == "" {
		return nil, nil, lanyard.Errorf(lanyard.EUnauthenticated, "answer your secret questions in Remote Self-Service first")
	}
	p, sess, err := s.identity.AuthenticateRSS(ctx, id, s.clientAddr(r))
	if err != nil {
		return nil, nil, err
	}
	if !safeMethod(r.Method) && !auth.EqualCSRF(r.Header.Get(csrfHeader), sess.CSRFToken) {
		return nil, nil, lanyard.Errorf(lanyard.EForbidden, "missing or wrong %s header (CSRF protection)", csrfHeader)
	}
	return p, sess, nil
}

// routeAuthenticate authenticates a call to rt: a Remote Self-Service
// session for rssOnly routes; for the routes in rssAlso, the session
// cookie or a token when the request has one, else a Remote Self-Service
// session; for every other route never one.
//
// A browser may hold both cookies (someone signed in who also used
// /rss/); on an rssAlso route the Remote Self-Service session is tried
// first and, when it does not authenticate the request (its CSRF token
// was not sent), the browser session is.
func (s *Server) routeAuthenticate(rt *route, r *http.Request) (*lanyard.Principal, error) {
	if rt.rss == rssOnly {
		p, _, err := s.authenticateRSS(r.Context(), r)
		return p, err
	}
	if rssAlso[rt.method+" "+rt.path] && r.Header.Get("Authorization") == "" && s.rssCookieValue(r) != "" {
		p, _, err := s.authenticateRSS(r.Context(), r)
		if err == nil || s.sessionCookieValue(r) == "" {
			return p, err
		}
	}
	return s.authenticate(r.Context(), r)
}

func (s *Server) rssRoutes() []*route {
	v1 := "/api/v1/rss"
	return []*route{
		{method: "POST", path: v1 + "/questions", summary: "Remote Self-Service: the secret questions to answer for a user name (an unknown name gets plausible questions)", tag: "remote self-service", public: true,
			in: apiv1.RSSQuestionsInput{}, out: &apiv1.RSSQuestions{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.RSSQuestionsInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				q, err := s.identity.RSSQuestionsFor(c.r.Context(), in.Login)
				if err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store")
				return &apiv1.RSSQuestions{Questions: q.Questions, Ticket: q.Ticket, ExpiresAt: q.ExpiresAt}, nil
			}},
		{method: "POST", path: v1 + "/session", summary: "Remote Self-Service sign-in: the answers to the questions of a ticket; a 10-minute session with its own cookie, accepted only by the Remote Self-Service routes", tag: "remote self-service", public: true, signIn: true,
			in: apiv1.RSSSignInInput{}, out: &apiv1.RSSSession{}, status: 201, h: s.rssSignIn},
		{method: "GET", path: v1 + "/session", summary: "The Remote Self-Service session", tag: "remote self-service", rss: rssOnly, roles: anyone, out: &apiv1.RSSSession{}, status: 200,
			h: func(c *call) (any, error) {
				_, sess, err := s.authenticateRSS(c.r.Context(), c.r)
				if err != nil {
					return nil, err
				}
				return &apiv1.RSSSession{Login: c.p.User.Login, DisplayName: c.p.User.DisplayName, CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt}, nil
			}},
		{method: "DELETE", path: v1 + "/session", summary: "End the Remote Self-Service session", tag: "remote self-service", rss: rssOnly, roles: anyone, status: 204,
			h: func(c *call) (any, error) {
				if err := s.identity.EndRSS(c.r.Context(), c.p, s.rssCookieValue(c.r)); err != nil {
					return nil, err
				}
				s.setRSSCookie(c.w, "", time.Time{})
				return nil, nil
			}},
		{method: "GET", path: v1 + "/cards", summary: "Remote Self-Service: the user's cards with the operations allowed there", tag: "remote self-service", rss: rssOnly, roles: anyone, out: []*apiv1.RSSCard{}, status: 200,
			h: func(c *call) (any, error) { return rssCards(s.cards.RemoteSelfServiceCards(c.r.Context(), c.p)) }},
	}
}

func (s *Server) rssSignIn(c *call) (any, error) {
	var in apiv1.RSSSignInInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	answers := make([]identity.SecretAnswerInput, len(in.Answers))
	for i, a := range in.Answers {
		answers[i] = identity.SecretAnswerInput(a)
	}
	res, err := s.identity.RSSSignIn(c.r.Context(), identity.RSSSignInInput{Login: in.Login, Ticket: in.Ticket, Answers: answers, RemoteAddr: s.clientAddr(c.r)})
	if err != nil {
		setRetryAfter(c.w, err)
		return nil, err
	}
	s.setRSSCookie(c.w, res.SessionID, res.Session.ExpiresAt)
	c.w.Header().Set("Cache-Control", "no-store")
	return &apiv1.RSSSession{Login: res.User.Login, DisplayName: res.User.DisplayName, CSRFToken: res.Session.CSRFToken, ExpiresAt: res.Session.ExpiresAt}, nil
}

func rssCards(cs []*cardops.RSSCard, err error) ([]*apiv1.RSSCard, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*apiv1.RSSCard, len(cs))
	for i, c := range cs {
		ops := make([]string, len(c.Operations))
		for j, op := range c.Operations {
			ops[j] = string(op)
		}
		out[i] = &apiv1.RSSCard{ID: c.ID, Serial: c.Serial, CardType: c.CardType, Kind: string(c.Kind), Name: c.Name,
			State: string(c.State), IssuedAt: c.IssuedAt, Operations: ops}
	}
	return out, nil
}

// secretAnswerRoutes are the help desk's actions on a user's secret
// answers (docs/lifecycle.md, "Secret questions").
func (s *Server) secretAnswerRoutes() []*route {
	v1 := "/api/v1"
	status := func(v *identity.SecretAnswersStatus, err error) (*apiv1.SecretAnswersStatus, error) {
		if err != nil {
			return nil, err
		}
		return &apiv1.SecretAnswersStatus{Login: v.Login, Set: v.Set, Answered: v.Answered, Failures: v.Failures, Locked: v.Locked, LockedAt: v.LockedAt}, nil
	}
	return []*route{
		{method: "GET", path: v1 + "/users/{login}/secret-answers", summary: "Whether a user's secret answers are set and locked (never the answers)", tag: "users", roles: readers, out: &apiv1.SecretAnswersStatus{}, status: 200,
			h: func(c *call) (any, error) {
				return status(s.identity.SecretAnswersStatusOf(c.r.Context(), c.p, c.r.PathValue("login")))
			}},
		{method: "DELETE", path: v1 + "/users/{login}/secret-answers", summary: "Reset a user's secret answers: the user sets new ones in Self-Service (operators: plain users only; staff accounts: administrators)", tag: "users", roles: staff, out: &apiv1.SecretAnswersStatus{}, status: 200,
			h: func(c *call) (any, error) {
				return status(s.identity.ResetSecretAnswers(c.r.Context(), c.p, c.r.PathValue("login")))
			}},
		{method: "POST", path: v1 + "/users/{login}/secret-answers/unlock", summary: "Unlock a user's secret answers after too many wrong answers (operators: plain users only; staff accounts: administrators)", tag: "users", roles: staff, out: &apiv1.SecretAnswersStatus{}, status: 200,
			h: func(c *call) (any, error) {
				return status(s.identity.UnlockSecretAnswers(c.r.Context(), c.p, c.r.PathValue("login")))
			}},
	}
}
