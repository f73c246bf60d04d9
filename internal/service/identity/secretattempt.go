package identity

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// Wrong secret answers are counted before the answers are verified
// (review L3): an attempt is first reserved as a wrong answer in the
// store, in one statement that every replica shares (AddSecretFailure),
// and only an attempt that got a place under the policy's Wrong answers
// before lock is verified; a right answer gives the place back by
// clearing the count. Counting after the verification let N parallel
// guesses, on one replica or several, all read the same count and all be
// verified: the lock came after N guesses, not after the policy's number.

// checkActions name the audit events of one kind of check: the reserved
// attempt and the wrong answer.
type checkActions struct {
	attempt, fail, returned string
}

var (
	// checkAnswersActions are those of CheckAnswers (PIN reset, offline
	// unblock, an operator reading the answers).
	checkAnswersActions = checkActions{attempt: "user.secret_answers.attempt", fail: "user.secret_answers.fail", returned: "user.secret_answers.attempt_returned"}
	// rssActions are those of a Remote Self-Service sign-in.
	rssActions = checkActions{attempt: "rss.signin.attempt", fail: "rss.signin.fail", returned: "rss.signin.attempt_returned"}
)

// msgLocked refuses answers to an account whose answers are locked.
const msgLocked = "the secret answers of this account are locked after too many wrong answers; an operator must unlock them"

// reserveAttempt counts the coming check as a wrong answer, in one
// transaction with its event (act.attempt), and returns the count with
// this attempt in it. An attempt past the policy's limit — the answers
// were locked by a parallel one after st was read, or the policy was
// lowered below the count — is not counted: the lock is kept (set, when
// a lowered policy leaves the count above its limit) and the attempt is
// refused without the user's answers being verified (refuseOverLimit).
func (s *Identity) reserveAttempt(ctx context.Context, st *secretState, in SecretCheck, act checkActions) (lanyard.SecretLock, error) {
	limit := st.set.WrongBeforeLock
	now := s.rec.Clock()
	var l lanyard.SecretLock
	over := false
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		d := map[string]any{"failures": l.Failures, "limit": limit}
		if over {
			d["refused"] = "locked"
		}
		return s.rec.Event(checker(st, in), act.attempt, "user", st.user.Login, d)
	}, func(tx lanyard.Tx) (err error) {
		if l, err = tx.AddSecretFailure(st.user.ID, limit, now); err != nil {
			return err
		}
		if over = l.Failures > limit; over {
			l.Failures--
			if err := tx.SetSecretLock(st.user.ID, l); err != nil {
				return err
			}
			_, err = tx.DeleteUserRSSSessions(st.user.ID)
		}
		return err
	})
	if err != nil {
		return l, err
	}
	if over {
		return l, s.refuseOverLimit(ctx, st, in, act)
	}
	return l, nil
}

// refuseOverLimit refuses an attempt past the limit after the work a
// wrong answer costs (review L5: in Remote Self-Service the time must
// not tell this refusal from others): every answer hashed against the
// dummy hash, never the user's, and the refusal committed with its event
// (act.fail, reason locked).
func (s *Identity) refuseOverLimit(ctx context.Context, st *secretState, in SecretCheck, act checkActions) error {
	for _, a := range in.Answers {
		if _, err := auth.VerifyPassword(ctx, dummyHash, NormalizeAnswer(a.Answer)); err != nil {
			return lanyard.Wrap(lanyard.EUnavailable, err, "checking the answers failed; try again")
		}
	}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(checker(st, in), act.fail, "user", st.user.Login, map[string]any{"reason": "locked"})
	}, func(lanyard.Tx) error { return nil })
	if err != nil {
		return err
	}
	return lanyard.Errorf(lanyard.EForbidden, msgLocked)
}

// recordFailure records a wrong answer already counted by reserveAttempt
// (l is the count it returned): act.fail, or user.secret_answers.locked
// when this attempt reached the limit. The lock ends the user's Remote
// Self-Service sessions in the same transaction (review L4): whoever
// holds one may be the guesser.
func (s *Identity) recordFailure(ctx context.Context, st *secretState, in SecretCheck, l lanyard.SecretLock, act checkActions) error {
	action := act.fail
	locks := l.Locked() && l.Failures == st.set.WrongBeforeLock
	if locks {
		action = "user.secret_answers.locked"
	}
	ended := 0
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		d := map[string]any{"failures": l.Failures, "limit": st.set.WrongBeforeLock}
		if locks {
			d["rss_sessions_ended"] = ended
		}
		return s.rec.Event(checker(st, in), action, "user", st.user.Login, d)
	}, func(tx lanyard.Tx) (err error) {
		if locks {
			ended, err = tx.DeleteUserRSSSessions(st.user.ID)
		}
		return err
	})
	if err != nil {
		return err
	}
	s.log.Info("secret answers refused", "login", st.user.Login, "failures", l.Failures, "locked", l.Locked())
	if locks {
		// Queued apart from the answer: in Remote Self-Service the
		// refusal that locks must take no longer than any other, or the
		// time would tell a real user name (review L5).
		go s.notifyUser(ctx, NoticeSecretAnswersLocked, st.user, in.RemoteAddr, true)
	}
	if l.Locked() {
		return lanyard.Errorf(lanyard.EForbidden, msgWrongAnswers+"; the secret answers are now locked: ask an operator to unlock them")
	}
	return lanyard.Errorf(lanyard.EForbidden, msgWrongAnswers)
}

// returnAttempt gives back the attempt reserveAttempt counted (l) when
// the answers could not be verified (cause: the hashing is busy, or the
// caller went away): a right answer must never count as wrong, nor
// lock, because the server was loaded. It takes back the count and the
// lock this attempt set, in one transaction with its event
// (act.returned), even when ctx has ended, and answers that the check
// could not be done (EUnavailable).
func (s *Identity) returnAttempt(ctx context.Context, st *secretState, in SecretCheck, l lanyard.SecretLock, act checkActions, cause error) error {
	var lockedAt time.Time
	if l.Locked() && l.Failures == st.set.WrongBeforeLock {
		lockedAt = l.LockedAt // this attempt set the lock
	}
	var now lanyard.SecretLock
	err := s.rec.Update(context.WithoutCancel(ctx), func() *lanyard.AuditEvent {
		return s.rec.Event(checker(st, in), act.returned, "user", st.user.Login, map[string]any{"failures": now.Failures, "unlocked": !lockedAt.IsZero() && !now.Locked()})
	}, func(tx lanyard.Tx) (err error) {
		now, err = tx.ReturnSecretFailure(st.user.ID, lockedAt)
		return err
	})
	if err != nil {
		s.log.Error("giving back a secret answer attempt failed", "login", st.user.Login, "error", err)
	}
	return cause
}

// answersNotTooLong refuses, before anything is counted or hashed, an
// answer longer than any answer can be (policy.MaxAnswerLength, as
// SetMySecretAnswers stores them): it cannot match, and hashing it
// would fail (auth.MaxPasswordInput) after the attempt was counted,
// locking the account without a wrong answer being recorded.
func answersNotTooLong(given []SecretAnswerInput) error {
	for _, a := range given {
		if len(NormalizeAnswer(a.Answer)) > policy.MaxAnswerLength {
			return lanyard.Errorf(lanyard.EInvalid, "an answer is longer than %d characters", policy.MaxAnswerLength)
		}
	}
	return nil
}

// givenAnswersValid refuses, before anything is counted, answers to a
// question the user did not choose, a question answered twice or an
// answer too long: bad input, not a wrong answer.
func givenAnswersValid(stored []lanyard.SecretAnswer, given []SecretAnswerInput) error {
	if err := answersNotTooLong(given); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, a := range stored {
		known[a.Question] = true
	}
	seen := map[string]bool{}
	for _, a := range given {
		if !known[a.Question] || seen[a.Question] {
			return lanyard.Errorf(lanyard.EInvalid, "%q is not one of this user's questions, or is answered twice", a.Question)
		}
		seen[a.Question] = true
	}
	return nil
}
