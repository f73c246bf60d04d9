package web

import (
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func (s *Server) listUsers(c *call) (any, error) {
	q := c.r.URL.Query()
	limit, offset, err := c.page()
	if err != nil {
		return nil, err
	}
	role := lanyard.Role(q.Get("role"))
	if role != "" && !role.Valid() {
		return nil, lanyard.Errorf(lanyard.EInvalid, "unknown role %q", role)
	}
	return s.identity.ListUsers(c.r.Context(), lanyard.UserFilter{Query: q.Get("q"), Group: q.Get("group"), Role: role, Limit: limit, Offset: offset})
}

func (s *Server) listCertificates(c *call) (any, error) {
	q := c.r.URL.Query()
	limit, offset, err := c.page()
	if err != nil {
		return nil, err
	}
	f := lanyard.CertFilter{CA: q.Get("ca"), Status: lanyard.CertStatus(q.Get("status")), Limit: limit, Offset: offset}
	if login := q.Get("user"); login != "" {
		u, err := s.identity.GetUser(c.r.Context(), c.p, login)
		if err != nil {
			return nil, err
		}
		f.UserID = u.ID
	}
	return s.pki.ListCertificates(c.r.Context(), c.p, f)
}

func (s *Server) listAudit(c *call) (any, error) {
	q := c.r.URL.Query()
	limit, err := c.queryInt("limit", 100)
	if err != nil {
		return nil, err
	}
	var after int64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "query parameter after=%q must be a non-negative integer", v)
		}
	}
	return s.audit.ListAudit(c.r.Context(), lanyard.AuditFilter{
		AfterSeq: after, Action: q.Get("action"), ObjectType: q.Get("object_type"), ObjectID: q.Get("object_id"), Actor: q.Get("actor"), Limit: limit,
	})
}
