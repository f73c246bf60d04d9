package cluster

import (
	"context"
	"crypto/x509"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// countingStore is a real store that counts its read transactions.
type countingStore struct {
	lanyard.Store
	views atomic.Int32
}

func (s *countingStore) View(ctx context.Context, fn func(lanyard.Tx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, fn)
}

// countingHandler counts the warnings logged.
type countingHandler struct {
	slog.Handler
	warns atomic.Int32
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.Contains(r.Message, "refused") {
		h.warns.Add(1)
	}
	return nil
}

// TestPeerListenerRefusalsCached: a certificate the machine CA issued to
// a workstation passes the peer listener's chain check; its serial, found
// in no fresh read of the directory, is refused without another read for
// a heartbeat, and the refusals are logged once a minute at most.
func TestPeerListenerRefusalsCached(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	st := &countingStore{Store: raw}
	h := &countingHandler{Handler: slog.DiscardHandler}
	clk := &clock{now: time.Now()}
	c, err := New(Config{Store: st, ID: "aaaa", Heartbeat: time.Second, Now: clk.Now, Log: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t)
	p := ca.peerTLS(t)
	if err := c.Start(ctx, Membership{PeerURL: "https://127.0.0.1:1", TLS: p}); err != nil {
		t.Fatal(err)
	}
	c.stop()
	<-c.done
	t.Cleanup(func() { c.Close(ctx) })
	workstation := ca.leaf(t, x509.ExtKeyUsageClientAuth, time.Now().Add(time.Hour)).Leaf

	before := st.views.Load()
	for range 50 {
		if _, err := c.replicaOfClient(ctx, workstation); err == nil {
			t.Fatal("a workstation's certificate was admitted")
		}
	}
	if n := st.views.Load() - before; n > 2 {
		t.Errorf("50 refusals within a heartbeat read the directory %d times, want at most 2", n)
	}
	if n := h.warns.Load(); n != 1 {
		t.Errorf("50 refusals logged %d warnings, want 1", n)
	}
	// A heartbeat later the serial is looked up again (it may have
	// become a replica's); a minute later a warning is logged again.
	clk.Add(2 * time.Second)
	before = st.views.Load()
	c.replicaOfClient(ctx, workstation)
	if st.views.Load() == before {
		t.Error("a heartbeat later the refusal was not checked again")
	}
	clk.Add(time.Minute)
	c.replicaOfClient(ctx, workstation)
	if n := h.warns.Load(); n != 2 {
		t.Errorf("a minute later: %d warnings, want 2", n)
	}
	// The replica's own client certificate is still admitted.
	c.beat(ctx)
	if r, err := c.replicaOfClient(ctx, p.Client.Leaf); err != nil || r.ID != "aaaa" {
		t.Errorf("the replica's client certificate: %v", err)
	}
}
