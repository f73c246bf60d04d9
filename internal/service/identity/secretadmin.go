package identity

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// SecretAnswersStatus is what the help desk sees of a user's secret
// answers: whether they are set, how many wrong answers in a row were
// given and whether that locked them. Never the questions' answers.
type SecretAnswersStatus struct {
	Login    string
	Set      bool
	Answered int // how many questions the user answered
	Failures int
	Locked   bool
	LockedAt time.Time
}

// SecretAnswersStatusOf returns login's secret answer status to the user
// and to staff who look after users (operators, administrators,
// auditors).
func (s *Identity) SecretAnswersStatusOf(ctx context.Context, p *lanyard.Principal, login string) (*SecretAnswersStatus, error) {
	self := p.User != nil && p.User.Login == login
	if p.RemoteSelfService || !self && !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only operators, administrators and auditors see another user's secret answer status")
	}
	var out *SecretAnswersStatus
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		u, err := tx.UserByLogin(login)
		if err != nil {
			return err
		}
		out, err = secretStatus(tx, u)
		return err
	})
	return out, err
}

func secretStatus(tx lanyard.Tx, u *lanyard.User) (*SecretAnswersStatus, error) {
	answers, err := tx.SecretAnswers(u.ID)
	if err != nil {
		return nil, err
	}
	l, err := tx.SecretLock(u.ID)
	if err != nil {
		return nil, err
	}
	return &SecretAnswersStatus{Login: u.Login, Set: len(answers) > 0, Answered: len(answers),
		Failures: l.Failures, Locked: l.Locked(), LockedAt: l.LockedAt}, nil
}

// ResetSecretAnswers deletes login's secret answers, and with them any
// lock: the user sets new ones in Self-Service before any use of them
// (a user who forgot them, or whose answers someone else may know). The
// user's Remote Self-Service sessions end in the same transaction
// (review L4): they were opened with the answers now deemed unsafe.
// Audited as user.secret_answers.reset.
func (s *Identity) ResetSecretAnswers(ctx context.Context, p *lanyard.Principal, login string) (*SecretAnswersStatus, error) {
	return s.changeSecretAnswers(ctx, p, login, "user.secret_answers.reset", func(tx lanyard.Tx, u *lanyard.User) error {
		if err := tx.SetSecretAnswers(u.ID, nil); err != nil {
			return err
		}
		if err := tx.SetSecretLock(u.ID, lanyard.SecretLock{}); err != nil {
			return err
		}
		_, err := tx.DeleteUserRSSSessions(u.ID)
		return err
	})
}

// UnlockSecretAnswers lifts the lock that too many wrong answers put on
// login's secret answers and clears the count; the answers stay. The
// operator should have spoken with the user first (the lock may mean
// someone else is guessing). Unlocking answers that are not locked is a
// conflict, so that a mistaken second click says so. Audited as
// user.secret_answers.unlock.
func (s *Identity) UnlockSecretAnswers(ctx context.Context, p *lanyard.Principal, login string) (*SecretAnswersStatus, error) {
	return s.changeSecretAnswers(ctx, p, login, "user.secret_answers.unlock", func(tx lanyard.Tx, u *lanyard.User) error {
		l, err := tx.SecretLock(u.ID)
		if err != nil {
			return err
		}
		if !l.Locked() {
			return lanyard.Errorf(lanyard.EConflict, "the secret answers of %s are not locked", u.Login)
		}
		return tx.SetSecretLock(u.ID, lanyard.SecretLock{})
	})
}

// changeSecretAnswers runs an operator's change to login's secret answers
// under the account rule (CheckAccountChange: operators act on plain
// users only, administrators on staff too, nobody on their own answers
// this way), in one transaction with one audit event.
func (s *Identity) changeSecretAnswers(ctx context.Context, p *lanyard.Principal, login, action string, fn func(lanyard.Tx, *lanyard.User) error) (*SecretAnswersStatus, error) {
	if err := selfOnly(p); err != nil {
		return nil, err
	}
	if p.RemoteSelfService || !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only operators and administrators reset or unlock another user's secret answers")
	}
	var out *SecretAnswersStatus
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, action, "user", login, nil)
	}, func(tx lanyard.Tx) error {
		u, err := tx.UserByLogin(login)
		if err != nil {
			return err
		}
		if u.ID == p.User.ID {
			return lanyard.Errorf(lanyard.EForbidden, "you cannot reset or unlock your own secret answers; ask another operator")
		}
		if err := CheckAccountChange(p.Roles, AccountChange{Login: u.Login, Before: u.Roles, After: u.Roles}); err != nil {
			return err
		}
		if err := fn(tx, u); err != nil {
			return err
		}
		out, err = secretStatus(tx, u)
		return err
	})
	return out, err
}
