package lanyard

import "time"

// ContentStatus is what the Card Monitor last found of a card's
// certificates (docs/lifecycle.md, "Card Monitor"): whether a managed
// (issued through Lanyard) or tracked (third-party) certificate on the card
// is within its policy's warning period before expiry, or expired.
//
// A card has one status. When several apply, the first of this order
// wins: managed expired, managed expiring, tracked expired, tracked
// expiring. Managed comes before tracked because a managed certificate is
// what Update card contents renews and what the owner is asked to act on;
// within a source, expired comes before expiring.
type ContentStatus string

const (
	ContentNone            ContentStatus = "none"
	ContentManagedExpiring ContentStatus = "managed_expiring"
	ContentManagedExpired  ContentStatus = "managed_expired"
	ContentTrackedExpiring ContentStatus = "tracked_expiring"
	ContentTrackedExpired  ContentStatus = "tracked_expired"
)

// ContentStatuses lists the statuses in the order filters and counts
// show them.
var ContentStatuses = []ContentStatus{ContentNone, ContentManagedExpiring, ContentManagedExpired, ContentTrackedExpiring, ContentTrackedExpired}

// ParseContentStatus accepts one of ContentStatuses; "managed expiring"
// with a space is accepted as well.
func ParseContentStatus(s string) (ContentStatus, error) {
	for _, st := range ContentStatuses {
		if string(st) == s || st.Label() == s {
			return st, nil
		}
	}
	return "", Errorf(EInvalid, "content status %q: use none, managed_expiring, managed_expired, tracked_expiring or tracked_expired", s)
}

// Label is the status as people read it ("managed expiring").
func (s ContentStatus) Label() string {
	switch s {
	case ContentManagedExpiring:
		return "managed expiring"
	case ContentManagedExpired:
		return "managed expired"
	case ContentTrackedExpiring:
		return "tracked expiring"
	case ContentTrackedExpired:
		return "tracked expired"
	}
	return "none"
}

// rank orders statuses by precedence (higher wins).
func (s ContentStatus) rank() int {
	switch s {
	case ContentManagedExpired:
		return 4
	case ContentManagedExpiring:
		return 3
	case ContentTrackedExpired:
		return 2
	case ContentTrackedExpiring:
		return 1
	}
	return 0
}

// Outranks reports whether s wins over t when a card has both.
func (s ContentStatus) Outranks(t ContentStatus) bool { return s.rank() > t.rank() }

// CardContent is the Card Monitor's record of one card. A card without a
// record has status none and was never looked at (or held nothing).
type CardContent struct {
	CardID int64
	Status ContentStatus
	// NextCheckAt is when the card must be looked at again even if
	// nothing about it changes: the earliest of its certificates' next
	// status change (NotAfter minus the warning period, or NotAfter) and
	// its next notification re-send. Zero: never (no certificate will
	// change the status and nothing is to be re-sent).
	NextCheckAt time.Time
	// NotifiedStatus is the status last notified ("" none); NotifiedAt
	// when. A status different from NotifiedStatus is notified at once;
	// the same one again at NotifiedAt plus the policy's re-send period.
	NotifiedStatus ContentStatus
	NotifiedAt     time.Time
	UpdatedAt      time.Time
}

// CardCert is the little of a certificate the Card Monitor reads.
type CardCert struct {
	CardID   int64
	Source   CertSource
	NotAfter time.Time
}

// JobRun is a scheduled job's coordination row: which replica holds it
// (Holder, until LeaseUntil) and what the last completed run left for
// the next one (Mark: changes at or after it are looked at; Extra: the
// job's own note, such as the policies' version it ran with).
type JobRun struct {
	Name       string
	Holder     string
	LeaseUntil time.Time
	Mark       time.Time
	Extra      string
	RunAt      time.Time // when the last run completed
}

// CardContentStore holds the Card Monitor's records and the scheduled
// jobs' coordination rows.
type CardContentStore interface {
	// CardContents returns the records of the cards ids that have one.
	CardContents(ids []int64) (map[int64]*CardContent, error)
	// PutCardContents records rs, each replacing its card's record
	// (EInvalid when a card does not exist).
	PutCardContents(rs []*CardContent) error
	// CardsByIDs and UsersByIDs read the cards and users ids that exist,
	// in ID order: a batch's cards and owners in one statement each.
	CardsByIDs(ids []int64) ([]*Card, error)
	UsersByIDs(ids []int64) ([]*User, error)
	// DueCardContents returns up to limit card IDs whose NextCheckAt is
	// set and not after now, earliest first.
	DueCardContents(now time.Time, limit int) ([]int64, error)
	// ChangedCards returns up to limit IDs, above afterID in ascending
	// order, of the cards updated at or after since or holding a
	// certificate updated at or after since; since zero: every card.
	ChangedCards(since time.Time, afterID int64, limit int) ([]int64, error)
	// CardCerts returns the certificates on the cards ids that count
	// for the content status: issued (valid, written or expired), not
	// revoked.
	CardCerts(ids []int64) ([]CardCert, error)
	// CountCardContents counts the cards by content status; cards
	// without a record, and revoked cards, count as none.
	CountCardContents() (map[ContentStatus]int, error)
	// ClaimJob takes job name for holder until leaseUntil when nobody
	// holds it after now (or holder already does), creating its row on
	// first use, and returns the row; EConflict when another holder's
	// lease runs past now.
	ClaimJob(name, holder string, now, leaseUntil time.Time) (*JobRun, error)
	// RenewJob extends holder's lease of job name to leaseUntil;
	// EConflict when holder no longer holds it (another holder claimed
	// it, or holder finished).
	RenewJob(name, holder string, leaseUntil time.Time) error
	// FinishJob records a completed run of job name by holder (Mark,
	// Extra, RunAt) and releases its lease; EConflict when holder no
	// longer holds it.
	FinishJob(r *JobRun) error
	// ListJobRuns lists every job's lease row by name (the operators'
	// view of which replica runs what).
	ListJobRuns() ([]*JobRun, error)
}
