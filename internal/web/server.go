// Package web is Lanyard's HTTP edge: the REST API under /api/v1 with its
// OpenAPI document, problem+json errors, authentication (API tokens and
// browser sessions with CSRF protection), role checks on every route, the
// PKI endpoints relying parties fetch (CRL, OCSP, CA certificate), the
// operational endpoints (/healthz, /readyz, /metrics), and the browser
// pages of package ui at / and /console/.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Config holds the server's dependencies.
type Config struct {
	// The capabilities the handlers use (deps.go): service.New builds
	// them (lanyard serve); tests may pass fakes.
	Identity     Identity
	Catalog      Catalog
	PKI          PKI
	Documents    Documents
	Workstations Workstations
	Cards        Cards
	Audit        AuditLog
	Archive      KeyArchive // key archival (kra.go)
	// Directory is the directory sources and their sync (directory.go);
	// nil: its routes answer unavailable.
	Directory Directory
	// SSO is single sign-on (oidc.go) and Sessions opens its sessions
	// (the identity capability); nil SSO: no providers, no routes' data.
	SSO      SSO
	Sessions ExternalSessions
	// Ready answers /readyz (the store).
	Ready Ready
	Log   *slog.Logger
	// SecureCookies says browsers reach the server over HTTPS (served with
	// TLS or behind a TLS-terminating proxy): the session cookie is Secure
	// and named __Host-…, and responses carry Strict-Transport-Security.
	SecureCookies bool
	// TrustedProxies are the address ranges of the reverse proxies in front
	// of the server (ParseTrustedProxies). Empty: the connection's peer is
	// the client and X-Forwarded-For is ignored.
	TrustedProxies []net.IPNet
	Now            func() time.Time
	Version        string
	// Agents is the agent hub, for workstations' live state and for
	// dropping a revoked workstation's connection; nil serves the stored
	// state only.
	Agents *agenthub.Hub
	// Notifications administers e-mail notifications (internal/notify);
	// nil: its routes answer unavailable.
	Notifications Notifications
	// Provisioning serves /scim/v2/ and the SCIM tokens
	// (internal/service/provisioning); nil: those answer unavailable.
	Provisioning Provisioning
	// Cluster forwards card requests to the replica holding the
	// workstation's agent (forward.go); nil: a single server.
	Cluster Cluster
	// Replicas is the operators' view of the cluster (replicas.go); nil:
	// GET /api/v1/replicas answers unavailable.
	Replicas ClusterStatus
	// ContentCounts is the Card Monitor, whose last run's counts /metrics
	// reports (lanyard_cards_content_status); nil (the monitor is off):
	// no such gauge.
	ContentCounts ContentCounts
}

// Server routes HTTP requests to the service.
type Server struct {
	identity     Identity
	catalog      Catalog
	pki          PKI
	documents    Documents
	workstations Workstations
	cards        Cards
	audit        AuditLog
	archive      KeyArchive
	directory    Directory
	db           Ready
	log          *slog.Logger
	secure       bool
	proxies      proxies
	throttle     *auth.Throttle
	metrics      *metrics
	routes       []*route
	mux          *http.ServeMux
	openapi      []byte
	version      string
	agents       *agenthub.Hub
	notify       Notifications
	prov         Provisioning
	sso          SSO
	sessions     ExternalSessions
	cluster      Cluster
	replicas     ClusterStatus
	now          func() time.Time
}

// New builds the server and its route table.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// The service's throttle: login and the second-factor step-up count
	// password failures together.
	var throttle *auth.Throttle
	if cfg.Identity != nil {
		throttle = cfg.Identity.LoginThrottle()
	} else {
		t, err := auth.NewThrottle(cfg.Now, auth.DefaultLimits())
		if err != nil {
			panic(err) // the default limits are valid by construction
		}
		throttle = t
	}
	s := &Server{
		identity: cfg.Identity, catalog: cfg.Catalog, pki: cfg.PKI, documents: cfg.Documents, workstations: cfg.Workstations,
		cards: cfg.Cards, audit: cfg.Audit, archive: cfg.Archive, directory: cfg.Directory, db: cfg.Ready,
		log: cfg.Log, secure: cfg.SecureCookies, proxies: newProxies(cfg.TrustedProxies),
		throttle: throttle, metrics: newMetrics(), mux: http.NewServeMux(), version: cfg.Version,
		agents: cfg.Agents, notify: cfg.Notifications, prov: cfg.Provisioning, sso: cfg.SSO, sessions: cfg.Sessions,
		cluster: cfg.Cluster, replicas: cfg.Replicas, now: cfg.Now,
	}
	if cfg.Agents != nil {
		s.metrics.reg.MustRegister(cfg.Agents.Collectors()...)
	}
	if cfg.ContentCounts != nil {
		s.metrics.reg.MustRegister(newContentCollector(cfg.ContentCounts))
	}
	s.routes = append(append(append(s.apiRoutes(), s.cardRoutes()...), s.documentRoutes()...), s.virtualCardRoutes()...)
	s.routes = append(s.routes, s.softStoreRoutes()...)
	s.routes = append(s.routes, s.offlineRoutes()...)
	s.routes = append(s.routes, s.pinRoutes()...)
	s.routes = append(s.routes, s.cardStateRoutes()...)
	s.routes = append(s.routes, s.cardContentRoutes()...)
	s.routes = append(s.routes, s.replaceRoutes()...)
	s.routes = append(s.routes, s.updateRoutes()...)
	s.routes = append(s.routes, s.softUpdateRoutes()...)
	s.routes = append(s.routes, s.notificationRoutes("/api/v1")...)
	s.routes = append(s.routes, s.totpRoutes()...)
	s.routes = append(s.routes, s.rssRoutes()...)
	s.routes = append(s.routes, s.cardLoginRoutes()...)
	s.routes = append(s.routes, s.secretAnswerRoutes()...)
	s.routes = append(s.routes, s.kraRoutes()...)
	s.routes = append(s.routes, s.oidcRoutes()...)
	s.routes = append(s.routes, s.keyRecoveryRoutes()...)
	s.routes = append(s.routes, s.recoverKeysRoutes()...)
	s.routes = append(s.routes, s.scimRoutes()...)
	s.routes = append(s.routes, s.directoryRoutes()...)
	s.routes = append(s.routes, s.replicaRoutes()...)
	for _, rt := range s.routes {
		rt.card = cardRoutes[rt.method+" "+rt.path]
		s.mux.Handle(rt.method+" "+rt.path, s.metrics.wrap(rt.path, s.handler(rt)))
	}
	s.openapi = mustOpenAPI(s.routes, cfg.Version)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, lanyard.Errorf(lanyard.ENotFound, "no API route %s %s", r.Method, r.URL.Path))
	})
	s.mux.Handle("/scim/v2/", s.metrics.wrap("/scim/v2", s.scimHandler()))
	s.mountUI()
	return s
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.strictTransport(stripForwarding(s.mux)) }

// Routes lists "METHOD PATH" for every API route (for tests and docs).
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.method + " " + rt.path
	}
	return out
}

// authenticate resolves the caller from a bearer token or a session
// cookie. Cookie-authenticated unsafe requests must carry the session's
// CSRF token in X-CSRF-Token (synchronizer token pattern), because
// browsers attach cookies to cross-site requests.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (*lanyard.Principal, error) {
	remote := s.clientAddr(r)
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, lanyard.Errorf(lanyard.EUnauthenticated, "Authorization header must be \"Bearer <token>\"")
		}
		p, err := s.identity.AuthenticateToken(ctx, strings.TrimSpace(secret), remote)
		if err != nil {
			return nil, err
		}
		return s.withClientCertificates(p, r), nil
	}
	id := s.sessionCookieValue(r)
	if id == "" {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "log in or send an API token (Authorization: Bearer …)")
	}
	p, sess, err := s.identity.AuthenticateSession(ctx, id, remote)
	if err != nil {
		return nil, err
	}
	if !safeMethod(r.Method) && !auth.EqualCSRF(r.Header.Get(csrfHeader), sess.CSRFToken) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "missing or wrong %s header (CSRF protection)", csrfHeader)
	}
	return s.withClientCertificates(p, r), nil
}

// signInOrigin is the cross-origin check of the public sign-in routes
// (route.signIn): a browser marks a request from another site
// (Sec-Fetch-Site, W3C Fetch Metadata) or names its Origin (RFC 6454),
// which must then be this host. Clients that send neither (curl, the
// CLI) pass.
var signInOrigin = http.NewCrossOriginProtection()

// sameOriginSignIn refuses a sign-in a page of another site sent. Those
// routes have no session yet, so no CSRF token protects them; without
// this, another site could sign the visitor in with their card (its
// certificate is offered to any page's request) or complete their
// waiting login, or sign them in to an account of the attacker's (login
// CSRF). The password routes also want a JSON body, which a plain form
// cannot send, but a card sign-in has no body.
func sameOriginSignIn(r *http.Request) error {
	if err := signInOrigin.Check(r); err != nil {
		return lanyard.Errorf(lanyard.EForbidden, "a sign-in from another site is refused (%v): sign in on Lanyard's own login page", err)
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// handler wraps a route: authentication, role check, handler, errors.
func (s *Server) handler(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: w, r: r, s: s}
		if rt.signIn {
			if err := sameOriginSignIn(r); err != nil {
				writeError(w, r, s.log, err)
				return
			}
		}
		if !rt.public {
			p, err := s.routeAuthenticate(rt, r)
			if err != nil {
				writeError(w, r, s.log, err)
				return
			}
			if len(rt.roles) > 0 && !p.Has(rt.roles...) {
				writeError(w, r, s.log, lanyard.Errorf(lanyard.EForbidden, "this needs one of the roles: %s", rolesText(rt.roles)))
				return
			}
			c.p = p
		}
		var body []byte
		if rt.card && s.cluster != nil {
			var done bool
			if body, done = s.forwardCard(c); done {
				return
			}
		}
		out, err := rt.h(c)
		if err != nil && rt.card && s.cluster != nil {
			if s.forwardElsewhere(c, body, err) {
				return
			}
			agentMoved(w, err)
		}
		if err != nil {
			if c.p != nil && c.p.ClientCertificatesRefused != "" && lanyard.IsCode(err, lanyard.EStepUpFailed) {
				closeForFreshHandshake(w) // the step-up refused the connection's card for its age
			}
			writeError(w, r, s.log, err)
			return
		}
		if c.wrote {
			return
		}
		status := rt.status
		if c.status != 0 {
			status = c.status
		}
		if out == nil && status == http.StatusOK {
			status = http.StatusNoContent
		}
		writeJSON(w, status, out)
	})
}

func rolesText(rs []lanyard.Role) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, ", ")
}
