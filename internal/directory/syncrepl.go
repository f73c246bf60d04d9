package directory

import (
	"context"
	"fmt"
	"slices"

	"github.com/go-ldap/ldap/v3"
)

// syncResult is what one RFC 4533 refreshOnly search told.
type syncResult struct {
	cookie  []byte
	deleted []string        // delete phase: entryUUIDs gone
	present map[string]bool // present phase: entryUUIDs still there
	// presentPhase: the server used the present phase (RFC 4533 3.3.1:
	// no usable history for the cookie), so every known entry not
	// reported present or changed is gone.
	presentPhase bool
}

// errNoSync: the server has no Content Synchronization provider for the
// base DN (OpenLDAP's syncprov overlay).
var errNoSync = fmt.Errorf("no RFC 4533 sync provider")

// syncRefresh runs one refreshOnly Content Synchronization search
// (RFC 4533 3.1, mode refreshOnly) of filter under the base DN, asking for
// no attributes: changed entries come as DN and entryUUID only (the
// content is read by the changed-stamp search), deleted ones as
// entryUUIDs. With cookie nil it only fetches a cookie, with a filter
// matching nothing.
func (r *reader) syncRefresh(ctx context.Context, filter string, cookie []byte) (*syncResult, error) {
	res := &syncResult{present: map[string]bool{}}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := ldap.NewSearchRequest(r.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"1.1"}, nil)
	resp := r.c.l.Syncrepl(pctx, req, 64, ldap.SyncRequestModeRefreshOnly, cookie, false)
	for resp.Next() {
		for _, ctl := range resp.Controls() {
			switch c := ctl.(type) {
			case *ldap.ControlSyncState:
				id := c.EntryUUID.String()
				switch c.State {
				case ldap.SyncStateDelete:
					res.deleted = append(res.deleted, id)
				default: // present, add, modify: still there
					res.present[id] = true
				}
				if len(c.Cookie) > 0 {
					res.cookie = c.Cookie
				}
			case *ldap.ControlSyncInfo:
				switch {
				case c.NewCookie != nil:
					res.cookie = c.NewCookie.Cookie
				case c.RefreshDelete != nil:
					if len(c.RefreshDelete.Cookie) > 0 {
						res.cookie = c.RefreshDelete.Cookie
					}
				case c.RefreshPresent != nil:
					res.presentPhase = true
					if len(c.RefreshPresent.Cookie) > 0 {
						res.cookie = c.RefreshPresent.Cookie
					}
				case c.SyncIdSet != nil:
					for _, u := range c.SyncIdSet.SyncUUIDs {
						if c.SyncIdSet.RefreshDeletes {
							res.deleted = append(res.deleted, u.String())
						} else {
							res.present[u.String()] = true
						}
					}
					if len(c.SyncIdSet.Cookie) > 0 {
						res.cookie = c.SyncIdSet.Cookie
					}
				}
			case *ldap.ControlSyncDone:
				if len(c.Cookie) > 0 {
					res.cookie = c.Cookie
				}
				// RFC 4533 2.4: refreshDeletes FALSE means the
				// refresh ended with a present phase.
				if !c.RefreshDeletes {
					res.presentPhase = true
				}
			}
		}
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("sync refresh: %w", ctx.Err())
	}
	if err := resp.Err(); err != nil {
		if ldap.IsErrorAnyOf(err, ldap.LDAPResultUnavailableCriticalExtension, ldap.LDAPResultUnwillingToPerform,
			ldap.LDAPResultProtocolError, ldap.LDAPResultInsufficientAccessRights) {
			return nil, fmt.Errorf("%w: %v", errNoSync, err)
		}
		return nil, r.c.opErr(ctx, "sync refresh", err)
	}
	if len(res.cookie) == 0 {
		return nil, fmt.Errorf("%w: no cookie returned", errNoSync)
	}
	return res, nil
}

// syncRemoved turns a refresh into the removed users: the delete phase's
// entryUUIDs that were known, or, after a present phase, every known
// user not reported present.
func syncRemoved(res *syncResult, known []string) []string {
	var out []string
	if res.presentPhase {
		for _, id := range known {
			if !res.present[id] {
				out = append(out, id)
			}
		}
		return out
	}
	for _, id := range res.deleted {
		if _, found := slices.BinarySearch(known, id); found {
			out = append(out, id)
		}
	}
	return sortedSet(out)
}
