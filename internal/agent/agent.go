package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// Reconnection backoff: from MinBackoff doubling to MaxBackoff, each wait
// drawn between half and all of it, so a server restart is not met by
// every agent at the same instant.
const (
	MinBackoff = 500 * time.Millisecond
	MaxBackoff = 30 * time.Second
)

// Config is what an agent needs. Server, StateDir and Readers are
// required.
type Config struct {
	// Server is the agent listener's URL, https://HOST:PORT. Once paired,
	// the agent uses the server it paired with.
	Server   string
	StateDir string
	Readers  Readers
	Log      *slog.Logger
	Version  string
	Hostname string // default: os.Hostname
	// TPM is the workstation's TPM, for TPM virtual smart cards and
	// platform credentials; nil: the workstation has none.
	TPM TPM
	// Slots attach virtual cards and AirCards to the workstation's
	// readers; nil: the agent creates no virtual cards and connects no
	// AirCards.
	Slots Slots
	// Role is what the agent is: "" for a workstation,
	// lanyard's "aircard_service" for an AirCard service (cmd/lanyard
	// aircard serve), whose Readers are the AirCards it hosts.
	Role string
	// Create, when set, makes the virtual cards the server asks for
	// instead of the TPM (the AirCard service creates AirCards); it
	// returns the new card's serial.
	Create func(kind string) (serial string, err error)
	// Destroy, with Create, removes a card Create made, when the server
	// could not register it; without Create, the TPM's virtual cards are
	// removed.
	Destroy func(serial string) error
	// SoftStore, when set, lets the server issue software stores to this
	// workstation (PKCS#12 files in the machine's or a user's store).
	SoftStore *SoftStore
	// OnPairingCode shows the pairing code to the person at the
	// workstation; default: print it to standard error.
	OnPairingCode func(code string)
	// Heartbeat is the ping interval (default agentproto.DefaultHeartbeat).
	Heartbeat time.Duration
	// PINCheck is how often a workstation agent reads its cards' PIN
	// status again (pincheck.go; default DefaultPINCheck, negative:
	// never). An AirCard service never does: its cards' PINs are used
	// only through the server's sessions, after which they are read.
	PINCheck time.Duration
	// NoStatusSocket leaves out the status socket (agent status), for
	// agents embedded by the thousand in a benchmark.
	NoStatusSocket bool
}

// Agent is a running agent.
type Agent struct {
	cfg  resolvedConfig
	host string
	log  *slog.Logger
	inv  *inventory

	virtual *virtualHost
	air     *airBridge
	soft    *softHost

	mu     sync.Mutex
	status Status
}

type resolvedConfig struct {
	Config
}

// Run pairs the workstation if it has not been paired, then keeps the
// connection to the server until ctx ends (and returns nil then). It
// returns an error when the state directory cannot be used, pairing fails
// for good, or the server refuses the workstation (revoked).
func Run(ctx context.Context, cfg Config) error {
	a, err := newAgent(cfg)
	if err != nil {
		return err
	}
	return a.run(ctx)
}

func newAgent(cfg Config) (*Agent, error) {
	if cfg.StateDir == "" || cfg.Readers == nil {
		return nil, errors.New("agent: StateDir and Readers are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.OnPairingCode == nil {
		cfg.OnPairingCode = func(code string) {
			fmt.Fprintf(os.Stderr, "Pairing code: %s — confirm it in Lanyard Self-Service (Workstations) or run: lanyard workstation approve %s\n", code, code)
		}
	}
	rc := resolvedConfig{Config: cfg}
	a := &Agent{cfg: rc, log: cfg.Log}
	if cfg.Slots != nil {
		a.virtual = newVirtualHost(cfg.StateDir, cfg.TPM, cfg.Slots, cfg.Log)
		if cfg.Role == "" {
			a.air = newAirBridge(cfg.Slots, cfg.Log)
		}
	}
	if cfg.SoftStore != nil {
		a.soft = newSoftHost(*cfg.SoftStore, cfg.Log)
	}
	return a, nil
}

// setServer takes the server URL and the host name TLS checks.
func (a *Agent) setServer(server string) error {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("agent: server %q: want https://HOST:PORT", server)
	}
	a.cfg.Server = "https://" + u.Host
	a.host = u.Hostname()
	return nil
}

func (a *Agent) run(ctx context.Context) error {
	if err := ensureDir(a.cfg.StateDir); err != nil {
		return err
	}
	key, err := loadOrCreateKey(a.cfg.StateDir)
	if err != nil {
		return err
	}
	if !a.cfg.NoStatusSocket {
		stopStatus, err := a.serveStatus(ctx)
		if err != nil {
			return err
		}
		defer stopStatus()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.inv = newInventory(a.cfg.Readers, a.log)
	invDone := make(chan struct{})
	go func() { defer close(invDone); a.inv.run(ctx) }()
	if every := a.pinCheck(); every > 0 {
		checksDone := make(chan struct{})
		go func() { defer close(checksDone); a.inv.checkPINs(ctx, every) }()
		defer func() { cancel(); <-checksDone }()
	}
	defer func() { cancel(); <-invDone }()
	if a.virtual != nil {
		if err := a.virtual.start(ctx); err != nil {
			return err
		}
		defer a.virtual.stop()
	}

	st, paired, err := LoadState(a.cfg.StateDir)
	if err != nil {
		return err
	}
	if !paired {
		if err := a.setServer(a.cfg.Server); err != nil {
			return err
		}
		a.setStatus(func(s *Status) { s.Server = a.cfg.Server })
		if st, err = a.pair(ctx, key); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := saveState(a.cfg.StateDir, st); err != nil {
			return err
		}
		a.log.Info("paired", "workstation", st.WorkstationID)
	}
	if err := a.setServer(st.Server); err != nil {
		return err
	}
	a.setStatus(func(s *Status) {
		s.Server, s.WorkstationID, s.Paired, s.PairingCode = st.Server, st.WorkstationID, true, ""
	})
	tlsCfg, err := st.tlsConfig(key, a.host)
	if err != nil {
		return err
	}
	return a.keepConnected(ctx, tlsCfg)
}

// keepConnected holds the connection, reconnecting with backoff, until
// ctx ends or the server refuses the workstation.
func (a *Agent) keepConnected(ctx context.Context, tlsCfg *tls.Config) error {
	wait := MinBackoff
	for ctx.Err() == nil {
		a.syncEscrow(ctx)
		connected, err := a.connectOnce(ctx, tlsCfg)
		if ctx.Err() != nil {
			break
		}
		var pe *problemError
		if errors.As(err, &pe) && (pe.Status == http.StatusForbidden || pe.Status == http.StatusUnauthorized) {
			return fmt.Errorf("agent: the server refuses this workstation: %s; pair again after removing %s", pe.Detail, a.cfg.StateDir)
		}
		if connected {
			wait = MinBackoff
		}
		d := wait/2 + rand.N(wait/2+1)
		a.log.Warn("connection to the server lost; reconnecting", "err", err, "in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		wait = min(2*wait, MaxBackoff)
	}
	return nil
}

// connectOnce opens the connection and serves it until it ends. connected
// reports whether the upgrade succeeded.
func (a *Agent) connectOnce(ctx context.Context, tlsCfg *tls.Config) (connected bool, err error) {
	c := a.httpClient(tlsCfg)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.Server+agentproto.PathConnect, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", agentproto.UpgradeToken)
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		if err := decodeResponse(resp, nil); err != nil {
			return false, err
		}
		return false, fmt.Errorf("agent: the server answered %s instead of switching protocols", resp.Status)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return false, errors.New("agent: the upgraded connection is not writable")
	}
	pc := agentproto.NewConn(rwc, nil, a.cfg.Heartbeat)
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	a.setStatus(func(s *Status) { s.Connected, s.ConnectedSince = true, time.Now().UTC() })
	defer a.setStatus(func(s *Status) { s.Connected, s.ConnectedSince = false, time.Time{} })
	a.log.Info("connected to the server", "server", a.cfg.Server)
	rulesCtx, stopRules := context.WithCancel(ctx)
	rulesDone := make(chan struct{})
	go func() { defer close(rulesDone); a.keepPINRules(rulesCtx) }() // for PINs set without the server (pinrules.go)
	defer func() { stopRules(); <-rulesDone }()
	return true, a.serveConn(pc, serverTakes(resp.Header, agentproto.ServerFeaturePINStatus))
}

// serveConn sends hello and snapshots and answers the server's requests
// until the connection ends.
func (a *Agent) serveConn(pc *agentproto.Conn, pinStatus bool) error {
	hello := &agentproto.Message{Type: agentproto.TypeHello, Version: a.cfg.Version, Hostname: a.cfg.Hostname,
		TPM: a.virtual.status(), VirtualSlots: a.virtual.freeSlots(), SoftStores: a.soft.scopes(),
		Features: []string{agentproto.FeatureDestroy, agentproto.FeatureCardState}}
	if err := pc.Send(hello); err != nil {
		return err
	}
	r := newRelay(a.inv, pc, a.log)
	r.create = a.createAndFind
	r.destroy = a.destroyVirtual
	if a.air != nil {
		a.air.connected(pc)
		defer a.air.disconnected()
		r.air = a.air
	}
	r.soft = a.soft
	defer r.closeAll()
	sendErr := make(chan error, 1)
	go func() {
		var sent map[string]agentproto.Reader // what the server has; nil: nothing yet
		slots := hello.VirtualSlots
		for {
			slotsChanged := a.virtual.slotsChanged() // before freeSlots: no change is missed
			readers, changed := a.inv.snapshot()
			r.cardsChanged()
			if !pinStatus {
				readers = withoutPIN(readers)
			}
			m := readersMessage(sent, readers, a.inv.takeAgain())
			sent = make(map[string]agentproto.Reader, len(readers))
			for _, rd := range readers {
				sent[rd.Name] = rd
			}
			// A virtual card or AirCard coming or going takes or frees a
			// slot (a reader change, or for vpcd slots a Changed signal
			// when the connection has ended): the server learns the new
			// count from a repeated hello, so that Self-Service does not
			// offer a virtual card the workstation has no room for.
			var again *agentproto.Message
			if n := a.virtual.freeSlots(); n != slots {
				slots = n
				h := *hello
				h.VirtualSlots = n
				again = &h
			}
			for _, m := range []*agentproto.Message{m, again} {
				if m == nil {
					continue
				}
				if err := pc.Send(m); err != nil {
					sendErr <- err
					pc.Close()
					return
				}
			}
			select {
			case <-slotsChanged:
			case <-changed:
			case <-pc.Done():
				sendErr <- nil
				return
			}
		}
	}()
	var err error
	for {
		var m *agentproto.Message
		if m, err = pc.Recv(); err != nil {
			break
		}
		r.handle(m)
	}
	pc.Close()
	if e := <-sendErr; e != nil && err == nil {
		err = e
	}
	return err
}

// readersMessage is what tells the server the reader list is now cur: the
// whole list the first time (sent is nil), after that only what changed
// since sent — nil when nothing did — and the readers named in again
// whose PIN status is to be reported again though unchanged (the server
// records a reader repeated with its PIN status as a new report). An
// AirCard service lists a reader per AirCard, so a new AirCard costs one
// entry, not all of them.
func readersMessage(sent map[string]agentproto.Reader, cur []agentproto.Reader, again map[string]bool) *agentproto.Message {
	if sent == nil {
		return &agentproto.Message{Type: agentproto.TypeSnapshot, Readers: nonNilReaders(cur)}
	}
	m := &agentproto.Message{Type: agentproto.TypeReaders}
	names := make(map[string]bool, len(cur))
	for _, r := range cur {
		names[r.Name] = true
		if was, ok := sent[r.Name]; !ok || was.Present != r.Present || was.Serial != r.Serial || !bytes.Equal(was.ATR, r.ATR) || !samePIN(was.PIN, r.PIN) ||
			(again[r.Name] && r.PIN != nil) {
			m.Readers = append(m.Readers, r)
		}
	}
	for name := range sent {
		if !names[name] {
			m.Gone = append(m.Gone, name)
		}
	}
	if m.Readers == nil && m.Gone == nil {
		return nil
	}
	slices.Sort(m.Gone)
	return m
}

// nonNilReaders keeps an empty reader list a list: the snapshot type
// requires the field.
func nonNilReaders(rs []agentproto.Reader) []agentproto.Reader {
	if rs == nil {
		return []agentproto.Reader{}
	}
	return rs
}

// httpClient makes an HTTP/1.1 client with tlsCfg; the connection
// upgrade needs HTTP/1.1.
func (a *Agent) httpClient(tlsCfg *tls.Config) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     tlsCfg,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   false,
		DisableKeepAlives:   false,
	}
	return &http.Client{Transport: tr, Timeout: 0}
}
