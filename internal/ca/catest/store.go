// Package catest holds test doubles for CA code: an in-memory
// lanyard.Store that implements only what a locally run CA uses (CA
// records, settings, the audit log), and a sealer with a throw-away key.
//
// The fake keeps the contract's transaction semantics: Update works on a
// copy and publishes it only when fn returns nil, so a failed Update leaves
// nothing behind, and writers are serialized. Values are copied in and out,
// as a database would, so callers cannot change stored state by aliasing.
// Everything else in lanyard.Tx answers EInternal "not implemented in fake".
package catest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notices"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// Store is an in-memory lanyard.Store for CA tests.
type Store struct {
	mu  sync.RWMutex
	st  state
	bus notices.Bus // change notices, delivered after their Update published
}

type state struct {
	cas      map[string]*lanyard.CARecord
	settings map[string][]byte
	audit    []*lanyard.AuditEvent
}

var (
	_ lanyard.Store = (*Store)(nil)
	_ lanyard.Tx    = (*tx)(nil)
)

// NewStore returns an empty store. The zero Store is not usable.
func NewStore() *Store {
	return &Store{st: state{cas: map[string]*lanyard.CARecord{}, settings: map[string][]byte{}}}
}

// View runs fn in a read-only transaction: writes fail with EInternal.
func (s *Store) View(ctx context.Context, fn func(lanyard.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(&tx{st: &s.st, readOnly: true})
}

// Update runs fn on a copy of the state and publishes the copy only if fn
// returns nil.
func (s *Store) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := s.update(fn)
	if err != nil {
		return err
	}
	for _, n := range t.notes.List() {
		s.bus.Deliver(n)
	}
	return nil
}

// update is Update under the lock: it returns the transaction that
// published.
func (s *Store) update(fn func(lanyard.Tx) error) (*tx, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	work := state{
		cas:      maps.Clone(s.st.cas),
		settings: maps.Clone(s.st.settings),
		audit:    slices.Clip(s.st.audit), // append copies; stored events are never modified
	}
	t := &tx{st: &work, notes: &notices.Queue{}}
	if err := fn(t); err != nil {
		return nil, err
	}
	s.st = work
	return t, nil
}

// Notices delivers the notices of committed Updates (lanyard.Notices).
func (s *Store) Notices() lanyard.Notices { return &s.bus }

// Engine names the fake.
func (s *Store) Engine() string { return "memory" }

// Ping always succeeds.
func (s *Store) Ping(context.Context) error { return nil }

// Close does nothing.
func (s *Store) Close() error { return nil }

// tx is one transaction over a state.
type tx struct {
	st       *state
	readOnly bool
	notes    *notices.Queue
}

// Notify queues a notice until the Update publishes (lanyard.NoticeStore).
func (t *tx) Notify(kind lanyard.NoticeKind, payload string) error {
	if err := t.writable("Notify"); err != nil {
		return err
	}
	n, err := notices.Make(kind, payload)
	if err == nil {
		t.notes.Add(n)
	}
	return err
}

func (t *tx) writable(op string) error {
	if t.readOnly {
		return lanyard.Errorf(lanyard.EInternal, "catest: %s in a read-only transaction", op)
	}
	return nil
}

func (t *tx) CreateCA(c *lanyard.CARecord) error {
	if err := t.writable("CreateCA"); err != nil {
		return err
	}
	if c.Name == "" {
		return lanyard.Errorf(lanyard.EInvalid, "catest: CA name is empty")
	}
	if _, dup := t.st.cas[c.Name]; dup {
		return lanyard.Errorf(lanyard.EConflict, "CA %q already exists", c.Name)
	}
	cp := copyCA(c)
	cp.CreatedAt = dbTime(c.CreatedAt)
	cp.CRLUpdated = dbTime(c.CRLUpdated)
	t.st.cas[c.Name] = cp
	return nil
}

func (t *tx) CAByName(name string) (*lanyard.CARecord, error) {
	c, ok := t.st.cas[name]
	if !ok {
		return nil, lanyard.Errorf(lanyard.ENotFound, "CA %q not found", name)
	}
	return copyCA(c), nil
}

func (t *tx) ListCAs() ([]*lanyard.CARecord, error) {
	out := make([]*lanyard.CARecord, 0, len(t.st.cas))
	for _, c := range t.st.cas {
		out = append(out, copyCA(c))
	}
	slices.SortFunc(out, func(a, b *lanyard.CARecord) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (t *tx) Setting(key string) ([]byte, error) {
	v, ok := t.st.settings[key]
	if !ok {
		return nil, lanyard.Errorf(lanyard.ENotFound, "setting %q not found", key)
	}
	return bytes.Clone(v), nil
}

func (t *tx) PutSetting(key string, value []byte) error {
	if err := t.writable("PutSetting"); err != nil {
		return err
	}
	t.st.settings[key] = bytes.Clone(value)
	return nil
}

// AppendAudit assigns Seq, PrevHash and Hash as the contract says.
func (t *tx) AppendAudit(e *lanyard.AuditEvent) error {
	if err := t.writable("AppendAudit"); err != nil {
		return err
	}
	if e.Action == "" || e.Actor == "" {
		return lanyard.Errorf(lanyard.EInvalid, "catest: audit event needs an action and an actor")
	}
	if len(e.Details) > 0 && !json.Valid(e.Details) {
		return lanyard.Errorf(lanyard.EInvalid, "catest: audit details are not JSON")
	}
	var prev []byte
	if n := len(t.st.audit); n > 0 {
		prev = t.st.audit[n-1].Hash
	}
	e.Seq = int64(len(t.st.audit)) + 1
	e.Time = dbTime(e.Time)
	e.PrevHash = bytes.Clone(prev)
	e.Hash = e.CanonicalHash(prev)
	cp := *e
	cp.Details = bytes.Clone(e.Details)
	t.st.audit = append(t.st.audit, &cp)
	return nil
}

// ListAudit honours every AuditFilter field.
func (t *tx) ListAudit(f lanyard.AuditFilter) ([]*lanyard.AuditEvent, error) {
	var out []*lanyard.AuditEvent
	for _, e := range t.st.audit {
		if e.Seq <= f.AfterSeq ||
			(f.Action != "" && e.Action != f.Action) ||
			(f.ObjectType != "" && e.ObjectType != f.ObjectType) ||
			(f.ObjectID != "" && e.ObjectID != f.ObjectID) ||
			(f.Actor != "" && e.Actor != f.Actor) {
			continue
		}
		cp := *e
		cp.Details = bytes.Clone(e.Details)
		out = append(out, &cp)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

func copyCA(c *lanyard.CARecord) *lanyard.CARecord {
	cp := *c
	cp.CertDER = bytes.Clone(c.CertDER)
	cp.ChainDER = make([][]byte, len(c.ChainDER))
	for i, d := range c.ChainDER {
		cp.ChainDER[i] = bytes.Clone(d)
	}
	cp.SealedKey = bytes.Clone(c.SealedKey)
	cp.CRLDER = bytes.Clone(c.CRLDER)
	return &cp
}

// dbTime stores times as both engines do: UTC, microseconds.
func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// NewSealer returns a sealer under a fresh random master key.
func NewSealer(tb testing.TB) *seal.AESGCM {
	tb.Helper()
	key := make([]byte, seal.KeySize)
	if _, err := rand.Read(key); err != nil {
		tb.Fatal(err)
	}
	s, err := seal.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
