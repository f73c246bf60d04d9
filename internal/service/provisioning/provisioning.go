// Package provisioning is the SCIM 2.0 capability (RFC 7643, RFC 7644):
// the backend of /scim/v2/ through which a cloud directory (Entra ID,
// Okta) pushes users and groups, and the SCIM tokens those clients
// authenticate with. It speaks the protocol's resources (internal/scim)
// because PATCH is applied to the resource as the client sees it, read
// and written in one transaction; internal/web only carries HTTP.
//
// A pushed user is a lanyard.User with Source SourceSCIM whose
// ExternalID is the SCIM id Lanyard assigned; what the client wrote
// beyond the account's fields (its externalId, name parts, e-mails, the
// manager's id) is kept beside it (lanyard.SCIMUser). A pushed group is
// a lanyard.SCIMGroup; its members' User.Groups hold its display name,
// by which policies link to it. Deactivating a user disables the account
// in the transaction that ends their sessions and API tokens and hands
// their cards to the leaver handling (Leavers). Every user and group
// belongs to the SCIM client that pushed it (its token's name up to
// '/', lanyard.SCIMClient) and is seen and changed by that client only.
// Rules: docs/directory.md, "SCIM provisioning".
package provisioning

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/scim"
)

// Leavers handles the cards of a user who left, in the caller's
// transaction, as the user's policy says (the card workflows:
// cardops.Cards.LeaveTx). u is the account as written (disabled; a
// deleted one out of its groups); before is it as it was before the
// change, from which the policy (and so the leaver action) is computed:
// a SCIM DELETE empties the groups a policy may be linked by. after,
// when not nil, is called once tx has committed (to tell agents of
// changed AirCards).
type Leavers interface {
	LeaveTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, u, before *lanyard.User) (after func(context.Context), err error)
}

// Config holds the capability's dependencies. Store, Now and Rand are
// required.
type Config struct {
	Store lanyard.Store
	Now   func() time.Time
	Rand  io.Reader
	Log   *slog.Logger
	// BaseURL is the server's external URL; resources' meta.location
	// is BaseURL + "/scim/v2/…".
	BaseURL string
	// Leavers handles a deactivated user's cards. nil: the account is
	// disabled and its sessions end, but its cards are left as they
	// are.
	Leavers Leavers
	// CredentialsEnded, when set, is called after a commit that revoked
	// a user's API tokens (identity's token cache is purged).
	CredentialsEnded func()
	// FilterScanLimit caps how many users or groups a filter without an
	// index (anything but userName, externalId, id or displayName
	// equality) evaluates in one request; a client with more gets 400
	// tooMany. 0: DefaultFilterScanLimit.
	FilterScanLimit int
}

// DefaultFilterScanLimit is FilterScanLimit's default: each candidate is
// rendered with a query for its groups, so a request scanning 5,000
// takes a second or so; the lookups clients sync with are indexed.
const DefaultFilterScanLimit = 5000

// Provisioning implements the SCIM operations.
type Provisioning struct {
	rec      lanyard.Recorder
	rand     io.Reader
	log      *slog.Logger
	base     string
	leavers  Leavers
	credsEnd func()
	scanMax  int
}

// New checks cfg and returns a Provisioning.
func New(cfg Config) (*Provisioning, error) {
	if cfg.Store == nil || cfg.Now == nil || cfg.Rand == nil {
		return nil, errors.New("provisioning: Store, Now and Rand are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.FilterScanLimit <= 0 {
		cfg.FilterScanLimit = DefaultFilterScanLimit
	}
	if cfg.CredentialsEnded == nil {
		cfg.CredentialsEnded = func() {}
	}
	return &Provisioning{rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, rand: cfg.Rand, log: cfg.Log,
		base: strings.TrimRight(cfg.BaseURL, "/") + "/scim/v2", leavers: cfg.Leavers, credsEnd: cfg.CredentialsEnded,
		scanMax: cfg.FilterScanLimit}, nil
}

// tooMany refuses a filter that would scan n resources, above the limit
// (RFC 7644 section 3.12: 400 tooMany, "the specified filter yields
// many more results than the server is willing to calculate").
func (s *Provisioning) tooMany(n int, what string) error {
	if n <= s.scanMax {
		return nil
	}
	return scim.Errorf(scim.TypeTooMany, "this filter is evaluated over all %d %s, more than the %d Lanyard scans per request; filter by userName, externalId or id (displayName or id for groups) equality", n, what, s.scanMax)
}

// BaseURL is the SCIM endpoint's URL, for meta.location.
func (s *Provisioning) BaseURL() string { return s.base }
