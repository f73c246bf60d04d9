//go:build integration

package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// password is every test user's password.
const password = "correct horse battery"

// stack is the whole real stack of one test: a Lanyard server (SQLite,
// built-in CA, API, pages, agent listener), the machine's pcscd with its
// vpcd slot (held for the test), and a workstation agent reading pcscd.
type stack struct {
	t     *testing.T
	srv   *webtest.Server
	admin *client.Client
	vpcd  string // host:port of the vpcd slot
	port  int

	hub      *agenthub.Hub
	agentURL string
	agentDir string
	agent    *runningAgent
	ws       int64  // the paired workstation
	reader   string // pcscd's name of the vpcd slot's reader

	// newTPM, when set, gives each start of the agent its TPM, and
	// slots the vpcd slots its virtual cards go to.
	newTPM func() agent.TPM
	slots  []string
	// softStore, when set, is the agent's software store configuration.
	softStore *agent.SoftStore
	// pinCheck is how often the agent reads its cards' PIN status again
	// (agent.Config.PINCheck); 0: never, so that no other test's card
	// sees APDUs it did not cause.
	pinCheck time.Duration
}

// newStack starts a server and takes the vpcd slot; pair starts the agent.
func newStack(t *testing.T) *stack {
	t.Helper()
	return newStackWith(t, webtest.Options{})
}

// newStackWith is newStack with the server's options, such as the clock
// of the service and the CA (Now) that tests of expiry move.
func newStackWith(t *testing.T, opts webtest.Options) *stack {
	t.Helper()
	requireTools(t)
	addr := vpcdtest.Addr(t)
	vpcdtest.Lock(t, addr)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	st, err := sqlitetest.Open(context.Background(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	// The test server's hub is the one its web pages and API read live
	// state from, with the tests' heartbeat.
	opts.Heartbeat = heartbeat
	s := &stack{t: t, srv: webtest.StartWith(t, st, opts), vpcd: addr, port: port, agentDir: t.TempDir()}
	s.hub, s.agentURL = s.srv.Hub, s.srv.AgentURL
	s.admin = mustClient(t, s.srv.URL, s.srv.AdminToken)
	s.waitSlotEmpty()
	return s
}

// heartbeat is the agent connection's ping interval in these tests. The
// test server's hub by default pings every 300 ms and drops an agent
// silent for 900 ms, which a loaded machine (go test -race ./... next to Chromium,
// two CPUs) exceeds now and then in the middle of an issue; a second is
// still short enough for the tests and three seconds of silence mean a
// dead peer here, not a busy one. Killed agents and pulled cards are
// noticed at once either way: their connection or session ends.
const heartbeat = time.Second

// secondSlot takes pcscd's second vpcd slot (the port after the
// stack's) for this test, once no card of an earlier test is left in it,
// and returns its address.
func (s *stack) secondSlot() string {
	s.t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(s.port+1)
	vpcdtest.Lock(s.t, addr)
	waitPortEmpty(s.t, s.port+1)
	return addr
}

// waitSlotEmpty waits until pcscd no longer shows a card in the vpcd slot:
// a card the previous test (or another package) detached is gone from
// pcscd only at its next poll, and an agent starting before then would
// see a stale card without a serial.
func (s *stack) waitSlotEmpty() {
	s.t.Helper()
	row := regexp.MustCompile(`^\d+\s+(Yes|No)\s+(.*\S)\s*$`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := runTool(s.t, "opensc-tool", "--list-readers")
		present, found := false, false
		for _, line := range strings.Split(out, "\n") {
			if m := row.FindStringSubmatch(line); m != nil {
				if _, ok := vpcdtest.Reader([]string{m[2]}, s.port); ok {
					found, present = true, m[1] == "Yes"
				}
			}
		}
		if !found {
			s.t.Fatalf("pcscd has no Lanyard vpcd reader for port %d; run scripts/pcscd-test.sh:\n%s", s.port, out)
		}
		if !present {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pcscd still shows a card in the vpcd slot after 10 s:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.New(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// user creates a user with a password (for the browser) and returns an
// API client acting as them and its token (for the CLI).
func (s *stack) user(login string, roles ...lanyard.Role) (*client.Client, string) {
	s.t.Helper()
	ctx := context.Background()
	if len(roles) == 0 {
		roles = []lanyard.Role{lanyard.RoleUser}
	}
	rs := lanyard.Roles(roles)
	name, email, upn, pw := "User "+login, login+"@example.com", login+"@example.com", password
	if _, err := s.admin.Post(ctx, "/api/v1/users", apiv1.UserInput{Login: login, DisplayName: &name, Email: &email, UPN: &upn, Password: &pw, Roles: &rs}, nil); err != nil {
		s.t.Fatalf("creating user %s: %v", login, err)
	}
	var tok apiv1.NewToken
	if _, err := s.admin.Post(ctx, "/api/v1/tokens", apiv1.TokenInput{User: login}, &tok); err != nil {
		s.t.Fatalf("token for %s: %v", login, err)
	}
	return mustClient(s.t, s.srv.URL, tok.Secret), tok.Secret
}

// runningAgent is agent.Run in a goroutine with its own PC/SC context, as
// the agent process on a workstation.
type runningAgent struct {
	codes   chan string
	cancel  context.CancelFunc
	done    chan error
	readers *agent.PCSCReaders
	tpm     agent.TPM // closed after the agent stops, if it is an io.Closer
	once    sync.Once
	err     error
}

// startAgent runs the agent on the stack's state directory: the first
// start pairs (the pairing code arrives on codes), later ones reuse the
// identity.
func (s *stack) startAgent() *runningAgent {
	s.t.Helper()
	readers, err := agent.NewPCSCReaders()
	if err != nil {
		s.t.Fatalf("PC/SC (is pcscd running? scripts/pcscd-test.sh): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &runningAgent{codes: make(chan string, 8), cancel: cancel, done: make(chan error, 1), readers: readers}
	cfg := agent.Config{Server: s.agentURL, StateDir: s.agentDir, Readers: readers, Hostname: "e2e-pc"}
	if s.newTPM != nil {
		cfg.TPM = s.newTPM()
		a.tpm = cfg.TPM
	}
	if len(s.slots) > 0 {
		cfg.Slots = agent.NewVPCDSlots(s.slots, nil)
	}
	go func() {
		a.done <- agent.Run(ctx, agent.Config{
			Server: cfg.Server, StateDir: cfg.StateDir, Readers: readers, Hostname: cfg.Hostname, TPM: cfg.TPM, Slots: cfg.Slots, SoftStore: s.softStore,
			OnPairingCode: func(code string) { a.codes <- code }, Heartbeat: heartbeat, PINCheck: cmp.Or(s.pinCheck, -1),
		})
	}()
	s.agent = a
	s.t.Cleanup(func() { a.stop(s.t) })
	return a
}

// stop cancels the agent (as killing its process does) and waits for it;
// stopping twice is fine.
func (a *runningAgent) stop(t *testing.T) error {
	t.Helper()
	a.once.Do(func() {
		a.cancel()
		select {
		case a.err = <-a.done:
		case <-time.After(15 * time.Second):
			t.Error("the agent did not stop within 15 s")
		}
		a.readers.Close()
		if c, ok := a.tpm.(interface{ Close() error }); ok {
			c.Close()
		}
	})
	return a.err
}

// pair starts the agent, confirms its pairing code as the administrator
// with owner as the workstation's owner, and waits until the server lists
// the vpcd slot's reader.
func (s *stack) pair(owner string) {
	s.t.Helper()
	a := s.startAgent()
	var code string
	select {
	case code = <-a.codes:
	case err := <-a.done:
		s.t.Fatalf("the agent ended before showing a pairing code: %v", err)
	case <-time.After(15 * time.Second):
		s.t.Fatal("no pairing code within 15 s")
	}
	var w apiv1.WorkstationView
	if _, err := s.admin.Post(context.Background(), "/api/v1/workstations/pair", apiv1.PairConfirm{Code: code, Owner: owner}, &w); err != nil {
		s.t.Fatalf("confirming the pairing code: %v", err)
	}
	s.ws = w.ID
	s.waitReaders()
}

// waitReaders waits until the agent is online and reports the vpcd reader.
func (s *stack) waitReaders() {
	s.t.Helper()
	s.waitState("online with the vpcd reader", func(st lanyard.WorkstationState) bool {
		for _, r := range st.Readers {
			if name, ok := vpcdtest.Reader([]string{r.Name}, s.port); ok {
				s.reader = name
				return true
			}
		}
		return false
	})
}

// restartAgent starts the agent again on the same state directory: no new
// pairing.
func (s *stack) restartAgent() {
	s.t.Helper()
	a := s.startAgent()
	s.waitReaders() // online: only a paired agent gets that far
	select {
	case code := <-a.codes:
		s.t.Fatalf("the restarted agent asked to pair again (code %s)", code)
	default:
	}
}

// waitState waits until the hub's state of the workstation satisfies ok.
func (s *stack) waitState(what string, ok func(lanyard.WorkstationState) bool) lanyard.WorkstationState {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, online := s.hub.State(s.ws)
		if online && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("workstation %d: not %s within 15 s; state %+v", s.ws, what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *stack) readerState(st lanyard.WorkstationState) lanyard.Reader {
	for _, r := range st.Readers {
		if r.Name == s.reader {
			return r
		}
	}
	return lanyard.Reader{}
}

// vcard is an emulated PIV card that can be put into the vpcd slot,
// pulled and put back, and that can hold back one chosen command APDU
// until the test lets it through: the test then knows exactly how far an
// issue got when it kills the agent or pulls the card.
type vcard struct {
	*emu.Card
	serial string

	mu      sync.Mutex
	hold    func(cmd []byte) bool // the APDU to hold, once
	held    chan struct{}         // closed when it arrived
	release chan bool             // true: process it; false: drop it (no answer reaches anyone)

	cancel context.CancelFunc
	sess   *vpcd.Session
}

func newVCard(t *testing.T, opts ...emu.Option) *vcard {
	t.Helper()
	c, err := emu.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &vcard{Card: c, serial: strconv.FormatUint(uint64(c.Serial()), 10)}
}

// holdAt arms the card to hold the first APDU that match accepts.
func (c *vcard) holdAt(match func(cmd []byte) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold, c.held, c.release = match, make(chan struct{}), make(chan bool, 1)
}

// Transmit is the vpcd.Card method: the emulator's, unless the APDU is
// the one to hold.
func (c *vcard) Transmit(cmd []byte) []byte {
	c.mu.Lock()
	hold := c.hold != nil && c.hold(cmd)
	var held chan struct{}
	var release chan bool
	if hold {
		c.hold, held, release = nil, c.held, c.release
	}
	c.mu.Unlock()
	if hold {
		close(held)
		if process := <-release; !process {
			return []byte{0x6F, 0x00}
		}
	}
	return c.Card.Transmit(cmd)
}

// waitHeld waits until the held APDU arrived.
func (c *vcard) waitHeld(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.held:
	case <-time.After(30 * time.Second):
		t.Fatalf("the card never received %s", what)
	}
}

// insert attaches the card to the vpcd slot and waits until the server
// sees it with its serial.
func (s *stack) insert(c *vcard) {
	s.t.Helper()
	if s.agent != nil {
		s.waitState("showing the vpcd slot empty", func(st lanyard.WorkstationState) bool { return !s.readerState(st).Present })
	}
	ctx, cancel := context.WithCancel(context.Background())
	sess, err := vpcd.Start(ctx, s.vpcd, c)
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	c.cancel, c.sess = cancel, sess
	s.t.Cleanup(func() { cancel(); <-sess.Done() })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := sess.WaitConnected(wctx); err != nil {
		s.t.Fatalf("the card did not attach to vpcd %s: %v", s.vpcd, err)
	}
	if s.agent != nil {
		s.waitState("showing the card "+c.serial, func(st lanyard.WorkstationState) bool {
			r := s.readerState(st)
			return r.Present && r.Serial == c.serial
		})
	}
}

// pull detaches the card from vpcd, as pulling it from the reader does.
// A held APDU is dropped.
func (s *stack) pull(c *vcard) {
	s.t.Helper()
	c.cancel()
	c.mu.Lock()
	if c.release != nil {
		select {
		case c.release <- false:
		default:
		}
	}
	c.mu.Unlock()
	select {
	case <-c.sess.Done():
	case <-time.After(10 * time.Second):
		s.t.Fatal("the vpcd session did not end within 10 s of pulling the card")
	}
	if s.agent != nil {
		s.waitState("seeing the card pulled", func(st lanyard.WorkstationState) bool { return !s.readerState(st).Present })
	}
}

// connected is what GET /connected-cards says about the test's card.
func (s *stack) connected(c *client.Client, serial string) *apiv1.ConnectedCard {
	s.t.Helper()
	var cards []*apiv1.ConnectedCard
	if err := c.Get(context.Background(), "/api/v1/connected-cards", &cards); err != nil {
		s.t.Fatal(err)
	}
	for _, k := range cards {
		if k.Serial == serial {
			return k
		}
	}
	s.t.Fatalf("card %s is not among the connected cards: %+v", serial, cards)
	return nil
}

// target is the card in the vpcd reader of the stack's workstation.
func (s *stack) target() apiv1.CardTarget {
	return apiv1.CardTarget{WorkstationID: s.ws, Reader: s.reader}
}

// cardView fetches a card with its certificates and operations.
func (s *stack) cardView(id int64) *apiv1.CardView {
	s.t.Helper()
	var v apiv1.CardView
	if err := s.admin.Get(context.Background(), "/api/v1/cards/"+strconv.FormatInt(id, 10), &v); err != nil {
		s.t.Fatalf("GET card %d: %v", id, err)
	}
	return &v
}

// cardBySerial finds a card record by serial.
func (s *stack) cardBySerial(serial string) *apiv1.CardView {
	s.t.Helper()
	var cards []*apiv1.CardView
	if err := s.admin.Get(context.Background(), "/api/v1/cards?q="+serial, &cards); err != nil {
		s.t.Fatal(err)
	}
	for _, c := range cards {
		if c.Serial == serial {
			return s.cardView(c.ID)
		}
	}
	s.t.Fatalf("no card record with serial %s", serial)
	return nil
}

// setPolicy changes settings of the default policy as the administrator:
// edit receives the policy's settings as JSON objects.
func (s *stack) setPolicy(edit func(settings map[string]any)) {
	s.t.Helper()
	ctx := context.Background()
	var pol map[string]any
	if err := s.admin.Get(ctx, "/api/v1/policies/default", &pol); err != nil {
		s.t.Fatal(err)
	}
	edit(pol["settings"].(map[string]any))
	for _, k := range []string{"id", "created_at", "updated_at"} {
		delete(pol, k)
	}
	if _, err := s.admin.Do(ctx, "PUT", "/api/v1/policies/default", pol, nil); err != nil {
		b, _ := json.Marshal(pol)
		s.t.Fatalf("PUT the default policy: %v\n%s", err, b)
	}
}

func section(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

// requireTools fails the test when a tool the checks need is missing.
func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pkcs11-tool", "opensc-tool", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (run scripts/card-deps.sh; make test does): %v", tool, err)
		}
	}
	openscModule(t)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
