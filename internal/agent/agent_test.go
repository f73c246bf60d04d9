package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestAgentEndToEnd runs a real server and a real agent with in-process
// emulated readers: pairing by code through the API, the live inventory,
// relayed PIV commands, exclusive sessions, a card pulled mid-session,
// the agent killed and restarted with its identity, and revocation.
func TestAgentEndToEnd(t *testing.T) {
	s := startServer(t)
	alice, aliceUser := s.user(t, "alice")
	readers := agent.NewMemReaders("Reader A", "Reader B")
	card := newCard(t)
	if err := readers.Insert("Reader A", card); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	outer := t // agents started in subtests live as long as the whole test
	a := startAgent(t, s, dir, readers)
	code := a.code(t)

	// Wrong and malformed codes are refused with clear problems.
	wrong := "AAAAA-AAAAA"
	if code == wrong {
		wrong = "BBBBB-BBBBB"
	}
	_, err := confirm(t, alice, wrong, "")
	wantCode(t, "a wrong code", err, lanyard.ENotFound)
	_, err = confirm(t, alice, "not-a-code", "")
	wantCode(t, "a malformed code", err, lanyard.EInvalid)
	// A user cannot pair for someone else.
	_, err = confirm(t, alice, code, "admin")
	wantCode(t, "pairing for another user", err, lanyard.EForbidden)

	// The right code, typed carelessly, pairs the workstation to alice.
	w, err := confirm(t, alice, strings.ToLower(strings.ReplaceAll(code, "-", " ")), "")
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != lanyard.WorkstationActive || w.OwnerID != aliceUser.ID || w.CertSerial == "" || w.Name != "pc-"+lastElem(dir) {
		t.Fatalf("paired workstation %+v", w.Workstation)
	}
	id := w.ID
	_, err = confirm(t, alice, code, "")
	wantCode(t, "the code again", err, lanyard.ENotFound)

	// The inventory: the card with its ATR and serial, the empty reader.
	st := waitState(t, s.Hub, id, "showing the card's serial", func(st lanyard.WorkstationState) bool {
		return reader(st, "Reader A").Serial != ""
	})
	if r := reader(st, "Reader A"); !r.Present || !bytes.Equal(r.ATR, card.ATR()) || r.Serial != serialOf(card) {
		t.Errorf("Reader A: %+v, want the card's ATR %X and serial %s", r, card.ATR(), serialOf(card))
	}
	if r := reader(st, "Reader B"); r.Name == "" || r.Present {
		t.Errorf("Reader B: %+v", r)
	}
	var view apiv1.WorkstationView
	if err := alice.Get(context.Background(), "/api/v1/workstations/"+itoa(id), &view); err != nil {
		t.Fatal(err)
	}
	if !view.Online || len(view.Readers) != 2 || view.Readers[0].Serial != serialOf(card) {
		t.Errorf("GET workstation: online %v, readers %+v", view.Online, view.Readers)
	}
	var list []apiv1.WorkstationView
	if err := alice.Get(context.Background(), "/api/v1/workstations", &list); err != nil || len(list) != 1 || list[0].ID != id {
		t.Errorf("alice's workstations: %+v, %v", list, err)
	}

	ctx := context.Background()
	t.Run("relay", func(t *testing.T) {
		sess, err := s.Hub.Open(ctx, id, "Reader A")
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		p, err := piv.New(sess, piv.Config{Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Select(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := p.Serial(ctx); err != nil || n != card.Serial() {
			t.Fatalf("Serial through the relay = %d, %v; want %d", n, err, card.Serial())
		}
		_, err = s.Hub.Open(ctx, id, "Reader A")
		wantErr(t, "a second session on the card", err, agenthub.ErrCardBusy)
		wantCode(t, "a second session on the card", err, lanyard.EConflict)
		_, err = s.Hub.Open(ctx, id, "Reader B")
		wantErr(t, "a session on the empty reader", err, agenthub.ErrNoCard)
		_, err = s.Hub.Open(ctx, id, "Reader C")
		wantErr(t, "a session on no reader", err, agenthub.ErrNoReader)
		_, err = s.Hub.Open(ctx, id+100, "Reader A")
		wantErr(t, "a session on an unknown workstation", err, agenthub.ErrOffline)
		sess.Close()
		_, err = sess.Transmit(ctx, []byte{0, 0xA4, 4, 0})
		wantErr(t, "transmit after close", err, agenthub.ErrSessionClosed)
		again, err := s.Hub.Open(ctx, id, "Reader A")
		if err != nil {
			t.Fatalf("a session after the first closed: %v", err)
		}
		again.Close()
	})

	t.Run("two cards at once", func(t *testing.T) {
		card2 := newCard(t)
		readers.Insert("Reader B", card2)
		defer readers.Remove("Reader B")
		waitState(t, s.Hub, id, "showing card 2", func(st lanyard.WorkstationState) bool { return reader(st, "Reader B").Serial != "" })
		sa, err := s.Hub.Open(ctx, id, "Reader A")
		if err != nil {
			t.Fatal(err)
		}
		defer sa.Close()
		sb, err := s.Hub.Open(ctx, id, "Reader B")
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		errs := make(chan error, 2)
		for _, c := range []struct {
			sess *agenthub.Session
			want uint32
		}{{sa, card.Serial()}, {sb, card2.Serial()}} {
			go func() {
				p, _ := piv.New(c.sess, piv.Config{Rand: rand.Reader})
				for range 50 {
					if _, err := p.Select(ctx); err != nil {
						errs <- err
						return
					}
					if n, err := p.Serial(ctx); err != nil || n != c.want {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("card removed mid-session", func(t *testing.T) {
		events := make(chan agenthub.Event, 100)
		cancel := s.Hub.Subscribe(func(ev agenthub.Event) { events <- ev })
		defer cancel()
		sess, err := s.Hub.Open(ctx, id, "Reader A")
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		readers.Remove("Reader A")
		waitEvent(t, events, agenthub.EventRemoved, "Reader A")
		_, err = sess.Transmit(ctx, []byte{0, 0xA4, 4, 0, 5, 0xA0, 0, 0, 3, 8})
		wantErr(t, "transmit after the card was removed", err, agenthub.ErrCardRemoved)
		wantCode(t, "transmit after the card was removed", err, lanyard.EUnavailable)
		readers.Insert("Reader A", card)
		waitEvent(t, events, agenthub.EventInserted, "Reader A")
		_, err = sess.Transmit(ctx, []byte{0, 0xA4, 4, 0})
		wantErr(t, "the old session after reinsertion", err, agenthub.ErrCardRemoved)
		waitState(t, s.Hub, id, "showing the serial again", func(st lanyard.WorkstationState) bool { return reader(st, "Reader A").Serial != "" })
	})

	t.Run("agent killed and restarted keeps its identity", func(t *testing.T) {
		sess, err := s.Hub.Open(ctx, id, "Reader A")
		if err != nil {
			t.Fatal(err)
		}
		a.stop(t)
		waitState(t, s.Hub, id, "offline", func(st lanyard.WorkstationState) bool { return !st.Online })
		_, err = sess.Transmit(ctx, []byte{0, 0xA4, 4, 0})
		wantErr(t, "transmit after the agent went", err, agenthub.ErrAgentGone)
		_, err = s.Hub.Open(ctx, id, "Reader A")
		wantErr(t, "open while the agent is gone", err, agenthub.ErrOffline)

		a = startAgent(outer, s, dir, readers)
		waitState(t, s.Hub, id, "online again", func(st lanyard.WorkstationState) bool { return st.Online && reader(st, "Reader A").Serial != "" })
		select {
		case c := <-a.codes:
			t.Fatalf("the restarted agent asked to pair again (code %s)", c)
		default:
		}
		st, err := agent.QueryStatus(dir)
		if err != nil || !st.Paired || !st.Connected || st.WorkstationID != id {
			t.Errorf("agent status %+v, %v", st, err)
		}
		sess2, err := s.Hub.Open(ctx, id, "Reader A")
		if err != nil {
			t.Fatal(err)
		}
		sess2.Close()
	})

	t.Run("mTLS required", func(t *testing.T) {
		root, err := s.Service.Workstations.AgentRoot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(root)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		req, _ := http.NewRequest("GET", s.AgentURL+agentproto.PathConnect, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", agentproto.UpgradeToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("connect without a client certificate: %s, want 401", resp.Status)
		}
	})

	t.Run("revoked", func(t *testing.T) {
		bob, _ := s.user(t, "bob")
		if _, err := bob.Do(ctx, http.MethodDelete, "/api/v1/workstations/"+itoa(id), nil, nil); lanyard.ErrorCode(err) != lanyard.ENotFound {
			t.Errorf("bob revoking alice's workstation: %v", err)
		}
		if _, err := alice.Do(ctx, http.MethodDelete, "/api/v1/workstations/"+itoa(id), nil, nil); err != nil {
			t.Fatal(err)
		}
		// The live connection is dropped and the agent, refused, stops.
		select {
		case err := <-a.done:
			if err == nil || !strings.Contains(err.Error(), "revoked") {
				t.Errorf("the agent of a revoked workstation ended with %v", err)
			}
			close(a.done)
		case <-time.After(10 * time.Second):
			t.Fatal("the agent of a revoked workstation still runs")
		}
		if _, ok := s.Hub.State(id); ok {
			t.Error("the revoked workstation is still online")
		}
		var view apiv1.WorkstationView
		alice.Get(ctx, "/api/v1/workstations/"+itoa(id), &view)
		if view.Status != lanyard.WorkstationRevoked {
			t.Errorf("status %s", view.Status)
		}
		var cert struct {
			Certificate lanyard.Certificate `json:"certificate"`
		}
		if err := s.admin.Get(ctx, "/api/v1/certificates/"+view.CertSerial, &cert); err != nil || cert.Certificate.Status != lanyard.CertRevoked {
			t.Errorf("the workstation's certificate: %+v, %v", cert.Certificate, err)
		}
	})
}

func waitEvent(t *testing.T, events <-chan agenthub.Event, kind agenthub.EventKind, reader string) agenthub.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == kind && ev.Reader == reader {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for %q within 5 s", kind, reader)
		}
	}
}
