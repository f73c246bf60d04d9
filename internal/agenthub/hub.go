// Package agenthub is the server's side of the workstation agents: the
// agent listener's endpoints (pairing, and the one long-lived connection
// each paired agent holds), the live inventory of every connected
// workstation's readers and cards, and APDU relay sessions that let
// server-side card drivers use a card on a workstation as an
// apdu.Transport (docs/architecture.md, "Principles": the server holds
// the admin keys, the agent only relays).
//
// The hub is per process: with several replicas each holds the agents
// connected to it and tells the cluster (SetCluster) which, so requests
// arriving at another replica find them; a revocation on another replica
// reaches a connection here at once through a change notice (Follow),
// and within RecheckInterval should the notice be lost.
package agenthub

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/prometheus/client_golang/prometheus"
)

// RecheckInterval is how often a connected workstation's status is read
// again, so that a revocation made elsewhere ends its connection.
const RecheckInterval = 30 * time.Second

// Config holds the hub's dependencies. Workstations is required.
type Config struct {
	Workstations Workstations
	Log          *slog.Logger
	// Heartbeat is the ping interval on agent connections (default
	// agentproto.DefaultHeartbeat); a silent agent is dropped after three.
	Heartbeat time.Duration
	// PairLimits bounds pairing requests per client address (default
	// PairLimits); benchmarks that pair hundreds of agents from one
	// address raise it.
	PairLimits *auth.Limits
}

// Throttles is what the hub asks of Workstations, when it has it, for
// its pairing-request throttle: the throttles a cluster's replicas share
// (workstations.Workstations.Throttles). Without it the throttle is in
// this process's memory.
type Throttles interface {
	Throttles() *auth.Throttles
}

// Hub tracks connected agents. It is safe for concurrent use.
type Hub struct {
	ws        Workstations
	log       *slog.Logger
	heartbeat time.Duration
	relay     prometheus.Histogram
	pairLimit *auth.Throttle // pairing requests per client address

	recheckOnce sync.Once
	stopRecheck context.CancelFunc

	arrivals chan lanyard.CardArrival // cards that arrived, for the card workflows (cardseen.go)
	// unblocker is the online unblock of workstations' command lines
	// (unblock.go), set once the card workflows exist.
	unblocker atomic.Pointer[unblockerBox]
	// cluster is the other replicas (cluster.go), when set.
	cluster atomic.Pointer[clusterBox]

	mu      sync.Mutex
	conns   map[int64]*agentConn
	subs    map[int]func(Event)
	nextSub int
	// revoked holds the workstations whose revocation notice arrived in
	// the last revokedFor, by arrival time (changenotices.go): a
	// connection admitted just before the revocation committed but
	// registered after its notice is closed when it registers.
	revoked map[int64]time.Time
}

// EventKind says what changed.
type EventKind string

const (
	EventOnline   EventKind = "online"   // an agent connected
	EventOffline  EventKind = "offline"  // its connection ended
	EventInserted EventKind = "inserted" // a card arrived in Reader
	EventRemoved  EventKind = "removed"  // the card left Reader
	EventChanged  EventKind = "changed"  // something else: a reader came or went, a serial was read
)

// Event is one change, with the workstation's state after it.
type Event struct {
	Kind   EventKind
	Reader string // for inserted, removed
	State  lanyard.WorkstationState
}

// New returns a hub.
func New(cfg Config) *Hub {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = agentproto.DefaultHeartbeat
	}
	limits := PairLimits
	if cfg.PairLimits != nil {
		limits = *cfg.PairLimits
	}
	var pairLimit *auth.Throttle
	var err error
	if ts, ok := cfg.Workstations.(Throttles); ok && ts.Throttles() != nil {
		pairLimit, err = ts.Throttles().New("pair", limits)
	} else {
		pairLimit, err = auth.NewThrottle(time.Now, limits)
	}
	if err != nil {
		panic(fmt.Sprintf("agenthub: invalid pairing limits: %v", err))
	}
	return &Hub{
		ws: cfg.Workstations, log: cfg.Log, heartbeat: cfg.Heartbeat, pairLimit: pairLimit,
		arrivals: make(chan lanyard.CardArrival, arrivalQueue),
		relay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "lanyard_agent_apdu_relay_seconds",
			Help: "Server-side round trip of one relayed APDU: sent to the agent until its reply arrived (target p99 < 20 ms).",
			// Fine below 20 ms, where the target is.
			Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .015, .02, .03, .05, .1, .25, 1},
		}),
		conns:   map[int64]*agentConn{},
		subs:    map[int]func(Event){},
		revoked: map[int64]time.Time{},
	}
}

// PairLimits bound unauthenticated pairing requests per client address:
// an agent asks once per pairing (and again when its code expires), so ten
// requests in fifteen minutes leave room for mistakes while a flood from
// one address is turned away with 429 (stale requests are purged by
// the workstations' PurgePairings).
var PairLimits = auth.Limits{MaxFailures: 10, Window: 15 * time.Minute, BaseLock: time.Minute, MaxLock: 15 * time.Minute, MaxKeys: 100_000}

// Collectors returns the hub's Prometheus metrics, for the server's
// registry.
func (h *Hub) Collectors() []prometheus.Collector { return []prometheus.Collector{h.relay} }

// States returns every connected workstation, by ID.
func (h *Hub) States() []lanyard.WorkstationState { return h.StatesOf(0) }

// StatesOf returns the connected workstations of ownerID (0: every
// connected workstation and AirCard service), by ID. Only those are
// copied: with thousands connected, a user's page needs a few.
func (h *Hub) StatesOf(ownerID int64) []lanyard.WorkstationState {
	h.mu.Lock()
	conns := make([]*agentConn, 0, len(h.conns))
	for _, c := range h.conns {
		if ownerID == 0 || c.ownerID == ownerID && c.role == lanyard.RoleWorkstation {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	out := make([]lanyard.WorkstationState, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.state())
	}
	slices.SortFunc(out, func(a, b lanyard.WorkstationState) int { return int(a.ID - b.ID) })
	return out
}

// Summary is State without the readers (ReaderCount still counts them):
// what a list of workstations shows of an AirCard service, whose readers
// are its thousands of AirCards.
func (h *Hub) Summary(id int64) (lanyard.WorkstationState, bool) {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c == nil {
		return lanyard.WorkstationState{ID: id}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stateWithLocked(func(func(lanyard.Reader) bool) {}), true
}

// State returns the workstation's state if its agent is connected here.
func (h *Hub) State(id int64) (lanyard.WorkstationState, bool) {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c == nil {
		return lanyard.WorkstationState{ID: id}, false
	}
	return c.state(), true
}

// Subscribe calls fn for every event until cancel is called. fn runs on
// the connection's goroutine and must not block.
func (h *Hub) Subscribe(fn func(Event)) (cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.nextSub
	h.nextSub++
	h.subs[id] = fn
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
}

// subscribed reports whether anyone listens for events, so that
// connections skip building states nobody reads.
func (h *Hub) subscribed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0
}

func (h *Hub) publish(ev Event) {
	h.mu.Lock()
	fns := make([]func(Event), 0, len(h.subs))
	for _, fn := range h.subs {
		fns = append(fns, fn)
	}
	h.mu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}

// live returns the workstation's connection here, or nil when it has none
// or its connection has ended but is not yet unregistered: a request on
// it would fail as ErrAgentGone or, worse, as ErrCardBusy for a session
// that is about to end, where the caller should learn ErrOffline.
func (h *Hub) live(id int64) *agentConn {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c == nil {
		return nil
	}
	select {
	case <-c.pc.Done():
		return nil
	default:
		return c
	}
}

// Disconnect drops the workstation's connection, if it has one here (after
// a revocation). Its sessions fail with ErrAgentGone.
func (h *Hub) Disconnect(id int64) {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c != nil {
		c.pc.Close()
	}
}

// startRecheck starts, once, the loop that reads every connected
// workstation's status again each RecheckInterval, so that a revocation
// made on another replica ends its connection here. One loop for all
// connections, not a goroutine each: an AirCard deployment keeps
// thousands of agents connected.
func (h *Hub) startRecheck() {
	h.recheckOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		h.stopRecheck = cancel
		go h.recheckLoop(ctx)
	})
}

func (h *Hub) recheckLoop(ctx context.Context) {
	t := time.NewTicker(RecheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.recheck(ctx)
	}
}

// recheck records every connected workstation as seen, in batched
// transactions, and drops the connections of those no longer active;
// then it ends the AirCard sessions no longer allowed
// (recheckAirSessions).
func (h *Hub) recheck(ctx context.Context) {
	h.mu.Lock()
	conns := make(map[int64]*agentConn, len(h.conns))
	ids := make([]int64, 0, len(h.conns))
	for id, c := range h.conns {
		conns[id] = c
		ids = append(ids, id)
	}
	h.mu.Unlock()
	inactive, err := h.ws.AgentsSeen(ctx, ids)
	if err != nil && ctx.Err() == nil {
		h.log.Warn("agent recheck failed for some workstations", "err", err)
	}
	for _, id := range inactive {
		h.log.Info("workstation no longer active; dropping its connection", "workstation", id)
		conns[id].pc.Close()
	}
	h.recheckAirSessions(ctx, conns)
}

// Close drops every agent connection, for shutdown: the HTTP server does
// not track connections it handed over to the hub.
func (h *Hub) Close() {
	h.recheckOnce.Do(func() {}) // no loop starts after Close
	if h.stopRecheck != nil {
		h.stopRecheck()
	}
	h.mu.Lock()
	conns := make([]*agentConn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.pc.Close()
	}
}
