package lanyard

import (
	"strconv"
	"strings"
)

// NoticeKind names what a change notice is about. A kind is 1 to 32
// lower-case letters and underscores (Valid).
type NoticeKind string

// The change notices Lanyard's replicas send each other
// (docs/architecture.md, "Change notices"). Payloads are small: IDs, or a
// cache's name, never the changed data itself, which a receiver reads
// from the database.
const (
	// NoticeCache: a read cache's entries may be stale. Payload: the
	// cache's name (NoticeCacheTemplates …), optionally ":" and a key.
	NoticeCache NoticeKind = "cache"
	// NoticeUser: a user's account or credentials changed (disabled or
	// enabled, roles, API tokens or sessions ended). Payload: the user's
	// ID. Replicas purge what they cached of the user's sign-ins.
	NoticeUser NoticeKind = "user"
	// NoticeWorkstationRevoked: a workstation was revoked; the replica
	// holding its agent's connection drops it. Payload: its ID.
	NoticeWorkstationRevoked NoticeKind = "workstation_revoked"
	// NoticeAirCards: the AirCards these workstations may use changed (a
	// computer joined or was removed, an AirCard was created or changed
	// state). Payload: workstation IDs (FormatIDs).
	NoticeAirCards NoticeKind = "aircards"
	// NoticePairing: a workstation's pairing was confirmed or revoked;
	// its agent's waiting poll answers at once. Payload: its ID.
	NoticePairing NoticeKind = "pairing"
)

// Names of the read caches NoticeCache purges.
const (
	NoticeCacheTemplates = "templates" // catalog: certificate templates
	NoticeCachePolicies  = "policies"  // catalog: the list of policies
	NoticeCacheTokens    = "tokens"    // identity: API token look-ups
	NoticeCacheSSO       = "sso"       // sso: a provider's discovery (key: its ID)
)

// MaxNoticePayload bounds a notice's payload in bytes. PostgreSQL's
// NOTIFY takes payloads shorter than 8000 bytes; the rest of those is the
// sender's ID and the kind. A longer notice is not sent as such: every
// replica treats it as lost notices instead (Notices.OnLost).
const MaxNoticePayload = 7900

// Valid reports whether k is a well-formed kind.
func (k NoticeKind) Valid() bool {
	if len(k) == 0 || len(k) > 32 {
		return false
	}
	for _, r := range k {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

// NoticeStore sends change notices. It is part of Tx: a notice sent in a
// transaction reaches every replica, this one included, only if and when
// the transaction commits; a rolled-back transaction sends nothing. The
// same notice sent twice in one transaction is delivered once.
// NOTIFY is not durable: receivers keep a periodic recheck, and
// Notices.OnLost tells them when notices may have been missed.
type NoticeStore interface {
	// Notify sends a notice of kind with payload (UTF-8 text without NUL
	// bytes). An invalid kind or payload is EInternal (a bug); a
	// payload longer than MaxNoticePayload makes every replica purge
	// everything (OnLost) instead.
	Notify(kind NoticeKind, payload string) error
}

// Notices delivers change notices (Store.Notices). A notice committed by
// this process is delivered right after its commit on the committing
// goroutine, with no transaction open (a handler may use the store); one
// from another replica on the listener's goroutine. Handlers may run
// concurrently and must be quick: purge a cache, close a connection, or
// start a goroutine for longer work.
type Notices interface {
	// Subscribe calls fn with the payload of every notice of kind until
	// cancel is called.
	Subscribe(kind NoticeKind, fn func(payload string)) (cancel func())
	// OnLost calls fn whenever notices may have been missed (the
	// listener's connection to the database was lost and made again, or
	// a notice was too large to send): fn purges its caches and reads
	// the state again.
	OnLost(fn func()) (cancel func())
}

// FormatIDs is the payload of a notice naming ids: decimal, separated
// by commas.
func FormatIDs(ids ...int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

// ParseIDs reads FormatIDs's payload; it skips anything that is not an
// ID (a notice from a newer release may carry more).
func ParseIDs(payload string) []int64 {
	var out []int64
	for f := range strings.SplitSeq(payload, ",") {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil && id > 0 {
			out = append(out, id)
		}
	}
	return out
}

// NotifyIDs sends a notice of kind naming ids, split into as many
// notices as the payload limit needs; none when ids is empty.
func NotifyIDs(tx NoticeStore, kind NoticeKind, ids ...int64) error {
	// 20 bytes per ID at most (19 digits and a comma).
	const perNotice = MaxNoticePayload / 20
	for len(ids) > 0 {
		n := min(len(ids), perNotice)
		if err := tx.Notify(kind, FormatIDs(ids[:n]...)); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}
