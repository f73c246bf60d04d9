//go:build integration

package directory_test

import (
	"context"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

func openPG(t *testing.T, dsn string) lanyard.Store {
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDirectoryPostgres(t *testing.T) {
	runCases(t, func(t *testing.T) lanyard.Store { return openPG(t, pgtest.FreshSchema(t)) })
}

// blocking is a reader whose full read waits until released, so that a
// second replica tries while the first one syncs.
type blocking struct {
	*reader
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blocking) Full(ctx context.Context, src *lanyard.DirectorySource, pw string) (*directory.Snapshot, error) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	return b.reader.Full(ctx, src, pw)
}

// TestSyncRunsOnceAcrossReplicas: two servers on one PostgreSQL; while
// the first syncs a source, the second's periodic run skips it and its
// Sync now is refused; the users are created once.
func TestSyncRunsOnceAcrossReplicas(t *testing.T) {
	dsn := pgtest.FreshSchema(t)
	r := &reader{full: &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada"), entry("bob", "g-bob")}, State: "s1"}}
	b := &blocking{reader: r, started: make(chan struct{}), release: make(chan struct{})}
	one := servicetest.New(t, servicetest.Options{Store: openPG(t, dsn), DirectoryReader: b})
	two := servicetest.New(t, servicetest.Options{Store: openPG(t, dsn), Key: one.Key, DirectoryReader: r, NoSetup: true})
	pw := "pw"
	src, err := one.Service.Directory.CreateSource(t.Context(), one.Admin, directory.SourceInput{Name: "corp", Kind: "ad",
		URL: "ldaps://dc.example.test", BindDN: "CN=svc,DC=example,DC=test", BindPassword: &pw, BaseDN: "DC=example,DC=test", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := one.Service.Directory.RunDue(context.Background())
		done <- err
	}()
	<-b.started
	reps, err := two.Service.Directory.RunDue(t.Context())
	if err != nil || len(reps) != 0 {
		t.Errorf("second replica's run: %v, %d reports (want skipped)", err, len(reps))
	}
	_, err = two.Service.Directory.Sync(t.Context(), one.Admin, src.ID, false)
	servicetest.WantErr(t, "sync now elsewhere", err, lanyard.EConflict, "being synced")
	close(b.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var evs []*lanyard.AuditEvent
	if err := one.Store.View(t.Context(), func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Action: "directory.sync.done"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Errorf("%d completed syncs, want 1", len(evs))
	}
	if r.fulls != 1 {
		t.Errorf("%d full reads, want 1", r.fulls)
	}
	// Due again only after the interval.
	if reps, err := two.Service.Directory.RunDue(t.Context()); err != nil || len(reps) != 0 {
		t.Errorf("run right after: %v, %d", err, len(reps))
	}
}
