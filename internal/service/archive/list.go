package archive

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// UserKeys lists the archived keys of the user login, every template,
// newest first, without their sealed keys: what staff pick a key from
// when they request its recovery (RequestRecovery), and what an auditor
// reviews. Only operators, administrators and auditors see another
// user's archived keys; the keys themselves never leave through here.
func (a *Archive) UserKeys(ctx context.Context, p *lanyard.Principal, login string) ([]*lanyard.ArchivedKey, error) {
	if !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only an operator, an administrator or an auditor lists another user's archived keys")
	}
	if login == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "name the user whose archived keys to list")
	}
	var owner *lanyard.User
	if err := a.rec.View(ctx, func(tx lanyard.Tx) (err error) { owner, err = tx.UserByLogin(login); return }); err != nil {
		return nil, err
	}
	return a.Keys(ctx, owner.ID, "")
}

// Logins maps user IDs to logins, for showing who requested, owns and
// decided key recovery requests; an ID that names no user is left out.
func (a *Archive) Logins(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	err := a.rec.View(ctx, func(tx lanyard.Tx) error {
		for _, id := range ids {
			if _, done := out[id]; done || id == 0 {
				continue
			}
			u, err := tx.UserByID(id)
			if lanyard.IsCode(err, lanyard.ENotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out[id] = u.Login
		}
		return nil
	})
	return out, err
}
