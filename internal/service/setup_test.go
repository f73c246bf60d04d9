package service_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/audit"
	"github.com/lanyard-cms/lanyard/internal/ca"
	_ "github.com/lanyard-cms/lanyard/internal/ca/builtin"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

func mustService(t *testing.T, dir string, key []byte) (*service.Service, lanyard.Store) {
	return mustServiceWith(t, dir, key, nil)
}

func mustServiceWith(t *testing.T, dir string, key []byte, n service.Notifier, log ...*slog.Logger) (*service.Service, lanyard.Store) {
	return mustServiceOpts(t, dir, key, n, svcOpts{}, log...)
}

// svcOpts changes a test service: its clock (nil: time.Now), and the
// store it is given (wrap gets the real one; nil: unchanged).
type svcOpts struct {
	now  func() time.Time
	wrap func(lanyard.Store) lanyard.Store
}

func mustServiceOpts(t *testing.T, dir string, key []byte, n service.Notifier, o svcOpts, log ...*slog.Logger) (*service.Service, lanyard.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := o.now
	if now == nil {
		now = time.Now
	}
	sealer, _ := seal.New(key)
	authority, err := ca.New(ctx, "builtin", ca.Config{Name: "builtin", Store: st, Sealer: sealer, BaseURL: "http://127.0.0.1:1", Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	var given lanyard.Store = st
	if o.wrap != nil {
		given = o.wrap(st)
	}
	svc, err := service.New(service.Config{Store: given, Sealer: sealer, CAs: []ca.CA{authority}, Now: now, Rand: rand.Reader, BaseURL: "http://127.0.0.1:1", Notifier: n, Log: cmp.Or(append(log, nil)...)})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// TestSetupIsIdempotentAndSealsSecrets starts a service twice on one store:
// the first start creates the administrator, defaults and the card admin
// key master secret; the second changes nothing.
func TestSetupIsIdempotentAndSealsSecrets(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, seal.KeySize)
	svc, st := mustService(t, dir, key)
	ctx := context.Background()
	tok, err := svc.Setup(ctx)
	if err != nil || tok == "" {
		t.Fatalf("first Setup: %q %v", tok, err)
	}
	v, secret, err := svc.AdminMaster(ctx)
	if err != nil || v != 1 || len(secret) != 32 {
		t.Fatalf("AdminMaster: v%d len %d %v", v, len(secret), err)
	}
	var stored []byte
	storetest.MustView(t, st, func(tx lanyard.Tx) (err error) { stored, err = tx.Setting("card-admin-master/v1"); return })
	if bytes.Contains(stored, secret) {
		t.Fatal("the master secret is stored in the clear")
	}
	// The card type's default PIN is sealed too.
	var cts []*lanyard.CardType
	storetest.MustView(t, st, func(tx lanyard.Tx) (err error) { cts, err = tx.ListCardTypes(); return })
	for _, ct := range cts {
		if bytes.Contains(ct.SealedSecrets, []byte("123456")) {
			t.Fatalf("card type %s stores its default PIN in the clear", ct.Name)
		}
	}
	events := storetest.CheckAuditChain(t, st)
	svc.Close()
	st.Close()

	svc2, st2 := mustService(t, dir, key)
	defer st2.Close()
	defer svc2.Close()
	tok2, err := svc2.Setup(ctx)
	if err != nil || tok2 != "" {
		t.Fatalf("second Setup: %q %v", tok2, err)
	}
	v2, secret2, err := svc2.AdminMaster(ctx)
	if err != nil || v2 != 1 || !bytes.Equal(secret, secret2) {
		t.Fatalf("master secret changed across restarts")
	}
	if after := storetest.CheckAuditChain(t, st2); len(after) != len(events) {
		t.Fatalf("second start wrote %d audit events", len(after)-len(events))
	}
}

// TestWrongMasterKeyIsReported starts on an existing store with another
// master key: the CA refuses to open, naming the master key.
func TestWrongMasterKeyIsReported(t *testing.T) {
	dir := t.TempDir()
	svc, st := mustService(t, dir, bytes.Repeat([]byte{1}, seal.KeySize))
	svc.Close()
	st.Close()
	ctx := context.Background()
	st2, err := sqlite.Open(ctx, filepath.Join(dir, "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	sealer, _ := seal.New(bytes.Repeat([]byte{2}, seal.KeySize))
	_, err = ca.New(ctx, "builtin", ca.Config{Name: "builtin", Store: st2, Sealer: sealer, BaseURL: "http://127.0.0.1:1", Now: time.Now, Rand: rand.Reader})
	if lanyard.ErrorCode(err) != lanyard.EUnavailable || !bytes.Contains([]byte(lanyard.ErrorMessage(err)), []byte("master key")) {
		t.Fatalf("wrong master key: %v", err)
	}
}

// TestAuditCheckpointDetectsTruncation deletes the newest events, which
// leaves a chain that is intact in itself; the checkpoint makes it visible.
func TestAuditCheckpointDetectsTruncation(t *testing.T) {
	dir := t.TempDir()
	svc, st := mustService(t, dir, bytes.Repeat([]byte{3}, seal.KeySize))
	defer st.Close()
	defer svc.Close()
	ctx := context.Background()
	if _, err := svc.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.CheckpointAudit(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("checkpoint: %+v %v", rep, err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"DROP TRIGGER audit_events_no_delete", "DELETE FROM audit_events WHERE seq > (SELECT MAX(seq) - 3 FROM audit_events)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = svc.VerifyAudit(ctx)
	if err != nil || rep.OK || rep.Problem != audit.ProblemTruncated {
		t.Fatalf("after deleting the newest events: %+v %v", rep, err)
	}
}
