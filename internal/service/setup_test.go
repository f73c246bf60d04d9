package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/audit"
	"github.com/lanyard-cms/lanyard/internal/ca"
	_ "github.com/lanyard-cms/lanyard/internal/ca/builtin"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// mustService starts a service on dir with master key key, without
// Setup: the tests here run it themselves.
func mustService(t *testing.T, dir string, key []byte) *servicetest.Stack {
	t.Helper()
	return servicetest.New(t, servicetest.Options{Dir: dir, Key: key, NoSetup: true})
}

// TestSetupIsIdempotentAndSealsSecrets starts a service twice on one store:
// the first start creates the administrator, defaults and the card admin
// key master secret; the second changes nothing.
func TestSetupIsIdempotentAndSealsSecrets(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, seal.KeySize)
	stack := mustService(t, dir, key)
	svc, st := stack.Service, stack.Store
	ctx := context.Background()
	tok, err := svc.Setup(ctx)
	if err != nil || tok == "" {
		t.Fatalf("first Setup: %q %v", tok, err)
	}
	v, secret, err := svc.Cards.AdminMaster(ctx)
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
	stack.Close()

	stack2 := mustService(t, dir, key)
	svc2, st2 := stack2.Service, stack2.Store
	tok2, err := svc2.Setup(ctx)
	if err != nil || tok2 != "" {
		t.Fatalf("second Setup: %q %v", tok2, err)
	}
	v2, secret2, err := svc2.Cards.AdminMaster(ctx)
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
	mustService(t, dir, bytes.Repeat([]byte{1}, seal.KeySize)).Close()
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
	svc := mustService(t, dir, bytes.Repeat([]byte{3}, seal.KeySize)).Service
	ctx := context.Background()
	if _, err := svc.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Audit.CheckpointAudit(ctx)
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
	rep, err = svc.Audit.VerifyAudit(ctx)
	if err != nil || rep.OK || rep.Problem != audit.ProblemTruncated {
		t.Fatalf("after deleting the newest events: %+v %v", rep, err)
	}
}
