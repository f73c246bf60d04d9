// Package servicetest assembles the service stack for tests: a store
// (SQLite in a data directory unless one is given), a sealer from a
// master key, the built-in CA and the service, set up as on a first
// start. It is the one test assembly of the service: unit tests, webtest
// and, through it, the web, agent, end-to-end and benchmark tests use it,
// so a change of the service's construction is made here once.
//
// Everything runs in process; no service of the machine is needed.
package servicetest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	_ "github.com/lanyard-cms/lanyard/internal/ca/builtin" // the "builtin" CA kind
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// DefaultBaseURL is the base URL of a test service that serves no HTTP:
// a loopback port nothing listens on.
const DefaultBaseURL = "http://127.0.0.1:1"

// Options adjust a test stack; the zero value is a first start on a new
// SQLite store with a random master key.
type Options struct {
	// Dir is the data directory of the SQLite store, Dir/lanyard.db
	// (default: a new temporary directory). A stack started again on the
	// same Dir and Key is a restart of the server.
	Dir string
	// Key is the master key of the sealer (default: random).
	Key []byte
	// Store is the store to run on instead of SQLite in Dir (webtest
	// passes PostgreSQL or SQLite); the stack closes it when it closes.
	Store lanyard.Store
	// WrapStore, when set, wraps the store the service is given (a test
	// that interleaves writes); the CA and Stack.Store keep the real one.
	WrapStore func(lanyard.Store) lanyard.Store
	// Now is the service's clock (default time.Now).
	Now func() time.Time
	// CANow is the CA's clock (default time.Now).
	CANow func() time.Time
	// BaseURL is the server's base URL, for the CA's CRL and OCSP URLs
	// and the service's links (default DefaultBaseURL).
	BaseURL string
	// Notifier receives the service's e-mail notifications (default:
	// none, unless NewNotifier makes one).
	Notifier service.Notifier
	// NewNotifier, when set, is called with the stack's store and sealer
	// before the service starts (webtest builds its outbox with it); what
	// it returns is the service's notifier unless Notifier is set.
	NewNotifier func(lanyard.Store, *seal.AESGCM) service.Notifier
	// Log is the service's log (default: discarded).
	Log *slog.Logger
	// Cards is the service's card access (cardtest.Access; default none).
	Cards lanyard.CardAccess
	// Agents, when set instead, builds the card access from the
	// workstations capability (service.Config.Agents): webtest builds
	// the agent hub with it.
	Agents func(*workstations.Workstations) lanyard.CardAccess
	// BootstrapTokenTTL and TokensRevoked are passed to service.Config.
	BootstrapTokenTTL time.Duration
	TokensRevoked     func()
	// NoSetup leaves Setup to the test (Token and Admin stay empty).
	NoSetup bool
	// DirectoryReader is the directory sources' reader
	// (service.Config.DirectoryReader; default: the LDAP reader).
	DirectoryReader directory.Reader
	// FirstCAs names further built-in CAs the service is given ahead of
	// "builtin" (tests of look-ups by serial, which is unique per CA
	// only).
	FirstCAs []string
}

// Stack is a running test service and what it was built from.
type Stack struct {
	Service *service.Service
	Store   lanyard.Store // the real store, also when Options.WrapStore wraps the service's
	Sealer  *seal.AESGCM
	CA      ca.CA
	// Dir and Key are the data directory (empty with a given store) and
	// master key in use: pass them in Options to restart.
	Dir string
	Key []byte
	// Token is the bootstrap administrator's API token that Setup made
	// ("" on a restart or with NoSetup).
	Token string
	// Admin is the bootstrap administrator (nil with NoSetup).
	Admin *lanyard.Principal

	closeOnce sync.Once
}

// New builds and sets up a stack on tb's behalf; it closes when the test
// ends, or earlier with Close.
func New(tb testing.TB, o Options) *Stack {
	tb.Helper()
	ctx := context.Background()
	s := &Stack{Store: o.Store, Dir: o.Dir, Key: o.Key}
	if s.Store == nil {
		if s.Dir == "" {
			s.Dir = tb.TempDir()
		}
		st, err := sqlitetest.Open(ctx, filepath.Join(s.Dir, "lanyard.db"))
		if err != nil {
			tb.Fatal(err)
		}
		s.Store = st
	}
	tb.Cleanup(s.Close)
	if s.Key == nil {
		s.Key = make([]byte, seal.KeySize)
		rand.Read(s.Key)
	}
	sealer, err := seal.New(s.Key)
	if err != nil {
		tb.Fatal(err)
	}
	s.Sealer = sealer
	base := o.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	s.CA, err = ca.New(ctx, "builtin", ca.Config{Name: "builtin", Store: s.Store, Sealer: sealer, BaseURL: base, Now: orNow(o.CANow), Rand: rand.Reader})
	if err != nil {
		tb.Fatal(err)
	}
	var cas []ca.CA
	for _, name := range o.FirstCAs {
		c, err := ca.New(ctx, "builtin", ca.Config{Name: name, Store: s.Store, Sealer: sealer, BaseURL: base, Now: orNow(o.CANow), Rand: rand.Reader})
		if err != nil {
			tb.Fatal(err)
		}
		cas = append(cas, c)
	}
	cfg := service.Config{Store: s.Store, Sealer: sealer, CAs: append(cas, s.CA), Now: orNow(o.Now), Rand: rand.Reader, BaseURL: base,
		Notifier: o.Notifier, Log: o.Log, BootstrapTokenTTL: o.BootstrapTokenTTL, TokensRevoked: o.TokensRevoked, Agents: o.Agents,
		DirectoryReader: o.DirectoryReader}
	if o.Cards != nil {
		cfg.Agents = func(*workstations.Workstations) lanyard.CardAccess { return o.Cards }
	}
	if o.WrapStore != nil {
		cfg.Store = o.WrapStore(s.Store)
	}
	if o.NewNotifier != nil {
		if n := o.NewNotifier(s.Store, sealer); cfg.Notifier == nil {
			cfg.Notifier = n
		}
	}
	if s.Service, err = service.New(cfg); err != nil {
		tb.Fatal(err)
	}
	if !o.NoSetup {
		s.setup(tb)
	}
	return s
}

// setup runs Setup as lanyard serve does at every start, and looks up the
// bootstrap administrator.
func (s *Stack) setup(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	tok, err := s.Service.Setup(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	s.Token = tok
	system := &lanyard.Principal{User: &lanyard.User{Login: "system"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	admin, err := s.Service.Identity.GetUser(ctx, system, service.BootstrapLogin)
	if err != nil {
		tb.Fatal(err)
	}
	s.Admin = &lanyard.Principal{User: admin, Roles: admin.Roles}
}

// Close stops the service and closes the store, once: a restart test
// closes the stack before it starts the next one on the same directory.
func (s *Stack) Close() {
	s.closeOnce.Do(func() {
		if s.Service != nil {
			s.Service.Close()
		}
		s.Store.Close()
	})
}

func orNow(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
