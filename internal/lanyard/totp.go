package lanyard

import "time"

// TOTPEnrollment is a user's authenticator app: the second factor (RFC
// 6238 time-based one-time passwords) that a user proves, with their
// password, before setting the PIN of a platform credential. A user has
// at most one. It counts only once confirmed with a valid code; until
// then it may be replaced by a fresh one.
type TOTPEnrollment struct {
	UserID int64
	// SealedSecret is the shared HMAC key, sealed at rest (seal.Sealer);
	// the store never sees it in clear.
	SealedSecret []byte
	// ConfirmedAt is when a valid code confirmed the enrollment; zero
	// while unconfirmed.
	ConfirmedAt time.Time
	// LastStep is the newest RFC 6238 time step (Unix time / 30 s) whose
	// code was accepted; a code of this step or an older one is refused as
	// a replay. 0: none yet.
	LastStep  int64
	CreatedAt time.Time
}

// Confirmed reports whether the enrollment counts as a second factor.
func (e *TOTPEnrollment) Confirmed() bool { return e != nil && !e.ConfirmedAt.IsZero() }
