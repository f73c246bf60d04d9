package lanyard

import "time"

// OfflineUnblock is one offline unblock response the server gave
// (docs/lifecycle.md, "Offline unblock"): for which card and which of its
// challenges, through which channel, by whom. The response itself is not
// kept: it fits one challenge only, and the record is what makes the
// server refuse to answer the same challenge twice.
type OfflineUnblock struct {
	ID      int64
	CardID  int64
	Scheme  string // unblockcode.Scheme's name: lanyard-mac, lanyard-tpm, piv-puk
	Counter int    // the card's challenge counter
	Nonce   int64  // the challenge's random part
	// Channel is where the response was asked for: "console" (staff),
	// "self-service" or "rss" (Remote Self-Service).
	Channel string
	ActorID int64 // who asked
	// AnswersChecked: the owner's secret answers were checked for it.
	AnswersChecked bool
	CreatedAt      time.Time
}

// OfflineUnblockStore holds the offline unblock responses given.
type OfflineUnblockStore interface {
	// CreateOfflineUnblock records a response; EConflict when one was
	// given for the same challenge (card, scheme, counter, nonce).
	CreateOfflineUnblock(u *OfflineUnblock) error
	// OfflineUnblocksOf lists a card's, oldest first.
	OfflineUnblocksOf(cardID int64) ([]*OfflineUnblock, error)
}
