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
// their cards to the leaver handling (Leavers). Rules: docs/directory.md,
// "SCIM provisioning".
package provisioning

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
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
}

// Provisioning implements the SCIM operations.
type Provisioning struct {
	rec      lanyard.Recorder
	rand     io.Reader
	log      *slog.Logger
	base     string
	leavers  Leavers
	credsEnd func()
}

// New checks cfg and returns a Provisioning.
func New(cfg Config) (*Provisioning, error) {
	if cfg.Store == nil || cfg.Now == nil || cfg.Rand == nil {
		return nil, errors.New("provisioning: Store, Now and Rand are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CredentialsEnded == nil {
		cfg.CredentialsEnded = func() {}
	}
	return &Provisioning{rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, rand: cfg.Rand, log: cfg.Log,
		base: strings.TrimRight(cfg.BaseURL, "/") + "/scim/v2", leavers: cfg.Leavers, credsEnd: cfg.CredentialsEnded}, nil
}

// BaseURL is the SCIM endpoint's URL, for meta.location.
func (s *Provisioning) BaseURL() string { return s.base }
