package web

import (
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/audit"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
)

// Role sets used by the route table.
var (
	anyone    []lanyard.Role // any authenticated caller
	admins    = []lanyard.Role{lanyard.RoleAdministrator}
	staff     = []lanyard.Role{lanyard.RoleOperator, lanyard.RoleAdministrator}
	readers   = []lanyard.Role{lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor, lanyard.RoleCAManager, lanyard.RoleDocumentOfficer}
	caManager = []lanyard.Role{lanyard.RoleCAManager}
	caReaders = []lanyard.Role{lanyard.RoleCAManager, lanyard.RoleAdministrator, lanyard.RoleAuditor}
	auditors  = []lanyard.Role{lanyard.RoleAuditor, lanyard.RoleAdministrator}
)

func (s *Server) apiRoutes() []*route {
	v1 := "/api/v1"
	return append([]*route{
		// Operations.
		{method: "GET", path: "/healthz", summary: "Liveness: the process serves HTTP", tag: "operations", public: true, out: apiv1.Health{}, status: 200,
			h: func(c *call) (any, error) { return apiv1.Health{Status: "ok"}, nil }},
		{method: "GET", path: "/readyz", summary: "Readiness: the database answers", tag: "operations", public: true, out: apiv1.Health{}, status: 200, h: s.ready},
		{method: "GET", path: "/metrics", summary: "Prometheus metrics", tag: "operations", public: true, produces: "text/plain", status: 200, h: s.serveMetrics},
		{method: "GET", path: v1 + "/openapi.json", summary: "This OpenAPI document", tag: "operations", public: true, produces: "application/json", status: 200,
			h: func(c *call) (any, error) { c.raw("application/json", s.openapi); return nil, nil }},

		// Sessions.
		{method: "POST", path: v1 + "/session", summary: "Log in with a password (browser session); 202 with LoginPending when a second factor is due (staff, and users with an authenticator app)", tag: "sessions", public: true, signIn: true, in: apiv1.LoginInput{}, out: apiv1.SessionInfo{}, status: 201, h: s.login},
		{method: "POST", path: v1 + "/session/second-factor", summary: "The login's second step: a code from the authenticator app (for an enrollment: its first code, which confirms it); needs the login cookie of POST /session", tag: "sessions", public: true, signIn: true, in: apiv1.TOTPCode{}, out: apiv1.SessionInfo{}, status: 201, h: s.loginSecondFactor},
		{method: "GET", path: v1 + "/session/second-factor/qr.png", summary: "The QR code of the authenticator app a login enrolls (login cookie of POST /session)", tag: "sessions", public: true, produces: "image/png", status: 200, h: s.loginQR},
		{method: "GET", path: v1 + "/session", summary: "Who am I", tag: "sessions", roles: anyone, out: apiv1.SessionInfo{}, status: 200, h: s.whoami},
		{method: "DELETE", path: v1 + "/session", summary: "Log out", tag: "sessions", roles: anyone, status: 204, h: s.logout},

		// Users.
		{method: "GET", path: v1 + "/users", summary: "List users", tag: "users", roles: readers, out: []*lanyard.User{}, status: 200,
			query: []param{{"q", "string", "substring of login, name or e-mail"}, {"group", "string", "group name"}, {"role", "string", "role"}, {"limit", "integer", "at most this many (max 1000)"}, {"offset", "integer", "skip this many"}}, h: s.listUsers},
		{method: "POST", path: v1 + "/users", summary: "Create a user", tag: "users", roles: staff, in: apiv1.UserInput{}, out: &lanyard.User{}, status: 201,
			h: func(c *call) (any, error) {
				var in apiv1.UserInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.identity.CreateUser(c.r.Context(), c.p, identity.UserInput(in))
			}},
		{method: "GET", path: v1 + "/users/{login}", summary: "Get a user", tag: "users", roles: anyone, out: &lanyard.User{}, status: 200,
			h: func(c *call) (any, error) { return s.identity.GetUser(c.r.Context(), c.p, c.r.PathValue("login")) }},
		{method: "PATCH", path: v1 + "/users/{login}", summary: "Change a user's attributes, roles, state or password (operators: plain users only; roles beyond user and staff accounts: administrators; never one's own roles)", tag: "users", roles: staff, in: apiv1.UserInput{}, out: &lanyard.User{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.UserInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				if in.Login != "" && in.Login != c.r.PathValue("login") {
					return nil, lanyard.Errorf(lanyard.EInvalid, "a login cannot be changed")
				}
				return s.identity.UpdateUser(c.r.Context(), c.p, c.r.PathValue("login"), identity.UserInput(in))
			}},
		{method: "GET", path: v1 + "/users/{login}/policy", summary: "The policy in effect for a user", tag: "policies", roles: anyone, out: &lanyard.Policy{}, status: 200,
			h: func(c *call) (any, error) {
				return s.catalog.EffectivePolicy(c.r.Context(), c.p, c.r.PathValue("login"))
			}},

		// Tokens.
		{method: "GET", path: v1 + "/tokens", summary: "List API tokens (own; all=true for administrators)", tag: "tokens", roles: anyone, out: []*lanyard.APIToken{}, status: 200,
			query: []param{{"all", "boolean", "every user's tokens (administrators)"}},
			h: func(c *call) (any, error) {
				return s.identity.ListTokens(c.r.Context(), c.p, c.r.URL.Query().Get("all") == "true")
			}},
		{method: "GET", path: v1 + "/settings/tokens", summary: "The token policy: the longest lifetime a new API token may have", tag: "tokens", roles: anyone, out: &apiv1.TokenSettings{}, status: 200,
			h: func(c *call) (any, error) { return tokenSettings(s.identity.TokenSettings(c.r.Context())) }},
		{method: "PUT", path: v1 + "/settings/tokens", summary: "Set the token policy (administrators); existing tokens keep their expiry", tag: "tokens", roles: admins, in: apiv1.TokenSettings{}, out: &apiv1.TokenSettings{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.TokenSettings
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return tokenSettings(s.identity.PutTokenSettings(c.r.Context(), c.p, identity.TokenSettings(in)))
			}},
		{method: "POST", path: v1 + "/tokens", summary: "Create an API token (the secret is shown once); from a browser session it needs \"code\" from the authenticator app unless the session's second factor is under 5 minutes old; the lifetime is capped by the token policy", tag: "tokens", roles: anyone, in: apiv1.TokenInput{}, out: &apiv1.NewToken{}, status: 201,
			h: func(c *call) (any, error) {
				var in apiv1.TokenInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				nt, err := s.identity.CreateToken(c.r.Context(), c.p, identity.TokenInput(in))
				return (*apiv1.NewToken)(nt), err
			}},
		{method: "DELETE", path: v1 + "/tokens/{id}", summary: "Revoke an API token", tag: "tokens", roles: anyone, status: 204,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				return nil, s.identity.RevokeToken(c.r.Context(), c.p, id)
			}},

		// Card types.
		{method: "GET", path: v1 + "/card-types", summary: "List card types", tag: "card types", roles: anyone, out: []*lanyard.CardType{}, status: 200,
			h: func(c *call) (any, error) { return s.catalog.ListCardTypes(c.r.Context()) }},
		{method: "POST", path: v1 + "/card-types", summary: "Create a card type", tag: "card types", roles: admins, in: apiv1.CardTypeInput{}, out: &lanyard.CardType{}, status: 201,
			h: func(c *call) (any, error) {
				var in apiv1.CardTypeInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.catalog.CreateCardType(c.r.Context(), c.p, catalog.CardTypeInput(in))
			}},
		{method: "GET", path: v1 + "/card-types/{name}", summary: "Get a card type", tag: "card types", roles: anyone, out: &lanyard.CardType{}, status: 200,
			h: func(c *call) (any, error) { return s.catalog.GetCardType(c.r.Context(), c.r.PathValue("name")) }},
		{method: "PUT", path: v1 + "/card-types/{name}", summary: "Replace a card type (secrets not given are kept)", tag: "card types", roles: admins, in: apiv1.CardTypeInput{}, out: &lanyard.CardType{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.CardTypeInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.catalog.UpdateCardType(c.r.Context(), c.p, c.r.PathValue("name"), catalog.CardTypeInput(in))
			}},
		{method: "DELETE", path: v1 + "/card-types/{name}", summary: "Delete a card type", tag: "card types", roles: admins, status: 204,
			h: func(c *call) (any, error) {
				return nil, s.catalog.DeleteCardType(c.r.Context(), c.p, c.r.PathValue("name"))
			}},

		// Templates.
		{method: "GET", path: v1 + "/templates", summary: "List certificate templates", tag: "templates", roles: anyone, out: []*lanyard.Template{}, status: 200,
			h: func(c *call) (any, error) { return s.catalog.ListTemplates(c.r.Context()) }},
		{method: "POST", path: v1 + "/templates", summary: "Create a certificate template", tag: "templates", roles: admins, in: lanyard.Template{}, out: &lanyard.Template{}, status: 201,
			h: func(c *call) (any, error) {
				var in lanyard.Template
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.catalog.CreateTemplate(c.r.Context(), c.p, in)
			}},
		{method: "GET", path: v1 + "/templates/{name}", summary: "Get a certificate template", tag: "templates", roles: anyone, out: &lanyard.Template{}, status: 200,
			h: func(c *call) (any, error) { return s.catalog.GetTemplate(c.r.Context(), c.r.PathValue("name")) }},
		{method: "PUT", path: v1 + "/templates/{name}", summary: "Replace a certificate template", tag: "templates", roles: admins, in: lanyard.Template{}, out: &lanyard.Template{}, status: 200,
			h: func(c *call) (any, error) {
				var in lanyard.Template
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.catalog.UpdateTemplate(c.r.Context(), c.p, c.r.PathValue("name"), in)
			}},
		{method: "DELETE", path: v1 + "/templates/{name}", summary: "Delete a certificate template", tag: "templates", roles: admins, status: 204,
			h: func(c *call) (any, error) {
				return nil, s.catalog.DeleteTemplate(c.r.Context(), c.p, c.r.PathValue("name"))
			}},

		// Policies.
		{method: "GET", path: v1 + "/policies", summary: "List policies", tag: "policies", roles: readers, out: []*lanyard.Policy{}, status: 200,
			h: func(c *call) (any, error) { return s.catalog.ListPolicies(c.r.Context()) }},
		{method: "POST", path: v1 + "/policies", summary: "Create a policy (settings left out take their defaults)", tag: "policies", roles: admins, in: lanyard.Policy{}, out: &lanyard.Policy{}, status: 201,
			h: func(c *call) (any, error) {
				in := apiv1.NewPolicyInput()
				if err := c.decode(in); err != nil {
					return nil, err
				}
				return s.catalog.CreatePolicy(c.r.Context(), c.p, in)
			}},
		{method: "GET", path: v1 + "/policies/{name}", summary: "Get a policy", tag: "policies", roles: readers, out: &lanyard.Policy{}, status: 200,
			h: func(c *call) (any, error) { return s.catalog.GetPolicy(c.r.Context(), c.r.PathValue("name")) }},
		{method: "PUT", path: v1 + "/policies/{name}", summary: "Replace a policy (settings left out take their defaults)", tag: "policies", roles: admins, in: lanyard.Policy{}, out: &lanyard.Policy{}, status: 200,
			h: func(c *call) (any, error) {
				in := apiv1.NewPolicyInput()
				if err := c.decode(in); err != nil {
					return nil, err
				}
				return s.catalog.UpdatePolicy(c.r.Context(), c.p, c.r.PathValue("name"), in)
			}},
		{method: "DELETE", path: v1 + "/policies/{name}", summary: "Delete a policy", tag: "policies", roles: admins, status: 204,
			h: func(c *call) (any, error) {
				return nil, s.catalog.DeletePolicy(c.r.Context(), c.p, c.r.PathValue("name"))
			}},

		// CA.
		{method: "GET", path: v1 + "/cas", summary: "List CAs with their chains and URLs", tag: "ca", roles: anyone, out: []*apiv1.CAInfo{}, status: 200,
			h: func(c *call) (any, error) { return caInfos(s.pki.ListCAs(c.r.Context())) }},
		{method: "GET", path: v1 + "/cas/{name}", summary: "Get a CA with its chain", tag: "ca", roles: anyone, out: &apiv1.CAInfo{}, status: 200,
			h: func(c *call) (any, error) { return caInfo(s.pki.GetCA(c.r.Context(), c.r.PathValue("name"))) }},
		{method: "POST", path: v1 + "/certificates", summary: "Issue a certificate from a CSR or a public key (202 with a request when the template needs CA approval)", tag: "ca", roles: anyone, in: apiv1.IssueInput{}, out: &apiv1.IssueResult{}, status: 201, h: s.issue},
		{method: "GET", path: v1 + "/certificates", summary: "List certificates (users see their own)", tag: "ca", roles: anyone, out: []*lanyard.Certificate{}, status: 200,
			query: []param{{"ca", "string", "CA name"}, {"user", "string", "owner login"}, {"status", "string", "certificate status"}, {"limit", "integer", "at most this many (max 1000)"}, {"offset", "integer", "skip this many"}}, h: s.listCertificates},
		{method: "GET", path: v1 + "/certificates/{serial}", summary: "Get a certificate by serial (hex)", tag: "ca", roles: anyone, out: &apiv1.IssueResult{}, status: 200,
			query: []param{{"ca", "string", "CA name (default: the first CA)"}},
			h: func(c *call) (any, error) {
				cert, pemText, err := s.pki.GetCertificate(c.r.Context(), c.p, c.r.URL.Query().Get("ca"), c.r.PathValue("serial"))
				if err != nil {
					return nil, err
				}
				return &apiv1.IssueResult{Certificate: cert, PEM: pemText}, nil
			}},
		{method: "POST", path: v1 + "/certificates/{serial}/revoke", summary: "Revoke a certificate (RFC 5280 reason)", tag: "ca", roles: anyone, in: apiv1.RevokeInput{}, out: &lanyard.Certificate{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.RevokeInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				reason := lanyard.ReasonUnspecified
				if in.Reason != "" {
					var err error
					if reason, err = lanyard.ParseRevocationReason(in.Reason); err != nil {
						return nil, err
					}
				}
				return s.pki.Revoke(c.r.Context(), c.p, in.CA, c.r.PathValue("serial"), reason)
			}},
		{method: "GET", path: v1 + "/requests", summary: "List certificate requests (the CA's approval queue)", tag: "ca", roles: caReaders, out: []*apiv1.RequestView{}, status: 200,
			query: []param{{"status", "string", "pending, issued or rejected"}},
			h:     s.listRequests},
		{method: "POST", path: v1 + "/requests/{id}/approve", summary: "Approve a pending request: the certificate is issued", tag: "ca", roles: caManager, in: apiv1.Decision{}, out: &apiv1.IssueResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decision(c)
				if err != nil {
					return nil, err
				}
				return issueResult(s.pki.ApproveRequest(c.r.Context(), c.p, id, in.Comment))
			}},
		{method: "POST", path: v1 + "/requests/{id}/reject", summary: "Reject a pending request", tag: "ca", roles: caManager, in: apiv1.Decision{}, out: &lanyard.CertRequest{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decision(c)
				if err != nil {
					return nil, err
				}
				return s.pki.RejectRequest(c.r.Context(), c.p, id, in.Comment)
			}},

		// Audit.
		{method: "GET", path: v1 + "/audit", summary: "Read the audit log", tag: "audit", roles: auditors, out: []*lanyard.AuditEvent{}, status: 200,
			query: []param{{"after", "integer", "events after this sequence number"}, {"action", "string", "e.g. cert.issue"}, {"object_type", "string", "e.g. user"}, {"object_id", "string", "object identifier"}, {"actor", "string", "login"}, {"limit", "integer", "at most this many (max 1000)"}},
			h:     s.listAudit},
		{method: "GET", path: v1 + "/audit/verify", summary: "Verify the audit hash chain", tag: "audit", roles: auditors, out: audit.Report{}, status: 200,
			h: func(c *call) (any, error) { return s.audit.VerifyAudit(c.r.Context()) }},

		// PKI endpoints for relying parties (RFC 5280 CRL DP and AIA, RFC 6960 OCSP).
		{method: "GET", path: "/crl/{file}", summary: "The CA's CRL (DER); {file} is NAME.crl", tag: "pki", public: true, produces: "application/pkix-crl", status: 200, h: s.serveCRL},
		{method: "GET", path: "/ca/{file}", summary: "The issuing CA certificate (DER); {file} is NAME.crt", tag: "pki", public: true, produces: "application/pkix-cert", status: 200, h: s.serveCACert},
		{method: "POST", path: "/ocsp", summary: "OCSP over POST (RFC 6960 A.1)", tag: "pki", public: true, consumes: "application/ocsp-request", produces: "application/ocsp-response", status: 200, h: s.ocspPost},
		{method: "GET", path: "/ocsp/{request...}", summary: "OCSP over GET (RFC 6960 A.1, base64 request in the path)", tag: "pki", public: true, produces: "application/ocsp-response", status: 200, h: s.ocspGet},
	}, s.workstationRoutes(v1)...)
}

func decision(c *call) (int64, apiv1.Decision, error) {
	var in apiv1.Decision
	id, err := c.pathInt("id")
	if err != nil {
		return 0, in, err
	}
	if c.r.ContentLength != 0 {
		if err := c.decode(&in); err != nil {
			return 0, in, err
		}
	}
	if len(in.Comment) > 2000 {
		return 0, in, lanyard.Errorf(lanyard.EInvalid, "comment is limited to 2000 characters")
	}
	return id, in, nil
}

func (s *Server) ready(c *call) (any, error) {
	st := s.db
	if err := st.Ping(c.r.Context()); err != nil {
		return nil, lanyard.Wrap(lanyard.EUnavailable, err, "database is not answering")
	}
	return apiv1.Health{Status: "ready", Engine: st.Engine()}, nil
}

func (s *Server) issue(c *call) (any, error) {
	var in apiv1.IssueInput
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	res, err := issueResult(s.pki.Issue(c.r.Context(), c.p, pki.IssueInput(in)))
	if err != nil {
		return nil, err
	}
	if res.Certificate == nil {
		c.status = http.StatusAccepted
	} else {
		s.metrics.issued.Inc()
	}
	return res, nil
}

func (s *Server) listRequests(c *call) (any, error) {
	rs, err := s.pki.ListRequests(c.r.Context(), lanyard.RequestStatus(c.r.URL.Query().Get("status")))
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, 2*len(rs))
	for _, r := range rs {
		ids = append(ids, r.UserID, r.RequestedBy)
	}
	logins, err := s.identity.UserLogins(c.r.Context(), ids)
	if err != nil {
		return nil, err
	}
	pending := make([]int64, 0, len(rs))
	for _, r := range rs {
		if r.Status == lanyard.RequestPending {
			pending = append(pending, r.ID)
		}
	}
	forms, err := requestForms(s.documents.RequestForms(c.r.Context(), pending))
	if err != nil {
		return nil, err
	}
	out := make([]*apiv1.RequestView, len(rs))
	for i, r := range rs {
		out[i] = &apiv1.RequestView{CertRequest: r, User: logins[r.UserID], RequestedBy: logins[r.RequestedBy], SignedForm: forms[r.ID]}
	}
	return out, nil
}
