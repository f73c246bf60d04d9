package agent_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// server is a real Lanyard server (SQLite, built-in CA, API, agent
// listener) with a clock tests can move forward.
type server struct {
	*webtest.Server
	offset atomic.Int64 // added to time.Now, in nanoseconds
	admin  *client.Client
}

func startServer(t *testing.T) *server {
	t.Helper()
	st, err := sqlitetest.Open(context.Background(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{}
	s.Server = webtest.StartWith(t, st, webtest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }})
	s.admin = s.client(t, s.AdminToken)
	return s
}

func (s *server) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// user creates a user with only the user role and returns a client
// acting as them.
func (s *server) user(t *testing.T, login string) (*client.Client, *lanyard.User) {
	t.Helper()
	ctx := context.Background()
	var u lanyard.User
	if _, err := s.admin.Post(ctx, "/api/v1/users", apiv1.UserInput{Login: login, Roles: &lanyard.Roles{lanyard.RoleUser}}, &u); err != nil {
		t.Fatal(err)
	}
	var tok apiv1.NewToken
	if _, err := s.admin.Post(ctx, "/api/v1/tokens", apiv1.TokenInput{User: login}, &tok); err != nil {
		t.Fatal(err)
	}
	return s.client(t, tok.Secret), &u
}

// confirm confirms a pairing code as c.
func confirm(t *testing.T, c *client.Client, code, owner string) (*apiv1.WorkstationView, error) {
	t.Helper()
	var w apiv1.WorkstationView
	_, err := c.Post(context.Background(), "/api/v1/workstations/pair", apiv1.PairConfirm{Code: code, Owner: owner}, &w)
	return &w, err
}

// runningAgent is an agent running in a goroutine.
type runningAgent struct {
	codes  chan string
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t *testing.T, s *server, dir string, readers agent.Readers) *runningAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &runningAgent{codes: make(chan string, 8), cancel: cancel, done: make(chan error, 1)}
	go func() {
		a.done <- agent.Run(ctx, agent.Config{
			Server: s.AgentURL, StateDir: dir, Readers: readers, Hostname: "pc-" + filepath.Base(dir),
			OnPairingCode: func(code string) { a.codes <- code }, Heartbeat: webtest.AgentHeartbeat,
		})
	}()
	t.Cleanup(func() { a.stop(t) })
	return a
}

// stop ends the agent and waits for it; stopping twice is fine.
func (a *runningAgent) stop(t *testing.T) error {
	t.Helper()
	a.cancel()
	select {
	case err, ok := <-a.done:
		if ok {
			close(a.done)
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop within 10 s")
	}
	return nil
}

func (a *runningAgent) code(t *testing.T) string {
	t.Helper()
	select {
	case c := <-a.codes:
		return c
	case err := <-a.done:
		t.Fatalf("the agent ended before showing a pairing code: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no pairing code within 10 s")
	}
	return ""
}

// pairAgent starts an agent in dir and confirms its code as c.
func pairAgent(t *testing.T, s *server, c *client.Client, dir string, readers agent.Readers) (*runningAgent, int64) {
	t.Helper()
	a := startAgent(t, s, dir, readers)
	w, err := confirm(t, c, a.code(t), "")
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, s.Hub, w.ID, "online", func(st lanyard.WorkstationState) bool { return st.Online })
	return a, w.ID
}

// waitState waits until the hub's state of workstation id satisfies ok.
func waitState(t *testing.T, h *agenthub.Hub, id int64, what string, ok func(lanyard.WorkstationState) bool) lanyard.WorkstationState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, online := h.State(id)
		if !online {
			st.Online = false
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("workstation %d: not %s within 10 s; state %+v", id, what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func reader(st lanyard.WorkstationState, name string) lanyard.Reader {
	for _, r := range st.Readers {
		if r.Name == name {
			return r
		}
	}
	return lanyard.Reader{}
}

func newCard(t *testing.T) *emu.Card {
	t.Helper()
	c, err := emu.New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func serialOf(c *emu.Card) string { return strconv.FormatUint(uint64(c.Serial()), 10) }

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if lanyard.ErrorCode(err) != code {
		t.Errorf("%s: %v (code %s), want code %s", what, err, lanyard.ErrorCode(err), code)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func lastElem(p string) string { return filepath.Base(p) }
