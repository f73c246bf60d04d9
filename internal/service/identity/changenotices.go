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
// ttlcache.ReadTTL. Sessions are read from the database on every request
// and need no notice.

// notifyUserChanged tells every replica that userID's account or credentials
// changed.
func notifyUserChanged(tx lanyard.NoticeStore, userID int64) error {
	return tx.Notify(lanyard.NoticeUser, strconv.FormatInt(userID, 10))
}

// Follow purges the token cache on the notices of n and on their loss,
// until cancel is called.
func (s *Identity) Follow(n lanyard.Notices) (cancel func()) {
	stop1 := n.Subscribe(lanyard.NoticeUser, func(string) { s.tokenCache.Purge() })
	stop2 := n.Subscribe(lanyard.NoticeCache, func(payload string) {
		if payload == lanyard.NoticeCacheTokens {
			s.tokenCache.Purge()
		}
	})
	stop3 := n.OnLost(s.tokenCache.Purge)
	return func() { stop1(); stop2(); stop3() }
}
