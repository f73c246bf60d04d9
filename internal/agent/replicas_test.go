//go:build integration

package agent_test

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// twoReplicas starts a whole server (a, with the agent listener) and a
// second service (b) on one PostgreSQL schema with one master key: two
// replicas of a cluster. Agents connect to a; b changes what they
// depend on.
func twoReplicas(t *testing.T) (a *server, b *servicetest.Stack) {
	t.Helper()
	u := pgtest.FreshSchema(t)
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	stA, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	a = &server{}
	a.Server = webtest.StartWith(t, stA, webtest.Options{Key: key})
	a.admin = a.client(t, a.AdminToken)
	stB, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	b = servicetest.New(t, servicetest.Options{Store: stB, Key: key})
	return a, b
}

// A pairing confirmed on replica b wakes the agent's long poll waiting on
// replica a at once (its change notice), not at the poll's next read
// five seconds later; a workstation revoked on b loses its connection to
// a within a second, not at a's next recheck (30 s).
func TestReplicaNotices(t *testing.T) {
	a, b := twoReplicas(t)
	ag := startAgent(t, a, t.TempDir(), agent.NewMemReaders("r"))
	code := ag.code(t)
	time.Sleep(100 * time.Millisecond) // the agent's poll is waiting on a
	start := time.Now()
	w, err := b.Service.Workstations.ConfirmPairing(t.Context(), b.Admin, workstations.PairConfirm{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Hub, w.ID, "online", func(st lanyard.WorkstationState) bool { return st.Online })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the agent came online %s after b confirmed its pairing; want the poll woken at once", d)
	}

	start = time.Now()
	if _, err := b.Service.Workstations.RevokeWorkstation(t.Context(), b.Admin, w.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Hub, w.ID, "offline", func(st lanyard.WorkstationState) bool { return !st.Online })
	if d := time.Since(start); d > time.Second {
		t.Errorf("a dropped the revoked workstation's connection %s after b revoked it; want under 1 s", d)
	}
}

// When notices may have been lost (here: a notice too large to send,
// which every replica treats as a loss, as it does the listener's
// reconnection), replica a reads every connected workstation again at
// once: one revoked without a notice loses its connection.
func TestReplicaNoticesLost(t *testing.T) {
	a, b := twoReplicas(t)
	_, id := pairAgent(t, a, a.admin, t.TempDir(), agent.NewMemReaders("r"))
	// Revoked behind the hub's back: no notice.
	if err := b.Store.Update(t.Context(), func(tx lanyard.Tx) error {
		w, err := tx.WorkstationByID(id)
		if err != nil {
			return err
		}
		w.Status = lanyard.WorkstationRevoked
		return tx.UpdateWorkstation(w)
	}); err != nil {
		t.Fatal(err)
	}
	if st, ok := a.Hub.State(id); !ok || !st.Online {
		t.Fatal("the workstation went offline without a notice")
	}
	start := time.Now()
	if err := b.Store.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.Notify(lanyard.NoticeCache, strings.Repeat("x", lanyard.MaxNoticePayload+1))
	}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Hub, id, "offline", func(st lanyard.WorkstationState) bool { return !st.Online })
	if d := time.Since(start); d > time.Second {
		t.Errorf("a dropped the connection %s after the loss; want its recheck at once", d)
	}
}
