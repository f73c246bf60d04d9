package identity

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Notices about a user's secret answers (issue 16, item 11; review M6): a
// Remote Self-Service sign-in, which needs the answers alone, and the lock
// that wrong answers set. The user hears of both (their manager in copy
// when their policy says so: Notifications → notify user, notify
// manager): a sign-in they did not make, or a lock, is someone else with
// their answers. Operators hear of the lock: it may be someone guessing,
// and only they lift it.

// Notifier sends the account notices; internal/notify's Mailer is one.
// It queues durably before returning.
type Notifier interface {
	Account(ctx context.Context, to []string, ev AccountEvent) error
}

// Account notice kinds (AccountEvent.Kind).
const (
	NoticeRSSSignIn              = "rss_signin"
	NoticeSecretAnswersLocked    = "secret_answers_locked"           // to the user
	NoticeSecretAnswersLockedOps = "secret_answers_locked_operators" // to the operators
)

// AccountEvent is what an account notice says: about whom, and from
// which client address.
type AccountEvent struct {
	Kind    string
	User    *lanyard.User
	Address string
}

// notifyUser tells u (and their manager, per u's policy) of kind, and,
// with ops, the enabled operators with an address. A notice that cannot
// be queued is logged: what happened stands.
func (s *Identity) notifyUser(ctx context.Context, kind string, u *lanyard.User, remote string, ops bool) {
	if s.notifier == nil || u == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var to, staff []string
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		if s.policies != nil {
			p, err := s.policies.PolicyFor(tx, u)
			switch {
			case err == nil:
				if p.Settings.Notifications.NotifyUser && u.Email != "" {
					to = append(to, u.Email)
				}
				if p.Settings.Notifications.NotifyManager && u.ManagerEmail != "" {
					to = append(to, u.ManagerEmail)
				}
			case !lanyard.IsCode(err, lanyard.ENotFound):
				return err
			}
		}
		if !ops {
			return nil
		}
		users, err := tx.ListUsers(lanyard.UserFilter{Role: lanyard.RoleOperator})
		for _, o := range users {
			if !o.Disabled && o.Email != "" && o.ID != u.ID {
				staff = append(staff, o.Email)
			}
		}
		return err
	})
	if err != nil {
		s.log.Error("finding the recipients of an account notice failed", "kind", kind, "login", u.Login, "err", err)
		return
	}
	send := func(kind string, to []string) {
		if len(to) == 0 {
			return
		}
		if err := s.notifier.Account(ctx, to, AccountEvent{Kind: kind, User: u, Address: remote}); err != nil {
			s.log.Error("queueing an account notice failed", "kind", kind, "login", u.Login, "err", err)
		}
	}
	send(kind, to)
	if ops {
		send(NoticeSecretAnswersLockedOps, staff)
	}
}
