package identity

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// Secret questions are policy (Authentication → Secret questions,
// docs/lifecycle.md): the user's policy lists the questions, how many a
// user answers and is asked, the shortest answer and how many wrong
// answers in a row lock them. Answers are normalised (trimmed, lower case,
// inner spaces collapsed) and stored as argon2id hashes only.

// SecretQuestions are the questions of a new policy (policy.Defaults);
// a user's policy may list others.
var SecretQuestions = policy.Defaults().Authentication.SecretQuestions.Questions

// SecretQuestionsInfo says whether the user has set answers, and offers
// the questions of their policy.
type SecretQuestionsInfo struct {
	Set       bool
	Chosen    []string
	Questions []string
	// Required is how many questions the user answers (the policy's
	// number asked); MinAnswerLength the shortest answer.
	Required        int
	MinAnswerLength int
	// Locked: too many wrong answers; an operator unlocks them.
	Locked bool
}

// SecretAnswerInput is one answer.
type SecretAnswerInput struct {
	Question string
	Answer   string
}

// SecretAnswersInput sets the caller's answers.
type SecretAnswersInput struct {
	Answers []SecretAnswerInput
}

// secretSettings is u's policy's secret questions; the defaults when no
// policy applies (secret answers are about the person, not their cards)
// or the policy has none.
func (s *Identity) secretSettings(tx lanyard.Tx, u *lanyard.User) (lanyard.SecretQuestionSettings, error) {
	def := policy.Defaults().Authentication.SecretQuestions
	if s.policies == nil {
		return def, nil
	}
	p, err := s.policies.PolicyFor(tx, u)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return def, nil
	}
	if err != nil {
		return def, err
	}
	if q := p.Settings.Authentication.SecretQuestions; len(q.Questions) > 0 && q.Asked > 0 {
		return q, nil
	}
	return def, nil
}

// secretState is what a user's secret answers look like in the store.
type secretState struct {
	user     *lanyard.User
	set      lanyard.SecretQuestionSettings
	answers  []lanyard.SecretAnswer
	lock     lanyard.SecretLock
	notFound bool // no such user (Remote Self-Service hides it)
}

// readSecretState reads userID's (or, with userID 0, login's) answers,
// lock and policy in one view.
func (s *Identity) readSecretState(ctx context.Context, userID int64, login string) (*secretState, error) {
	st := &secretState{}
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if userID != 0 {
			st.user, err = tx.UserByID(userID)
		} else {
			st.user, err = tx.UserByLogin(login)
		}
		if err != nil {
			return err
		}
		if st.set, err = s.secretSettings(tx, st.user); err != nil {
			return err
		}
		if st.answers, err = tx.SecretAnswers(st.user.ID); err != nil {
			return err
		}
		st.lock, err = tx.SecretLock(st.user.ID)
		return err
	})
	if lanyard.IsCode(err, lanyard.ENotFound) && st.user == nil {
		st.notFound = true
		st.set = policy.Defaults().Authentication.SecretQuestions
		return st, err
	}
	return st, err
}

// MySecretQuestions returns the caller's secret question state.
func (s *Identity) MySecretQuestions(ctx context.Context, p *lanyard.Principal) (*SecretQuestionsInfo, error) {
	st, err := s.readSecretState(ctx, p.User.ID, "")
	if err != nil {
		return nil, err
	}
	info := &SecretQuestionsInfo{Set: len(st.answers) > 0, Chosen: []string{}, Questions: slices.Clone(st.set.Questions),
		Required: st.set.Asked, MinAnswerLength: st.set.MinAnswerLength, Locked: st.lock.Locked()}
	for _, a := range st.answers {
		info.Chosen = append(info.Chosen, a.Question)
	}
	return info, nil
}

// SetMySecretAnswers replaces the caller's answers: at least the policy's
// number asked, each to a different question of the policy and at least
// its minimum length. New answers clear the wrong-answer count and end
// the user's Remote Self-Service sessions; while the
// answers are locked they cannot be replaced (the lock is for an operator
// to lift, after speaking with the user).
func (s *Identity) SetMySecretAnswers(ctx context.Context, p *lanyard.Principal, in SecretAnswersInput) (*SecretQuestionsInfo, error) {
	if p.RemoteSelfService {
		return nil, lanyard.Errorf(lanyard.EForbidden, "sign in to set your secret answers")
	}
	st, err := s.readSecretState(ctx, p.User.ID, "")
	if err != nil {
		return nil, err
	}
	if st.lock.Locked() {
		return nil, lanyard.Errorf(lanyard.EForbidden, "your secret answers are locked after too many wrong answers; ask an operator to unlock them")
	}
	q := st.set
	if len(in.Answers) < q.Asked || len(in.Answers) > len(q.Questions) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "answer %d to %d different questions", q.Asked, len(q.Questions))
	}
	var out []lanyard.SecretAnswer
	seen := map[string]bool{}
	for _, a := range in.Answers {
		if !slices.Contains(q.Questions, a.Question) {
			return nil, lanyard.Errorf(lanyard.EInvalid, "%q is not one of the offered questions", a.Question)
		}
		if seen[a.Question] {
			return nil, lanyard.Errorf(lanyard.EInvalid, "question %q is answered twice", a.Question)
		}
		seen[a.Question] = true
		norm := NormalizeAnswer(a.Answer)
		if utf8.RuneCountInString(norm) < q.MinAnswerLength || len(norm) > policy.MaxAnswerLength {
			return nil, lanyard.Errorf(lanyard.EInvalid, "the answer to %q must be %d to %d characters", a.Question, q.MinAnswerLength, policy.MaxAnswerLength)
		}
		h, err := auth.HashPassword(ctx, norm, s.rand)
		if err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "hashing the answer failed")
		}
		out = append(out, lanyard.SecretAnswer{Question: a.Question, AnswerHash: h})
	}
	ended := 0
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "user.secret_questions", "user", p.User.Login, map[string]any{"questions": len(out), "rss_sessions_ended": ended})
	}, func(tx lanyard.Tx) (err error) {
		if err := tx.SetSecretAnswers(p.User.ID, out); err != nil {
			return err
		}
		if err := tx.SetSecretLock(p.User.ID, lanyard.SecretLock{}); err != nil {
			return err
		}
		// A Remote Self-Service session opened with the old answers
		// (perhaps by whoever the sign-in notice warned of) ends with
		// them, as it does on an operator's reset.
		ended, err = tx.DeleteUserRSSSessions(p.User.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.MySecretQuestions(ctx, p)
}

// NormalizeAnswer makes answers compare as people mean them: case,
// surrounding and repeated spaces do not matter.
func NormalizeAnswer(a string) string {
	return strings.ToLower(strings.Join(strings.Fields(a), " "))
}

// SecretCheck is one check of a user's secret answers.
type SecretCheck struct {
	UserID  int64
	Answers []SecretAnswerInput
	// RemoteAddr is the address the answers came from, for the throttle
	// (empty: the user's key only).
	RemoteAddr string
	// Actor is who checks, for the audit log: an operator reading the
	// answers over the phone, or nil for the user themselves.
	Actor *lanyard.Principal
}

// msgWrongAnswers answers every wrong set of answers: it does not say
// which answer was wrong.
const msgWrongAnswers = "the answers do not match"

// CheckSecretAnswers checks a user's answers to their secret questions,
// as a PIN reset or an offline unblock asks them (docs/lifecycle.md). It
// is CheckAnswers without a client address.
func (s *Identity) CheckSecretAnswers(ctx context.Context, userID int64, answers []SecretAnswerInput) error {
	return s.CheckAnswers(ctx, SecretCheck{UserID: userID, Answers: answers})
}

// CheckAnswers checks in.Answers under the user's policy
// (docs/lifecycle.md, "Secret questions"): at least the number asked must
// be given, each to a different question the user chose, and every one
// must match. It does not say which answer was wrong. Every given answer
// is verified, right or wrong, so the time taken does not tell either;
// the argon2id comparison itself is constant-time (auth.VerifyPassword).
//
// Guessing is slowed twice. The login throttle counts wrong answers per
// user and per client address (SecretThrottleKeys), as it counts wrong
// passwords. And the user keeps a count of wrong answers in a row: at
// the policy's Wrong answers before lock the answers are locked for every
// use (not the password login) until an operator unlocks them
// (UnlockSecretAnswers); a right answer clears the count. The count is
// taken before the answers are verified (reserveAttempt), so parallel
// guesses never get more verifications than the policy allows. The
// reserved attempt, the wrong answer or the lock, and the cleared count
// are each one transaction with one audit event
// (user.secret_answers.attempt, .fail or .locked, .ok); the answers are
// never logged.
func (s *Identity) CheckAnswers(ctx context.Context, in SecretCheck) error {
	st, err := s.readSecretState(ctx, in.UserID, "")
	if err != nil {
		return err
	}
	l, err := s.checkState(ctx, st, in, checkAnswersActions)
	if err != nil {
		return err
	}
	return s.clearFailures(ctx, st, in, l)
}

// checkState checks in against a state already read, counting the
// attempt first (reserveAttempt); a wrong answer is recorded as act.fail
// (or user.secret_answers.locked when it locks). A right one returns the
// count with its own attempt in it: the caller clears the count with
// whatever the answers unlock.
func (s *Identity) checkState(ctx context.Context, st *secretState, in SecretCheck, act checkActions) (lanyard.SecretLock, error) {
	var l lanyard.SecretLock
	att, err := s.throttle.Begin(ctx, SecretThrottleKeys(st.user.Login, in.RemoteAddr)...)
	if err != nil {
		return l, throttled(err, "too many wrong answers")
	}
	defer att.Release()
	if st.lock.Locked() {
		return l, lanyard.Errorf(lanyard.EForbidden, msgLocked)
	}
	if len(st.answers) == 0 {
		return l, lanyard.Errorf(lanyard.EConflict, "no secret answers are set for this account; the user sets them in Self-Service")
	}
	if len(st.answers) < st.set.Asked {
		return l, lanyard.Errorf(lanyard.EConflict, msgFewerAnswers, st.set.Asked)
	}
	if len(in.Answers) < st.set.Asked {
		return l, lanyard.Errorf(lanyard.EInvalid, "answer %d of the secret questions", st.set.Asked)
	}
	if err := givenAnswersValid(st.answers, in.Answers); err != nil {
		return l, err
	}
	if l, err = s.reserveAttempt(ctx, st, in, act); err != nil {
		return l, err
	}
	ok, err := matchAnswers(ctx, st.answers, in.Answers)
	if err != nil {
		// Not verified (the hashing is busy, the caller gone): the
		// attempt is given back, never counted as wrong.
		return l, s.returnAttempt(ctx, st, in, l, act, err)
	}
	if ok {
		att.Succeed()
		return l, nil
	}
	att.Fail()
	return l, s.recordFailure(ctx, st, in, l, act)
}

// msgFewerAnswers refuses a check of an account that has fewer answers
// than its policy now asks.
const msgFewerAnswers = "this account has fewer secret answers than its policy asks (%d); the user sets new ones in Self-Service"

// matchAnswers verifies every given answer against the stored hashes and
// reports whether all match (givenAnswersValid has checked the
// questions).
func matchAnswers(ctx context.Context, stored []lanyard.SecretAnswer, given []SecretAnswerInput) (bool, error) {
	hashes := map[string]string{}
	for _, a := range stored {
		hashes[a.Question] = a.AnswerHash
	}
	ok := true
	for _, a := range given {
		match, err := auth.VerifyPassword(ctx, hashes[a.Question], NormalizeAnswer(a.Answer))
		if err != nil {
			return false, lanyard.Wrap(lanyard.EUnavailable, err, "checking the answers failed; try again")
		}
		ok = ok && match
	}
	return ok, nil
}

// checker is who the audit log names for a check.
func checker(st *secretState, in SecretCheck) *lanyard.Principal {
	if in.Actor != nil {
		return in.Actor
	}
	return &lanyard.Principal{User: st.user, Roles: lanyard.Roles{lanyard.RoleUser}, RemoteAddr: in.RemoteAddr}
}

// clearFailures gives back the attempt a right answer reserved and ends
// the run of wrong answers before it (l is the count with the attempt).
func (s *Identity) clearFailures(ctx context.Context, st *secretState, in SecretCheck, l lanyard.SecretLock) error {
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(checker(st, in), "user.secret_answers.ok", "user", st.user.Login, map[string]any{"failures_cleared": l.Failures - 1})
	}, func(tx lanyard.Tx) error { return tx.SetSecretLock(st.user.ID, lanyard.SecretLock{}) })
}

// SecretThrottleKeys are the throttle keys of a secret answer check for
// login from remote: one for the account, one for the client's network
// (shared with the login's, so one address guessing passwords and answers
// is slowed as one).
func SecretThrottleKeys(login, remote string) []string {
	keys := []string{"secret:" + login}
	if remote != "" {
		keys = append(keys, "ip:"+throttleNet(remote))
	}
	return keys
}
