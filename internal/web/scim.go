package web

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/scim"
	"github.com/lanyard-cms/lanyard/internal/service/provisioning"
)

// Provisioning is the SCIM 2.0 capability (internal/service/provisioning):
// the resources behind /scim/v2/ and the SCIM tokens administrators
// manage under /api/v1/scim/tokens.
type Provisioning interface {
	Authenticate(ctx context.Context, secret, remote string) (*lanyard.Principal, error)
	BaseURL() string
	CreateUser(ctx context.Context, p *lanyard.Principal, in *scim.User) (*scim.User, error)
	GetUser(ctx context.Context, p *lanyard.Principal, id string) (*scim.User, error)
	ListUsers(ctx context.Context, p *lanyard.Principal, filter string, startIndex, count int) (*scim.ListResponse, error)
	ReplaceUser(ctx context.Context, p *lanyard.Principal, id string, in *scim.User) (*scim.User, error)
	PatchUser(ctx context.Context, p *lanyard.Principal, id string, ops []scim.PatchOp) (*scim.User, error)
	DeleteUser(ctx context.Context, p *lanyard.Principal, id string) error
	CreateGroup(ctx context.Context, p *lanyard.Principal, in *scim.Group) (*scim.Group, error)
	GetGroup(ctx context.Context, p *lanyard.Principal, id string, members bool) (*scim.Group, error)
	ListGroups(ctx context.Context, p *lanyard.Principal, filter string, startIndex, count int, members bool) (*scim.ListResponse, error)
	ReplaceGroup(ctx context.Context, p *lanyard.Principal, id string, in *scim.Group) (*scim.Group, error)
	PatchGroup(ctx context.Context, p *lanyard.Principal, id string, ops []scim.PatchOp) (*scim.Group, error)
	DeleteGroup(ctx context.Context, p *lanyard.Principal, id string) error
	CreateToken(ctx context.Context, p *lanyard.Principal, name string) (*provisioning.NewToken, error)
	ListTokens(ctx context.Context, p *lanyard.Principal) ([]*lanyard.SCIMToken, error)
	RevokeToken(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.SCIMToken, error)
}

// scimRoutes are the administrators' SCIM token routes of the API.
func (s *Server) scimRoutes() []*route {
	v1 := "/api/v1/scim/tokens"
	return []*route{
		{method: "GET", path: v1, summary: "List SCIM tokens (administrators)", tag: "scim", roles: admins, out: []*lanyard.SCIMToken{}, status: 200,
			h: func(c *call) (any, error) {
				if s.prov == nil {
					return nil, errNoSCIM
				}
				return s.prov.ListTokens(c.r.Context(), c.p)
			}},
		{method: "POST", path: v1, summary: "Create a SCIM token for a provisioning client such as Entra ID or Okta (the secret is shown once); it opens /scim/v2/ and nothing else", tag: "scim", roles: admins,
			in: apiv1.SCIMTokenInput{}, out: &apiv1.NewSCIMToken{}, status: 201,
			h: func(c *call) (any, error) {
				if s.prov == nil {
					return nil, errNoSCIM
				}
				var in apiv1.SCIMTokenInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				nt, err := s.prov.CreateToken(c.r.Context(), c.p, in.Name)
				if err != nil {
					return nil, err
				}
				return &apiv1.NewSCIMToken{Secret: nt.Secret, Token: nt.Token, Endpoint: s.prov.BaseURL()}, nil
			}},
		{method: "DELETE", path: v1 + "/{id}", summary: "Revoke a SCIM token (administrators)", tag: "scim", roles: admins, out: &lanyard.SCIMToken{}, status: 200,
			h: func(c *call) (any, error) {
				if s.prov == nil {
					return nil, errNoSCIM
				}
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				return s.prov.RevokeToken(c.r.Context(), c.p, id)
			}},
	}
}

var errNoSCIM = lanyard.Errorf(lanyard.EUnavailable, "SCIM provisioning is not available on this server")

// scimMediaType is SCIM's media type (RFC 7644 section 8.1); clients
// may also send and accept application/json.
const scimMediaType = "application/scim+json"

// scimHandler serves /scim/v2/ (RFC 7644): its own small router, since
// SCIM has its own discovery documents, media type and error format and
// is not part of the OpenAPI document. Only a SCIM token authenticates
// here; API tokens and browser sessions do not.
func (s *Server) scimHandler() http.Handler {
	mux := http.NewServeMux()
	base := "/scim/v2"
	type h func(r *http.Request, p *lanyard.Principal) (int, any, error)
	handle := func(pattern string, fn h) {
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.prov == nil {
				s.scimError(w, r, errNoSCIM)
				return
			}
			p, err := s.scimAuthenticate(r)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
				s.scimError(w, r, err)
				return
			}
			status, out, err := fn(r, p)
			if err != nil {
				s.scimError(w, r, err)
				return
			}
			writeSCIM(w, status, out)
		}))
	}
	handle("GET "+base+"/ServiceProviderConfig", func(*http.Request, *lanyard.Principal) (int, any, error) {
		return 200, scim.ServiceProviderConfig(s.prov.BaseURL()), nil
	})
	handle("GET "+base+"/ResourceTypes", func(*http.Request, *lanyard.Principal) (int, any, error) {
		return 200, scim.NewListResponse([]any{scim.ResourceTypeJSON(scim.Users, s.prov.BaseURL()), scim.ResourceTypeJSON(scim.Groups, s.prov.BaseURL())}, 1, 10), nil
	})
	handle("GET "+base+"/ResourceTypes/{name}", func(r *http.Request, _ *lanyard.Principal) (int, any, error) {
		for _, rt := range []*scim.ResourceType{scim.Users, scim.Groups} {
			if rt.Name == r.PathValue("name") {
				return 200, scim.ResourceTypeJSON(rt, s.prov.BaseURL()), nil
			}
		}
		return 0, nil, scim.NotFound("ResourceType", r.PathValue("name"))
	})
	handle("GET "+base+"/Schemas", func(*http.Request, *lanyard.Principal) (int, any, error) {
		var all []any
		for _, sc := range scim.AllSchemas() {
			all = append(all, scim.SchemaJSON(sc, s.prov.BaseURL()))
		}
		return 200, scim.NewListResponse(all, 1, len(all)), nil
	})
	handle("GET "+base+"/Schemas/{id}", func(r *http.Request, _ *lanyard.Principal) (int, any, error) {
		for _, sc := range scim.AllSchemas() {
			if sc.ID == r.PathValue("id") {
				return 200, scim.SchemaJSON(sc, s.prov.BaseURL()), nil
			}
		}
		return 0, nil, scim.NotFound("Schema", r.PathValue("id"))
	})

	handle("POST "+base+"/Users", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		var in scim.User
		if err := readResource(r, scim.Users, &in); err != nil {
			return 0, nil, err
		}
		out, err := s.prov.CreateUser(r.Context(), p, &in)
		return http.StatusCreated, out, err
	})
	handle("GET "+base+"/Users", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		start, count, err := listParams(r)
		if err != nil {
			return 0, nil, err
		}
		out, err := s.prov.ListUsers(r.Context(), p, r.URL.Query().Get("filter"), start, count)
		return 200, out, err
	})
	handle("GET "+base+"/Users/{id}", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		out, err := s.prov.GetUser(r.Context(), p, r.PathValue("id"))
		return 200, out, err
	})
	handle("PUT "+base+"/Users/{id}", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		var in scim.User
		if err := readResource(r, scim.Users, &in); err != nil {
			return 0, nil, err
		}
		out, err := s.prov.ReplaceUser(r.Context(), p, r.PathValue("id"), &in)
		return 200, out, err
	})
	handle("PATCH "+base+"/Users/{id}", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		ops, err := readPatch(r)
		if err != nil {
			return 0, nil, err
		}
		out, err := s.prov.PatchUser(r.Context(), p, r.PathValue("id"), ops)
		return 200, out, err
	})
	handle("DELETE "+base+"/Users/{id}", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		return http.StatusNoContent, nil, s.prov.DeleteUser(r.Context(), p, r.PathValue("id"))
	})

	handle("POST "+base+"/Groups", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		var in scim.Group
		if err := readResource(r, scim.Groups, &in); err != nil {
			return 0, nil, err
		}
		out, err := s.prov.CreateGroup(r.Context(), p, &in)
		return http.StatusCreated, out, err
	})
	handle("GET "+base+"/Groups", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		start, count, err := listParams(r)
		if err != nil {
			return 0, nil, err
		}
		out, err := s.prov.ListGroups(r.Context(), p, r.URL.Query().Get("filter"), start, count, wantMembers(r))
		return 200, out, err
	})
	handle("GET "+base+"/Groups/{id}", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		out, err := s.prov.GetGroup(r.Context(), p, r.PathValue("id"), wantMembers(r))
		return 200, out, err
	})
	handle("PUT "+base+"/Groups/{id}", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		var in scim.Group
		if err := readResource(r, scim.Groups, &in); err != nil {
			return 0, nil, err
		}
		out, err := s.prov.ReplaceGroup(r.Context(), p, r.PathValue("id"), &in)
		return 200, out, err
	})
	handle("PATCH "+base+"/Groups/{id}", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		ops, err := readPatch(r)
		if err != nil {
			return 0, nil, err
		}
		out, err := s.prov.PatchGroup(r.Context(), p, r.PathValue("id"), ops)
		// Entra ID accepts 204 too, but the resource lets others check.
		return 200, out, err
	})
	handle("DELETE "+base+"/Groups/{id}", func(r *http.Request, p *lanyard.Principal) (int, any, error) {
		return http.StatusNoContent, nil, s.prov.DeleteGroup(r.Context(), p, r.PathValue("id"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.scimError(w, r, &scim.Error{Status: http.StatusNotFound, Detail: "no SCIM endpoint " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// scimAuthenticate takes only a SCIM token (Authorization: Bearer).
func (s *Server) scimAuthenticate(r *http.Request) (*lanyard.Principal, error) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "send a SCIM token: Authorization: Bearer <token>")
	}
	return s.prov.Authenticate(r.Context(), strings.TrimSpace(secret), s.clientAddr(r))
}

// readResource reads a POST or PUT body: SCIM or plain JSON, one object
// (invalidSyntax otherwise), normalized to the resource type (unknown
// attributes ignored, RFC 7644 section 3.3).
func readResource(r *http.Request, rt *scim.ResourceType, out any) error {
	if err := scimContentType(r); err != nil {
		return err
	}
	m, err := scim.ReadJSON(r.Body)
	if err != nil {
		return err
	}
	return rt.Decode(m, out)
}

func readPatch(r *http.Request) ([]scim.PatchOp, error) {
	if err := scimContentType(r); err != nil {
		return nil, err
	}
	m, err := scim.ReadJSON(r.Body)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(m)
	var req scim.PatchRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, scim.Errorf(scim.TypeInvalidSyntax, "not a PatchOp request (RFC 7644 section 3.5.2)")
	}
	return req.Operations, nil
}

func scimContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != scimMediaType && mt != "application/json" {
		return &scim.Error{Status: http.StatusUnsupportedMediaType, Detail: "send the body as " + scimMediaType}
	}
	return nil
}

// listParams reads startIndex and count (RFC 7644 section 3.4.2.4):
// count defaults to 100.
func listParams(r *http.Request) (start, count int, err error) {
	q := r.URL.Query()
	start, count = 1, 100
	for name, dst := range map[string]*int{"startIndex": &start, "count": &count} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, 0, scim.Errorf(scim.TypeInvalidValue, "%s=%q is not an integer", name, v)
			}
			*dst = n
		}
	}
	return start, count, nil
}

// wantMembers is false when the client asked to leave members out
// (excludedAttributes=members) or asked for attributes without them.
func wantMembers(r *http.Request) bool {
	q := r.URL.Query()
	has := func(list string) bool {
		for _, a := range strings.Split(list, ",") {
			if strings.EqualFold(strings.TrimSpace(a), "members") {
				return true
			}
		}
		return false
	}
	if has(q.Get("excludedAttributes")) {
		return false
	}
	if a := q.Get("attributes"); a != "" {
		return has(a)
	}
	return true
}

func writeSCIM(w http.ResponseWriter, status int, v any) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", scimMediaType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// scimError answers with a SCIM error (RFC 7644 section 3.12): protocol
// errors as they are, lanyard.Error codes by their status (a conflict
// the service did not call uniqueness carries no scimType); internals
// are logged, never shown.
func (s *Server) scimError(w http.ResponseWriter, r *http.Request, err error) {
	var se *scim.Error
	if !errors.As(err, &se) {
		se = &scim.Error{Status: http.StatusInternalServerError, Detail: "internal error"}
		var le *lanyard.Error
		if errors.As(err, &le) {
			se.Detail = le.Message
			switch le.Code {
			case lanyard.EInvalid:
				se.Status, se.Type = http.StatusBadRequest, scim.TypeInvalidValue
			case lanyard.ENotFound:
				se.Status = http.StatusNotFound
			case lanyard.EConflict:
				se.Status = http.StatusConflict
			case lanyard.EUnauthenticated:
				se.Status = http.StatusUnauthorized
			case lanyard.EForbidden:
				se.Status = http.StatusForbidden
			case lanyard.EUnavailable:
				se.Status = http.StatusServiceUnavailable
			default:
				se.Detail = "internal error"
			}
		}
	}
	if se.Status >= 500 {
		s.log.Error("SCIM request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeSCIM(w, se.Status, se)
}
