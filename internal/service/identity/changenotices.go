package identity

import (
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Change notices (docs/architecture.md, "Change notices"): the token
// read cache holds each token's user (roles, disabled) and the token
// (expiry, revocation). A change to either, committed on any replica,
// tells every replica to purge it, so that a disabled user's token or a
// revoked token is refused everywhere at once, not within
// ttlcache.ReadTTL; the entries are indexed by user, and a user notice
// drops only its users' (ttlcache.PurgeTag). Sessions are read from the database on every request
// and need no notice.

// notifyUserChanged tells every replica that userID's account or credentials
// changed.
func notifyUserChanged(tx lanyard.NoticeStore, userID int64) error {
	return tx.Notify(lanyard.NoticeUser, strconv.FormatInt(userID, 10))
}

// Follow purges the token cache on the notices of n and on their loss,
// until cancel is called.
func (s *Identity) Follow(n lanyard.Notices) (cancel func()) {
	// A user notice names its users (lanyard.NotifyIDs): only their
	// entries go, so someone minting or revoking their own tokens in a
	// loop cannot empty the cache on every replica. A payload naming
	// nobody (another release's) purges it all.
	stop1 := n.Subscribe(lanyard.NoticeUser, func(payload string) {
		ids := lanyard.ParseIDs(payload)
		if len(ids) == 0 {
			s.tokenCache.Purge()
		}
		for _, id := range ids {
			s.tokenCache.PurgeTag(id)
		}
	})
	stop2 := n.Subscribe(lanyard.NoticeCache, func(payload string) {
		if payload == lanyard.NoticeCacheTokens {
			s.tokenCache.Purge()
		}
	})
	stop3 := n.OnLost(s.tokenCache.Purge)
	return func() { stop1(); stop2(); stop3() }
}
