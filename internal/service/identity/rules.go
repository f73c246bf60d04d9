package identity

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Identity's account rules for the capabilities that write accounts
// pushed from elsewhere (internal/service/provisioning, SCIM), so that an
// account is held to the same rules whichever way it arrives.

// ValidLogin reports whether s is a login Lanyard accepts: 1 to 128
// ASCII letters, digits and - _ . @.
func ValidLogin(s string) bool { return lanyard.ValidLogin(s) }

// ValidEmail reports whether s is empty or one plain address.
func ValidEmail(s string) bool { return validEmail(s) }

// ValidUPN reports whether upn is printable ASCII without spaces.
func ValidUPN(upn string) bool { return validUPN(upn) }

// EndCredentials ends userID's browser sessions and pending logins and
// revokes its API tokens in tx, as disabling an account here does, and
// says how many sessions and tokens it ended.
func EndCredentials(tx interface {
	lanyard.SessionStore
	lanyard.TokenStore
	lanyard.NoticeStore
}, userID int64) (sessions, tokens int, err error) {
	return endCredentials(tx, userID)
}

// UPNChangeAllowed refuses to change u's UPN from old while certificates
// or pending requests still name old (see upnChangeAllowed), judged at
// now.
func UPNChangeAllowed(tx interface {
	lanyard.CertificateStore
	lanyard.RequestStore
}, u *lanyard.User, old string, now time.Time) error {
	at := &Identity{rec: lanyard.Recorder{Now: func() time.Time { return now }}}
	return at.upnChangeAllowed(tx, u, old)
}

// PurgeTokenCache drops the cached token look-ups, so that tokens revoked
// by another capability's transaction (EndCredentials) stop working at
// once rather than when the cache entry expires. Call it after commit.
func (s *Identity) PurgeTokenCache() { s.tokenCache.Purge() }
