package personalize

import (
	"context"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A card's PUK (PIV Admin PIN) is not always the one its record names: an
// issue or a rotation interrupted with the card's reply lost leaves the
// card holding either the PUK it had or the new one drawn (sealed in the
// operation or the card record). Every action that needs the card's
// current PUK tries the PUKs it may hold, the most likely first, through
// UsePUK: a wrong one costs a try (SP 800-73-4 part 2, 3.2.2 and 3.2.3:
// the retry counter drops and 63CX says how many are left), so a
// candidate is tried only while at least two tries remain and the last
// one is never spent guessing. The service lists the candidates: it holds
// them sealed.

// PUKCandidate is a PUK the card may hold. Sealed is set for a random PUK
// the server holds sealed (cardops.CardPUKAAD): the card can be recorded
// as holding it.
type PUKCandidate struct {
	PUK    string
	Sealed []byte
}

// TypePUK is the card type's default PUK, else the factory value.
func TypePUK(secrets *lanyard.CardTypeSecrets) string {
	if secrets.PUK != "" {
		return secrets.PUK
	}
	return pivspec.DefaultPUK
}

// ErrWrongPUK is UsePUK's error when the card refused every candidate
// tried (or refused to be guessed at): the server does not know its PUK.
var ErrWrongPUK = errors.New("the card refused every Admin PIN (PUK) the server knows for it")

// UsePUK runs use with each candidate until the card accepts one, which it
// returns. A candidate is tried only while the card has at least two PUK
// tries left: known before the first try from GET METADATA (vendor
// instruction F7, key reference 81) where the card has it, else from the
// 63CX of the refusal before. The one exception is the first candidate on
// a card whose counter is full: a card type allowing a single PUK try
// (puk_retries 1) is still issued and cleared with the PUK the server
// knows best, and a card that never refused one is not being guessed at.
// all asks for every try left before the first one (an automatic change
// the user did not ask for must not spend a try another tool's failures
// left short). A failure other than a wrong PUK (the card pulled) is
// returned as it is; refusals end in an error wrapping ErrWrongPUK and the
// card's last answer.
func UsePUK(ctx context.Context, pc *piv.Card, candidates []PUKCandidate, all bool, what string, use func(puk string) error) (PUKCandidate, error) {
	return usePUK(ctx, pc, candidates, all, 2, what, use)
}

// UsePUKSparing is UsePUK for a change of the PUK nobody asked for at the
// moment (the rotation of a PUK an offline unblock released): it runs
// only on a card with all its PUK tries (all), and after the first
// candidate it tries another only while a refusal would still leave two
// tries, so a guess never drops the counter below two (with the usual
// three tries: one candidate per run).
func UsePUKSparing(ctx context.Context, pc *piv.Card, candidates []PUKCandidate, what string, use func(puk string) error) (PUKCandidate, error) {
	return usePUK(ctx, pc, candidates, true, 3, what, use)
}

// usePUK is UsePUK trying a candidate only while at least floor tries are
// left (the first one on a full counter excepted).
func usePUK(ctx context.Context, pc *piv.Card, candidates []PUKCandidate, all bool, floor int, what string, use func(puk string) error) (PUKCandidate, error) {
	left, full := -1, false // unknown
	md, err := pc.Metadata(ctx, pivspec.KeyPUK)
	var se *apdu.StatusError
	switch {
	case err == nil && md.Retries > 0:
		if all && md.RetriesLeft < md.Retries {
			return PUKCandidate{}, lanyard.Errorf(lanyard.EConflict, "%s: the card has %d of its %d Admin PIN (PUK) tries left; Lanyard does not guess at it", what, md.RetriesLeft, md.Retries)
		}
		left, full = md.RetriesLeft, md.RetriesLeft == md.Retries
	case err != nil && !errors.As(err, &se):
		// The card did not answer (pulled); one that refuses the
		// instruction, whatever its status word, is a card without it.
		return PUKCandidate{}, CardError(err, what)
	}
	var last error
	for i, c := range candidates {
		if left >= 0 && left < floor && !(i == 0 && full && left > 0) {
			break
		}
		err := use(c.PUK)
		if err == nil {
			return c, nil
		}
		var ae *piv.AuthError
		if !errors.As(err, &ae) {
			return PUKCandidate{}, CardError(err, what)
		}
		last, left = err, ae.Retries
		if left < 0 {
			left = 0 // the card did not say (6300): guess no more
		}
	}
	if last == nil {
		// Nothing was tried: the server's candidates may be right, so this
		// is no ErrWrongPUK (which records the PUK as unknown).
		return PUKCandidate{}, lanyard.Errorf(lanyard.EConflict, "%s: the card has fewer than two Admin PIN (PUK) tries left; Lanyard does not guess at it", what)
	}
	return PUKCandidate{}, lanyard.Wrap(lanyard.EConflict, errors.Join(ErrWrongPUK, last), what+": the card refused its Admin PIN (PUK)")
}

// WrongSecret reports whether err is the card refusing a PIN or PUK with
// at least left tries left (63CX): the reference may have been changed
// already, and there is room to find out.
func WrongSecret(err error, left int) bool {
	var ae *piv.AuthError
	return errors.As(err, &ae) && ae.Retries >= left
}

// UnblockOrProbePIN sets the User PIN to want after a resumed CHANGE
// REFERENCE DATA found the old one refused with changeErr (the change may
// have reached the card, its reply lost): with the card's own puk (RESET
// RETRY COUNTER, SP 800-73-4 part 2, 3.2.3: no guess, the tries restored),
// else — for a card whose PUK the server does not hold, and a PIN the
// user entered (drawn false), never one drawn afresh — by verifying want
// once while two tries are left. It reports whether the card then has
// want.
func UnblockOrProbePIN(ctx context.Context, pc *piv.Card, puk, want string, drawn bool, changeErr error) bool {
	if puk != "" {
		return pc.UnblockPIN(ctx, puk, want) == nil
	}
	return !drawn && WrongSecret(changeErr, 2) && pc.VerifyPIN(ctx, want) == nil
}
