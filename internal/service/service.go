// Package service is the composition root of Lanyard's application layer:
// New builds the capability packages (catalog, identity, pki, documents,
// workstations, cardops, the audit log) from one Config and wires the
// interfaces each declares for what it consumes. The capabilities turn
// requests from the web API (and through it the CLI and the web UI) into
// store transactions, CA calls and audit events; each state-changing
// method runs one Store.Update that writes the change and its audit event
// together (docs/architecture.md, "The store"). Role gates live at the
// edge (internal/web route table); object-level rules (a user may act
// only on their own objects) live in the capabilities.
package service

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/lanyard-cms/lanyard/internal/audit"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
	"github.com/lanyard-cms/lanyard/internal/service/provisioning"
	"github.com/lanyard-cms/lanyard/internal/service/sso"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

// Config holds the service's dependencies. All are required except Log.
type Config struct {
	Store   lanyard.Store
	Sealer  seal.Sealer
	CAs     []ca.CA // the first is the default CA for templates that name none
	Now     func() time.Time
	Rand    io.Reader
	Log     *slog.Logger
	BaseURL string
	// CRLValidity is how long a CRL is valid; it is re-signed at half of it.
	CRLValidity time.Duration
	// Notifier sends e-mail notifications (internal/notify's outbox);
	// nil: none are sent.
	Notifier Notifier
	// CardOperations is how many card operations run at once (0:
	// cardops.DefaultCardOperations); the others wait.
	CardOperations int
	// Throttle limits password guessing: the web layer's login and the
	// second-factor step-up (VerifySecondFactor) count failures in it
	// together. nil: the "login" throttle with auth.DefaultLimits made by
	// Throttles.
	Throttle *auth.Throttle
	// Throttles makes the guess throttles (login, AirCard connection
	// codes, pairing requests). nil: on PostgreSQL throttles kept in
	// Store, which every replica on the same database shares, their keys
	// hashed under a key the Sealer derives from the master key; on
	// SQLite (one process) throttles in memory (docs/security.md,
	// "Throttles across replicas").
	Throttles *auth.Throttles
	// BootstrapTokenTTL is the lifetime of the administrator token that
	// Setup makes on first start (0: DefaultBootstrapTokenTTL).
	BootstrapTokenTTL time.Duration
	// TokensRevoked, when set, is called after a change that revoked API
	// tokens has committed (RevokeToken, a staff password reset), so that
	// lanyard serve deletes DATA/bootstrap-token once its token is gone.
	TokensRevoked func()
	// Agents, when set, makes the card access of the card workflows: New
	// calls it once, after the workstations capability is built and
	// before anything can use cards, with the workstations that the
	// agent hub it builds serves (lanyard serve: agenthub.New, returning
	// hub.CardAccess(); tests: cardtest's access). nil: no cards are
	// reachable.
	Agents func(*workstations.Workstations) lanyard.CardAccess
	// DirectoryReader reads the directory sources (nil: the LDAP reader,
	// internal/directory); tests give one that returns their snapshots.
	DirectoryReader directory.Reader
	// DirectoryInterval is how often a directory source that sets no
	// interval of its own is synced (0: directory.DefaultInterval).
	DirectoryInterval time.Duration
	// JobHolder names this process in the directory sync's and first
	// start's lease rows (default jobs.HolderName(); lanyard serve:
	// jobs.ReplicaHolder).
	JobHolder string
	// KeyRecoveryTTL is how long a request to recover someone else's
	// archived key waits for its decision (0: archive.DefaultRecoveryTTL).
	KeyRecoveryTTL time.Duration
}

// Service holds the capabilities New built and wired. It has no
// operations of its own: callers take the capability they need
// (svc.Identity.CreateToken, svc.Cards.IssueCard …), and the web server
// gets each as the interface it declares.
type Service struct {
	Catalog      *catalog.Catalog           // card types, templates, policies, features
	Identity     *identity.Identity         // users, tokens, sessions, TOTP, secret answers
	PKI          *pki.PKI                   // certificates, CA requests, revocation, CRLs, OCSP
	Documents    *documents.Documents       // the documents check: forms, uploads, decisions
	Workstations *workstations.Workstations // pairing, agent TLS, AirCard codes and computers
	Cards        *cardops.Cards             // the card workflows: issue, clear, PIN and PUK, software stores, virtual cards
	Audit        *audit.Log                 // reading, verifying and checkpointing the audit chain
	Archive      *archive.Archive           // key archival: the KRA key, archived encryption keys
	Provisioning *provisioning.Provisioning // SCIM 2.0: pushed users and groups, SCIM tokens
	Directory    *directory.Directory       // directory sources, their sync, directory users' passwords
	SSO          *sso.SSO                   // OpenID Connect providers and the sign-in at them

	store lanyard.Store
	rec   lanyard.Recorder // the clock, audit events, transactions

	cards lanyard.CardAccess // workstations' cards (Config.Agents; nil: none)

	bootstrapTTL time.Duration // Config.BootstrapTokenTTL
	jobHolder    string        // Config.JobHolder

	unfollow []func() // ends the capabilities' change notice subscriptions (Close)
}

// New checks cfg and returns a Service. Call Close to stop its background
// writer.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sealer == nil || len(cfg.CAs) == 0 || cfg.Now == nil || cfg.Rand == nil {
		return nil, errors.New("service: Store, Sealer, CAs, Now and Rand are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CRLValidity <= 0 {
		cfg.CRLValidity = 24 * time.Hour
	}
	switch {
	case cfg.BootstrapTokenTTL == 0:
		cfg.BootstrapTokenTTL = DefaultBootstrapTokenTTL
	case cfg.BootstrapTokenTTL < 0 || cfg.BootstrapTokenTTL > identity.MaxTokenTTL:
		return nil, fmt.Errorf("service: the bootstrap token's lifetime %s is not between 0 and %s", cfg.BootstrapTokenTTL, identity.MaxTokenTTL)
	}
	if cfg.Throttles == nil {
		ts, err := sharedThrottles(cfg.Store, cfg.Sealer, cfg.Now)
		if err != nil {
			return nil, err
		}
		cfg.Throttles = ts
	}
	if cfg.Throttle == nil {
		t, err := cfg.Throttles.New("login", auth.DefaultLimits())
		if err != nil {
			return nil, err
		}
		cfg.Throttle = t
	}
	s := &Service{store: cfg.Store, rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, bootstrapTTL: cfg.BootstrapTokenTTL, jobHolder: cfg.JobHolder,
		Audit: audit.NewLog(cfg.Store, cfg.Now)}
	caNames := make([]string, len(cfg.CAs))
	for i, c := range cfg.CAs {
		caNames[i] = c.Name()
	}
	var err error
	if s.Catalog, err = catalog.New(catalog.Config{Store: cfg.Store, Sealer: cfg.Sealer, Now: cfg.Now, CAs: caNames}); err != nil {
		return nil, err
	}
	reader := cfg.DirectoryReader
	if reader == nil {
		reader = directory.LDAP{}
	}
	if s.Directory, err = directory.New(directory.Config{Store: cfg.Store, Sealer: cfg.Sealer, Now: cfg.Now, Log: cfg.Log,
		Reader: reader, Cards: leaverCards{s}, Interval: cfg.DirectoryInterval, Holder: cfg.JobHolder}); err != nil {
		return nil, err
	}
	// A notifier that also sends account notices (internal/notify's
	// Mailer does) gets those of the identity capability too.
	idNotifier, _ := cfg.Notifier.(identity.Notifier)
	s.Identity, err = identity.New(identity.Config{Store: cfg.Store, Sealer: cfg.Sealer, Now: cfg.Now, Rand: cfg.Rand, Log: cfg.Log,
		Throttle: cfg.Throttle, TokensRevoked: cfg.TokensRevoked, Policies: s.Catalog, Notifier: idNotifier, CAs: cfg.CAs,
		Directories: s.Directory})
	if err != nil {
		return nil, err
	}
	if s.SSO, err = sso.New(sso.Config{Store: cfg.Store, Sealer: cfg.Sealer, Now: cfg.Now, Rand: cfg.Rand, Log: cfg.Log, BaseURL: cfg.BaseURL,
		Throttle: cfg.Throttle, ThrottleKey: identity.AddressThrottleKey}); err != nil {
		return nil, err
	}
	s.PKI, err = pki.New(pki.Config{Store: cfg.Store, CAs: cfg.CAs, Now: cfg.Now, Log: cfg.Log, BaseURL: cfg.BaseURL,
		CRLValidity: cfg.CRLValidity, Catalog: s.Catalog, Requests: requestHook{s}})
	if err != nil {
		return nil, err
	}
	s.Documents, err = documents.New(documents.Config{Store: cfg.Store, CAs: cfg.CAs, Now: cfg.Now, Log: cfg.Log, BaseURL: cfg.BaseURL,
		Notifier: cfg.Notifier, Catalog: s.Catalog, Cards: cardops.CardIssues{}})
	if err != nil {
		return nil, err
	}
	var notifier workstations.Notifier
	if cfg.Notifier != nil {
		notifier = cfg.Notifier
	}
	s.Workstations, err = workstations.New(workstations.Config{Store: cfg.Store, Now: cfg.Now, Rand: cfg.Rand, CAs: cfg.CAs,
		PKI: s.PKI, Notifier: notifier, Agents: agentsOf{s}, Throttles: cfg.Throttles})
	if err != nil {
		return nil, err
	}
	if cfg.Agents != nil {
		s.cards = cfg.Agents(s.Workstations)
	}
	var cardNotifier cardops.Notifier
	if cfg.Notifier != nil {
		cardNotifier = cfg.Notifier
	}
	arcNotifier, _ := cfg.Notifier.(archive.Notifier)
	if s.Archive, err = archive.New(archive.Config{Store: cfg.Store, Sealer: cfg.Sealer, Now: cfg.Now, Rand: cfg.Rand,
		CAs: cfg.CAs, SecondFactor: s.Identity, Notifier: arcNotifier, RecoveryTTL: cfg.KeyRecoveryTTL}); err != nil {
		return nil, err
	}
	s.Cards, err = cardops.New(cardops.Config{Store: cfg.Store, Sealer: cfg.Sealer, CAs: cfg.CAs, Now: cfg.Now, Rand: cfg.Rand,
		Log: cfg.Log, Cards: s.cards, CardOperations: cfg.CardOperations, Notifier: cardNotifier, Runner: operation.New(cfg.Store, s.rec.Clock),
		Catalog: s.Catalog, PKI: s.PKI, Documents: s.Documents, SecondFactor: s.Identity, SecretAnswers: secretAnswersOf{s.Identity}, AirCards: s.Workstations,
		KeyArchive: archiveOf{s.Archive}})
	if err != nil {
		return nil, err
	}
	if s.Provisioning, err = provisioning.New(provisioning.Config{Store: cfg.Store, Now: cfg.Now, Rand: cfg.Rand, Log: cfg.Log,
		BaseURL: cfg.BaseURL, CredentialsEnded: s.Identity.PurgeTokenCache, Leavers: scimLeavers{s}}); err != nil {
		return nil, err
	}
	// Changes committed on any replica sharing the store (this one
	// included) reach the capabilities' caches and waiters at once
	// (docs/architecture.md, "Change notices").
	n := cfg.Store.Notices()
	s.unfollow = []func(){s.Catalog.Follow(n), s.Identity.Follow(n), s.SSO.Follow(n), s.Workstations.Follow(n)}
	return s, nil
}

// Close stops background work (the PKI's certificate writer) and the
// capabilities' change notice subscriptions.
func (s *Service) Close() {
	for _, cancel := range s.unfollow {
		cancel()
	}
	s.PKI.Close()
}

// Store exposes the store for read-only helpers such as readiness checks.
func (s *Service) Store() lanyard.Store { return s.store }

// ThrottleKeyPurpose is what the throttles' key hash is derived for from
// the master key (seal.Deriver).
const ThrottleKeyPurpose = "throttle keys"

// sharedThrottles returns the throttles of a server on store. On
// PostgreSQL, where several replicas may share the database, they are
// kept in it (lanyard.ThrottleStore), so N replicas give no more guesses
// than one. On SQLite, which serves one process, they stay in memory:
// exact there as well, while keeping them in the database would put two
// synchronous commits on SQLite's single writer, which every other change
// waits for, into every login (docs/security.md, "Throttles across
// replicas"). A store that keeps
// none (tests' memory stores) gets throttles in memory too.
func sharedThrottles(store lanyard.Store, sealer seal.Sealer, now func() time.Time) (*auth.Throttles, error) {
	ts, ok := store.(lanyard.ThrottleStore)
	if !ok || store.Engine() != "postgres" {
		return auth.NewThrottles(nil, nil, now)
	}
	d, ok := sealer.(seal.Deriver)
	if !ok {
		return nil, errors.New("service: the sealer cannot derive the throttles' hash key (seal.Deriver)")
	}
	key, err := d.DeriveKey(ThrottleKeyPurpose)
	if err != nil {
		return nil, err
	}
	return auth.NewThrottles(ts, key, now)
}
