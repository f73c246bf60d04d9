package directory_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// reader is the test's directory: it returns the snapshots and deltas the
// test builds (the real LDAP reading is internal/directory's, tested
// against Samba and slapd there).
type reader struct {
	mu       sync.Mutex
	full     *directory.Snapshot
	delta    *directory.Delta
	err      error
	fulls    int
	states   []string // the states Incremental was asked from
	binds    map[string]string
	entries  map[string]*directory.Entry
	password string // the bind password the reader was given last
}

func (r *reader) Full(_ context.Context, _ *lanyard.DirectorySource, pw string) (*directory.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fulls++
	r.password = pw
	if r.err != nil {
		return nil, r.err
	}
	return r.full, nil
}

func (r *reader) Incremental(_ context.Context, _ *lanyard.DirectorySource, pw, state string) (*directory.Delta, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, state)
	r.password = pw
	if r.err != nil {
		return nil, r.err
	}
	return r.delta, nil
}

func (r *reader) Authenticate(_ context.Context, _ *lanyard.DirectorySource, _, login, pw string) (*directory.Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	if want, ok := r.binds[login]; !ok || want != pw {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "invalid credentials")
	}
	return r.entries[login], nil
}

type env struct {
	stack *servicetest.Stack
	dir   *directory.Directory
	r     *reader
	admin *lanyard.Principal
	clock *servicetest.Clock
	src   *directory.Source
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, st lanyard.Store) *env { return newEnvTB(t, st) }

func newEnvTB(t testing.TB, st lanyard.Store) *env {
	r := &reader{binds: map[string]string{}, entries: map[string]*directory.Entry{}}
	clock := servicetest.NewClock(t0)
	stack := servicetest.New(t, servicetest.Options{Store: st, Now: clock.Now, DirectoryReader: r})
	e := &env{stack: stack, dir: stack.Service.Directory, r: r, admin: stack.Admin, clock: clock}
	pw := "s3cret-bind"
	src, err := e.dir.CreateSource(context.Background(), e.admin, directory.SourceInput{Name: "corp", Kind: "ad", URL: "ldaps://dc.example.test",
		BindDN: "CN=svc,DC=example,DC=test", BindPassword: &pw, BaseDN: "DC=example,DC=test", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	return e
}

func entry(login, ext string, groups ...string) directory.Entry {
	return directory.Entry{DN: "CN=" + login + ",OU=Staff,DC=example,DC=test", ExternalID: ext, Login: login,
		UPN: login + "@example.test", DisplayName: strings.ToUpper(login[:1]) + login[1:], Email: login + "@example.test",
		ManagerEmail: "boss@example.test", Groups: groups}
}

func (e *env) sync(t *testing.T, dry bool) *directory.Report {
	t.Helper()
	rep, err := e.dir.Sync(t.Context(), e.admin, e.src.ID, dry)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (e *env) user(t *testing.T, login string) *lanyard.User {
	t.Helper()
	var u *lanyard.User
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) (err error) { u, err = tx.UserByLogin(login); return })
	return u
}

func (e *env) card(t *testing.T, id int64) *lanyard.Card {
	t.Helper()
	var c *lanyard.Card
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) (err error) { c, err = tx.CardByID(id); return })
	return c
}

// issued gives u an issued card holding a smart card logon certificate
// of the built-in CA (records, as an issue leaves them).
func (e *env) issued(t *testing.T, u *lanyard.User, serial string) (*lanyard.Card, *lanyard.Certificate) {
	t.Helper()
	card := storetest.NewCard(serial, u.ID)
	var cert *lanyard.Certificate
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error {
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		cert = storetest.NewCertificate("builtin", "7a"+serial, u.ID)
		cert.CardID, cert.Template, cert.Status, cert.NotBefore, cert.NotAfter = card.ID, "smartcard-logon", lanyard.CertWritten, t0, t0.Add(300*24*time.Hour)
		return tx.CreateCertificates([]*lanyard.Certificate{cert})
	})
	return card, cert
}

func (e *env) cert(t *testing.T, id int64) *lanyard.Certificate {
	t.Helper()
	var c *lanyard.Certificate
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) (err error) { c, err = tx.CertificateByID(id); return })
	return c
}

func (e *env) events(t *testing.T, action string) []*lanyard.AuditEvent {
	t.Helper()
	var out []*lanyard.AuditEvent
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		evs, err := tx.ListAudit(lanyard.AuditFilter{Action: action})
		out = evs
		return err
	})
	return out
}
