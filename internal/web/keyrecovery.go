package web

import (
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
)

// keyRecoveryRoutes let an owner list their archived keys and recover one
// as a password-protected PKCS #12 file (docs/lifecycle.md, "Key
// archival"). The file is answered once, never cached.
func (s *Server) keyRecoveryRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/me/archived-keys", summary: "The caller's archived keys, newest first; never the keys", tag: "pki",
			query: []param{{"template", "string", "only the archived keys of this template (default: every template)"}},
			out:   []apiv1.ArchivedKey{}, status: 200,
			h: func(c *call) (any, error) {
				return archivedKeys(s.archive.OwnKeys(c.r.Context(), c.p, c.r.URL.Query().Get("template")))
			}},
		{method: "GET", path: v1 + "/users/{login}/archived-keys", summary: "A user's archived keys, newest first, to pick one whose recovery to request; never the keys", tag: "pki", roles: oversightRoles,
			out: []apiv1.ArchivedKey{}, status: 200,
			h: func(c *call) (any, error) {
				return archivedKeys(s.archive.UserKeys(c.r.Context(), c.p, c.r.PathValue("login")))
			}},
		{method: "POST", path: v1 + "/me/archived-keys/{id}/recover", summary: "Recover one of the caller's active archived keys as a PKCS #12 file (key, certificate, CA chain) encrypted with the password given; needs the caller's account password and a current authenticator code. Answered once, not cached", tag: "pki",
			in: &apiv1.KeyRecoverInput{}, produces: "application/x-pkcs12", status: 200,
			h: p12Handler(func(c *call, id int64, in archive.RecoverInput) (*archive.Recovered, error) {
				in.KeyID = id
				return s.archive.RecoverOwn(c.r.Context(), c.p, in)
			})},
		{method: "GET", path: v1 + "/key-recoveries", summary: "Requests to recover someone else's archived key, newest first", tag: "pki", roles: oversightRoles,
			query: []param{{"state", "string", "pending, approved, rejected or downloaded (default: all)"}},
			out:   []apiv1.KeyRecoveryRequest{}, status: 200,
			h: func(c *call) (any, error) {
				rs, err := s.archive.RecoveryRequests(c.r.Context(), c.p, lanyard.KeyRecoveryState(c.r.URL.Query().Get("state")))
				if err != nil {
					return nil, err
				}
				return s.keyRecoveries(c, rs)
			}},
		{method: "POST", path: v1 + "/key-recoveries", summary: "Request the recovery of another user's archived key, with a reason; an administrator who is neither the requester nor the owner decides it", tag: "pki", roles: staffRoles,
			in: &apiv1.KeyRecoveryRequestInput{}, out: &apiv1.KeyRecoveryRequest{}, status: 201,
			h: func(c *call) (any, error) {
				var in apiv1.KeyRecoveryRequestInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.keyRecoveryOut(c)(s.archive.RequestRecovery(c.r.Context(), c.p, in.ArchivedKeyID, in.Reason))
			}},
		s.decideRoute("approve", true),
		s.decideRoute("reject", false),
		{method: "POST", path: v1 + "/key-recoveries/{id}/download", summary: "The requester downloads an approved recovery once as a PKCS #12 file encrypted with the password given; needs their account password and a current authenticator code. Not cached", tag: "pki", roles: staffRoles,
			in: &apiv1.KeyRecoverInput{}, produces: "application/x-pkcs12", status: 200,
			h: p12Handler(func(c *call, id int64, in archive.RecoverInput) (*archive.Recovered, error) {
				return s.archive.DownloadRecovery(c.r.Context(), c.p, id, in)
			})},
	}
}

// Who may see and make key recovery requests (the service checks again).
var (
	oversightRoles = []lanyard.Role{lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor}
	staffRoles     = []lanyard.Role{lanyard.RoleOperator, lanyard.RoleAdministrator}
)

// decideRoute approves or rejects a key recovery request.
func (s *Server) decideRoute(verb string, approve bool) *route {
	return &route{method: "POST", path: "/api/v1/key-recoveries/{id}/" + verb, summary: "An administrator who neither requested it nor owns the key " + verb + "s a pending key recovery request", tag: "pki", roles: admins,
		in: &apiv1.KeyRecoveryDecision{}, out: &apiv1.KeyRecoveryRequest{}, status: 200,
		h: func(c *call) (any, error) {
			id, err := c.pathInt("id")
			if err != nil {
				return nil, err
			}
			var in apiv1.KeyRecoveryDecision
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			return s.keyRecoveryOut(c)(s.archive.DecideRecovery(c.r.Context(), c.p, id, approve, in.Comment))
		}}
}

// p12Handler reads the path's id and the passwords, runs open and
// sends the PKCS #12 file as an attachment that is never cached.
func p12Handler(open func(c *call, id int64, in archive.RecoverInput) (*archive.Recovered, error)) func(c *call) (any, error) {
	return func(c *call) (any, error) {
		id, err := c.pathInt("id")
		if err != nil {
			return nil, err
		}
		var in apiv1.KeyRecoverInput
		if err := c.decode(&in); err != nil {
			return nil, err
		}
		rec, err := open(c, id, archive.RecoverInput{Password: in.Password, AccountPassword: in.AccountPassword, Code: in.Code})
		if err != nil {
			return nil, err
		}
		c.download("application/x-pkcs12", rec.Key.Template+"-"+strconv.FormatInt(rec.Key.ID, 10)+".p12", rec.PFX)
		return nil, nil
	}
}

// keyRecoveryOut answers one request, with the logins of the people it names.
func (s *Server) keyRecoveryOut(c *call) func(r *lanyard.KeyRecoveryRequest, err error) (any, error) {
	return func(r *lanyard.KeyRecoveryRequest, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		out, err := s.keyRecoveries(c, []*lanyard.KeyRecoveryRequest{r})
		if err != nil {
			return nil, err
		}
		return &out[0], nil
	}
}

// keyRecoveries converts requests for the wire, naming the owner, the
// requester and the decider by login as well as by ID.
func (s *Server) keyRecoveries(c *call, rs []*lanyard.KeyRecoveryRequest) ([]apiv1.KeyRecoveryRequest, error) {
	ids := make([]int64, 0, 3*len(rs))
	for _, r := range rs {
		ids = append(ids, r.OwnerID, r.RequestedBy, r.DecidedBy)
	}
	logins, err := s.archive.Logins(c.r.Context(), ids)
	if err != nil {
		return nil, err
	}
	out := make([]apiv1.KeyRecoveryRequest, len(rs))
	for i, r := range rs {
		out[i] = apiv1.KeyRecoveryRequest{ID: r.ID, ArchivedKeyID: r.ArchivedKeyID, OwnerID: r.OwnerID, RequestedBy: r.RequestedBy, Reason: r.Reason,
			State: string(r.State), DecidedBy: r.DecidedBy, Comment: r.Comment, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			Owner: logins[r.OwnerID], Requester: logins[r.RequestedBy], Decider: logins[r.DecidedBy]}
	}
	return out, nil
}

func archivedKeys(ks []*lanyard.ArchivedKey, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	out := make([]apiv1.ArchivedKey, len(ks))
	for i, k := range ks {
		out[i] = archivedKey(k)
	}
	return out, nil
}

func archivedKey(k *lanyard.ArchivedKey) apiv1.ArchivedKey {
	return apiv1.ArchivedKey{ID: k.ID, CardID: k.CardID, Template: k.Template, KeyAlgorithm: string(k.Algorithm),
		CertificateSerial: k.CertificateSerial, State: string(k.State), CreatedAt: k.CreatedAt}
}
