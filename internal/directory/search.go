package directory

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// search runs a subtree (or base) search in pages of pageSize (RFC 2696;
// pageSize 0: unpaged) and calls fn for each entry as it arrives, so a
// 50,000-entry read holds one page of raw results at a time. Referrals
// (AD returns some for its application partitions) are skipped.
func (c *conn) search(ctx context.Context, base string, scope int, filter string, attrs []string, pageSize int, controls []ldap.Control, fn func(*ldap.Entry) error) error {
	var paging *ldap.ControlPaging
	if pageSize > 0 {
		paging = ldap.NewControlPaging(uint32(pageSize))
	}
	for {
		ctls := controls
		if paging != nil {
			ctls = append(append([]ldap.Control(nil), controls...), paging)
		}
		req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, ctls)
		done, err := c.page(ctx, req, fn)
		if err != nil {
			return err
		}
		if paging == nil {
			return nil
		}
		p, _ := ldap.FindControl(done, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if p == nil || len(p.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(p.Cookie)
	}
}

// page runs one search request and returns the controls of its
// SearchResultDone.
func (c *conn) page(ctx context.Context, req *ldap.SearchRequest, fn func(*ldap.Entry) error) ([]ldap.Control, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel() // abandons the request if fn fails
	resp := c.l.SearchAsync(pctx, req, 64)
	var done []ldap.Control
	for resp.Next() {
		if e := resp.Entry(); e != nil {
			if err := fn(e); err != nil {
				return nil, err
			}
			continue
		}
		if resp.Referral() == "" {
			done = resp.Controls()
		}
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("searching %s: %w", req.BaseDN, ctx.Err())
	}
	if err := resp.Err(); err != nil {
		return nil, c.opErr(ctx, "search "+req.Filter+" under "+req.BaseDN, err)
	}
	return done, nil
}

// one reads a single entry by DN (base scope) with filter; nil when it does
// not exist or does not match.
func (c *conn) one(ctx context.Context, dn, filter string, attrs []string) (*ldap.Entry, error) {
	var got *ldap.Entry
	err := c.search(ctx, dn, ldap.ScopeBaseObject, filter, attrs, 0, nil, func(e *ldap.Entry) error {
		got = e
		return nil
	})
	if err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	return got, err
}

// rootDSE reads attributes of the root DSE (RFC 4512 5.1).
func (c *conn) rootDSE(ctx context.Context, attrs ...string) (*ldap.Entry, error) {
	e, err := c.one(ctx, "", "(objectClass=*)", attrs)
	if err == nil && e == nil {
		err = fmt.Errorf("directory %s: no root DSE", c.addr)
	}
	return e, err
}

// members returns all values of the member attribute of group entry e,
// fetching the rest by range retrieval when AD sent only a range
// (MS-ADTS 3.1.1.3.1.3.3: MaxValRange, 1500 values by default, then
// "member;range=0-1499").
func (c *conn) members(ctx context.Context, e *ldap.Entry, attr string) ([]string, error) {
	var vals []string
	next := -1
	for _, a := range e.Attributes {
		if strings.EqualFold(a.Name, attr) {
			vals = append(vals, a.Values...)
			continue
		}
		if lo, hi, ok := rangeOf(a.Name, attr); ok {
			vals = append(vals, a.Values...)
			if hi >= lo {
				next = hi + 1
			}
		}
	}
	for next >= 0 {
		ask := fmt.Sprintf("%s;range=%d-*", attr, next)
		got, err := c.one(ctx, e.DN, "(objectClass=*)", []string{ask})
		if err != nil {
			return nil, err
		}
		if got == nil {
			return nil, fmt.Errorf("directory %s: group %s vanished during range retrieval", c.addr, e.DN)
		}
		next = -1
		for _, a := range got.Attributes {
			if lo, hi, ok := rangeOf(a.Name, attr); ok {
				vals = append(vals, a.Values...)
				if hi >= lo {
					next = hi + 1
				}
			}
		}
	}
	return vals, nil
}

// rangeOf parses "member;range=LO-HI" (HI "*" for the last range: -1).
func rangeOf(name, attr string) (lo, hi int, ok bool) {
	prefix := strings.ToLower(attr) + ";range="
	if !strings.HasPrefix(strings.ToLower(name), prefix) {
		return 0, 0, false
	}
	l, h, found := strings.Cut(name[len(prefix):], "-")
	if !found {
		return 0, 0, false
	}
	lo, err := strconv.Atoi(l)
	if err != nil || lo < 0 {
		return 0, 0, false
	}
	if h == "*" {
		return lo, -1, true
	}
	hi, err = strconv.Atoi(h)
	if err != nil || hi < lo {
		return 0, 0, false
	}
	return lo, hi, true
}

// adServer names the domain controller that answers c (state.Server): the
// root DSE's dsServiceName and its object's invocationId (MS-ADTS
// 3.1.1.3.2.6, 6.1.1.2.2.1.2.1.1). dse is a root DSE read that asked for
// dsServiceName.
func (c *conn) adServer(ctx context.Context, dse *ldap.Entry) (string, error) {
	name := dse.GetAttributeValue("dsServiceName")
	if name == "" {
		return "", fmt.Errorf("directory %s: the root DSE has no dsServiceName; is this Active Directory?", c.addr)
	}
	ntds, err := c.one(ctx, name, "(objectClass=*)", []string{"invocationId"})
	if err != nil {
		return "", err
	}
	if ntds == nil {
		return "", fmt.Errorf("directory %s: cannot read the domain controller's %s", c.addr, name)
	}
	inv := ntds.GetRawAttributeValue("invocationId")
	if len(inv) == 0 {
		return "", fmt.Errorf("directory %s: the domain controller's %s has no invocationId", c.addr, name)
	}
	n, err := NormalizeDN(name)
	if err != nil {
		return "", err
	}
	return n + "#" + hex.EncodeToString(inv), nil
}
