// Package directory is the directory capability (docs/directory.md,
// "Directory sources and sync"): the LDAP and Active Directory sources
// administrators configure (bind password sealed at rest), the sync that
// applies what a source's reader returns to Lanyard's users — created,
// updated, disabled when they leave (their cards handled by the card
// workflows' LeaveTx), their cards' update marked due when a move changes
// their policy —, the periodic sync run once across replicas (a lease
// row per source in job_runs, as the Card Monitor's), and the password
// check of directory users by an LDAP bind (RFC 4511 4.2) for the
// identity capability's sign-in.
//
// The LDAP reading itself is internal/directory's; this package sees it
// through the small Reader interface it declares (ldap.go adapts it), so
// the sync is tested with real stores and snapshots built by the tests.
package directory

import (
	"context"
	"log/slog"
	"time"

	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// Entry is one directory user as a reader returns it. Groups are the
// normalized DNs (RFC 4514, lowercase) of every group the user is in,
// nested ones included; ExternalID is the immutable identifier
// (objectGUID on Active Directory, entryUUID elsewhere).
type Entry struct {
	DN           string
	ExternalID   string
	Login        string
	UPN          string
	DisplayName  string
	Email        string
	ManagerEmail string
	Groups       []string
	Disabled     bool
}

// Problem is an entry the reader could not use (no identifier, an
// attribute it could not read): a report error line.
type Problem struct {
	DN      string
	Message string
}

// Snapshot is a full read: every user the source's filter selects, and
// the state an incremental read starts from next.
type Snapshot struct {
	Entries  []Entry
	State    string
	Problems []Problem
}

// Delta is an incremental read: the users changed since the state given
// (uSNChanged on Active Directory, modifyTimestamp elsewhere), the
// external IDs of those deleted, and the state after it.
type Delta struct {
	Changed  []Entry
	Deleted  []string
	State    string
	Problems []Problem
}

// Reader reads a directory source. password is the opened bind
// password. Errors are lanyard errors: EUnavailable when the directory
// cannot be reached (network, TLS), EUnauthenticated when the service
// account's bind fails.
type Reader interface {
	Full(ctx context.Context, src *lanyard.DirectorySource, password string) (*Snapshot, error)
	Incremental(ctx context.Context, src *lanyard.DirectorySource, password, state string) (*Delta, error)
	// Authenticate binds as login with userPassword (RFC 4511 4.2) and
	// returns the user's entry: EUnauthenticated for a wrong password
	// or an unknown login, EUnavailable when the directory cannot be
	// reached.
	Authenticate(ctx context.Context, src *lanyard.DirectorySource, password, login, userPassword string) (*Entry, error)
}

// Cards is what the sync needs of the card workflows
// (cardops.Cards.LeaveTx, wired in internal/service): a leaver's cards
// handled in the sync's transaction; after is called once it committed.
type Cards interface {
	LeaveTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, u *lanyard.User, action lanyard.LeaverAction) (serials []string, after func(), err error)
}

// Defaults.
const (
	DefaultInterval = 15 * time.Minute
	DefaultBatch    = 200
	DefaultLease    = 10 * time.Minute
	// maxListed bounds each list of a report (the counts stay exact).
	maxListed = 1000
)

// Config holds the capability's dependencies; Store, Sealer, Now and
// Reader are required.
type Config struct {
	Store  lanyard.Store
	Sealer seal.Sealer
	Now    func() time.Time
	Log    *slog.Logger
	Reader Reader
	Cards  Cards // nil: a leaver's cards are left alone (tests of users only)
	// Interval is how often RunDue syncs a source that sets none.
	Interval time.Duration
	// Batch is how many entries one transaction applies.
	Batch int
	// Lease bounds how long a replica that stopped mid-sync keeps the
	// others from syncing that source.
	Lease time.Duration
	// Holder names this replica in the lease rows (default:
	// jobs.HolderName()).
	Holder string
}

// Directory is the directory capability.
type Directory struct {
	cfg  Config
	rec  lanyard.Recorder
	log  *slog.Logger
	jobs *jobs.Runner // the sources' sync leases
	// batchDone, when set (tests), is called after each committed batch.
	batchDone func(n int)
}

// New returns a Directory.
func New(cfg Config) (*Directory, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Now == nil || cfg.Reader == nil {
		return nil, lanyard.Errorf(lanyard.EInternal, "directory: Store, Sealer, Now and Reader are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	runner, err := jobs.New(jobs.Config{Store: cfg.Store, Now: cfg.Now, Log: log, Holder: cfg.Holder, Lease: cfg.Lease})
	if err != nil {
		return nil, err
	}
	return &Directory{cfg: cfg, rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, log: log, jobs: runner}, nil
}

// admin refuses anyone but an administrator.
func admin(p *lanyard.Principal, what string) error {
	if p == nil || !p.Has(lanyard.RoleAdministrator) {
		return lanyard.Errorf(lanyard.EForbidden, "only an administrator %s", what)
	}
	return nil
}
