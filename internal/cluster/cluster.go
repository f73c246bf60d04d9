// Package cluster joins `lanyard serve` replicas on one PostgreSQL
// database into a cluster (docs/architecture.md, "Cluster"): the replica
// directory (each replica registers under a random ID and renews a
// heartbeat; one silent for five heartbeats counts as gone), the agent
// routes (which replica holds each agent's connection, written with an
// epoch so a stale connection never removes a newer route), the peer
// link between replicas (mutual TLS with certificates of the built-in
// machine CA, accepted only from registered replicas), the card access
// that sees every replica's workstations and forwards single agent
// requests to the replica holding the agent, and AirCard sessions
// relayed between replicas. APDUs of card workflows never cross
// replicas: a card request is forwarded whole (internal/web) to the
// replica holding the workstation.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// DefaultHeartbeat is how often a replica renews its registration
// (--replica-heartbeat).
const DefaultHeartbeat = 2 * time.Second

// ExpiryBeats is how many heartbeats a replica may miss before the others
// count it as gone and its agent routes read as offline.
const ExpiryBeats = 5

// purgeAfter is how long an expired replica's row is kept (for the
// console's and an operator's view) before a replica deletes it.
const purgeAfter = time.Hour

// Config is what a replica is told at construction; Start adds where it
// is reached (Membership).
type Config struct {
	Store lanyard.Store
	// ID is the replica's ID (default: 8 random bytes in hex).
	ID string
	// Heartbeat is the registration's renewal interval (default
	// DefaultHeartbeat).
	Heartbeat time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

// Membership is where a replica is reached, known once its peer listener
// listens and its certificates are issued.
type Membership struct {
	// PeerURL is how other replicas reach this one's peer listener
	// (https://host:port). AgentURL is the agent listener as agents see
	// it (a load balancer's), for operators.
	PeerURL, AgentURL string
	// TLS is the peer link's certificates (workstations.ReplicaCertificates).
	TLS *PeerTLS
}

// Cluster is this replica's membership of the cluster. It is safe for
// concurrent use.
type Cluster struct {
	st        lanyard.Store
	id        string
	self      lanyard.Replica
	heartbeat time.Duration
	now       func() time.Time
	log       *slog.Logger
	client    *peerClient
	// forwardTimeout bounds Forward (forwardTimeout; tests shorten it).
	forwardTimeout time.Duration
	air            *airSessions // AirCard sessions other replicas opened here

	// certs are the peer certificates presented now; renew issues new
	// ones (PeerTLS.Renew), pending holds a pair issued but not yet
	// registered (only touched by the one renewal running, renewing).
	certs   atomic.Pointer[certPair]
	renew   func(ctx context.Context) (server, client *tls.Certificate, err error)
	pending *certPair
	// renewing is set while a renewal runs (startRenewal); renewals
	// counts them for Close, which waits for them.
	renewing atomic.Bool
	renewals sync.WaitGroup

	hub     Hub // set with SetHub
	started atomic.Bool

	mu      sync.Mutex
	routes  map[int64]*ownRoute // the agent routes this replica holds
	cache   replicaCache
	refused refusals // client certificates the peer listener refused lately
	// prev is each replica's certificate serials before their last
	// renewal, as this replica saw the directory change.
	prev map[string]serials

	stop context.CancelFunc
	done chan struct{}

	// connecting, when set, runs in AgentConnected between recording the
	// route and its first write (tests: a heartbeat at that moment).
	connecting func()
}

// ownRoute is the route of one connection here. Its epoch is drawn once,
// by the connection's first write, and every later write of this
// connection (a retry after a failure, a rewrite after a re-registration)
// carries that same epoch: an epoch drawn later would outrank the route
// of a newer connection that another replica wrote meanwhile, and a
// release would then delete it. Writes of one route never run at once
// (inflight), so no second epoch is ever drawn for one connection.
type ownRoute struct {
	epoch       int64 // 0 until drawn
	connectedAt time.Time
	written     bool // the route is in the database (or a newer one replaced it)
	inflight    bool // a write is running; others skip it
	tried       bool // a write ran (the connection's first is at connect)
	released    bool // the connection ended; a running write deletes what it wrote
}

// New returns the replica's membership; Start registers it. Until then
// its card access sees this replica's agents only.
func New(cfg Config) (*Cluster, error) {
	if cfg.Store == nil {
		return nil, errors.New("cluster: Store is required")
	}
	if cfg.ID == "" {
		cfg.ID = NewID()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Cluster{
		st: cfg.Store, id: cfg.ID, heartbeat: cfg.Heartbeat, now: cfg.Now, log: cfg.Log,
		self: lanyard.Replica{ID: cfg.ID}, routes: map[int64]*ownRoute{}, air: newAirSessions(airIdle), prev: map[string]serials{},
		forwardTimeout: forwardTimeout,
	}, nil
}

// NewID returns a random replica ID.
func NewID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ID is the replica's ID.
func (c *Cluster) ID() string { return c.id }

// Expiry is how long a replica counts as live after its heartbeat.
func (c *Cluster) Expiry() time.Duration { return ExpiryBeats * c.heartbeat }

// Start registers the replica at m and renews its registration every
// heartbeat until Close.
func (c *Cluster) Start(ctx context.Context, m Membership) error {
	if m.TLS == nil || m.TLS.Server == nil || m.TLS.Client == nil || m.TLS.Root == nil {
		return errors.New("cluster: the peer link's certificates are required")
	}
	if _, err := parseBase(m.PeerURL); err != nil {
		return err
	}
	now := c.now()
	c.useTLS(m.TLS)
	c.renew = m.TLS.Renew
	cur := c.certs.Load()
	c.self = lanyard.Replica{ID: c.id, PeerURL: m.PeerURL, AgentURL: m.AgentURL, StartedAt: now,
		ClientSerial: serialOf(cur.client.Leaf), ServerSerial: serialOf(cur.server.Leaf)}
	c.client = newPeerClient(c, m.TLS)
	if err := c.register(ctx, now); err != nil {
		return err
	}
	c.started.Store(true)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stop, c.done = cancel, make(chan struct{})
	go c.loop(lctx)
	return nil
}

// SetAgentURL records the agent listener's address once it listens (when
// no --agent-url names the load balancer's).
func (c *Cluster) SetAgentURL(ctx context.Context, url string) error {
	c.mu.Lock()
	c.self.AgentURL = url
	c.mu.Unlock()
	return c.register(ctx, c.now())
}

func (c *Cluster) register(ctx context.Context, now time.Time) error {
	c.mu.Lock()
	r := c.self
	c.mu.Unlock()
	r.HeartbeatAt, r.ExpiresAt = now, now.Add(c.Expiry())
	return c.st.Update(ctx, func(tx lanyard.Tx) error { return tx.PutReplica(&r) })
}

func (c *Cluster) loop(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.heartbeat)
	defer t.Stop()
	lastPurge := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.beat(ctx)
		c.air.expire(c.now())
		if now := c.now(); now.Sub(lastPurge) > purgeAfter/4 {
			lastPurge = now
			c.purge(ctx, now)
		}
	}
}

// beat renews the registration; a registration purged meanwhile (this
// replica stalled past its expiry) is made again with every route held
// here, and routes whose write failed are written now.
func (c *Cluster) beat(ctx context.Context) {
	now := c.now()
	bctx, cancel := context.WithTimeout(ctx, c.heartbeat)
	defer cancel()
	err := c.st.Update(bctx, func(tx lanyard.Tx) error { return tx.HeartbeatReplica(c.id, now, now.Add(c.Expiry())) })
	rewrite := false
	switch {
	case lanyard.IsCode(err, lanyard.ENotFound):
		c.log.Warn("this replica's registration was gone (it stalled past its expiry); registering again")
		if err := c.register(bctx, now); err != nil {
			c.log.Error("registering the replica failed", "err", err)
			return
		}
		rewrite = true
	case err != nil:
		if ctx.Err() == nil {
			c.log.Warn("replica heartbeat failed", "err", err)
		}
		return
	}
	c.mu.Lock()
	var redo []int64
	for id, r := range c.routes {
		if !r.written || rewrite {
			redo = append(redo, id)
		}
	}
	c.mu.Unlock()
	for _, id := range redo {
		c.writeRoute(bctx, id, false)
	}
	c.startRenewal(ctx, now)
}

// startRenewal renews the peer certificates when due (renewCerts) in a
// goroutine of its own, unless a renewal is still running: a slow CA
// must not hold up the heartbeats, or the replica would count as gone
// after ExpiryBeats of them.
func (c *Cluster) startRenewal(ctx context.Context, now time.Time) {
	if c.renew == nil || !c.renewing.CompareAndSwap(false, true) {
		return
	}
	c.renewals.Add(1)
	go func() {
		defer c.renewals.Done()
		defer c.renewing.Store(false)
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c.renewCerts(rctx, now)
	}()
}

func (c *Cluster) purge(ctx context.Context, now time.Time) {
	var n int
	err := c.st.Update(ctx, func(tx lanyard.Tx) (err error) { n, err = tx.PurgeReplicas(now.Add(-purgeAfter)); return })
	if err != nil && ctx.Err() == nil {
		c.log.Warn("purging expired replicas failed", "err", err)
	} else if n > 0 {
		c.log.Info("expired replicas purged", "count", n)
	}
}

// Close stops the heartbeat and deregisters the replica with the routes
// it holds: its agents reconnect elsewhere (a clean shutdown; after a
// crash its registration expires instead).
func (c *Cluster) Close(ctx context.Context) {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	// A renewal registers the replica again: it must not outlive the
	// deregistration below.
	c.renewals.Wait()
	c.air.closeAll()
	if !c.started.Swap(false) {
		return
	}
	if err := c.st.Update(ctx, func(tx lanyard.Tx) error { return tx.DeleteReplica(c.id) }); err != nil {
		c.log.Warn("deregistering the replica failed", "err", err)
	}
	c.client.close()
}

// AgentConnected records that workstation id's agent is connected here
// (agenthub.Cluster): a route with a new epoch, written before the hub
// announces the connection.
func (c *Cluster) AgentConnected(id int64) (release func()) {
	mine := &ownRoute{connectedAt: c.now()}
	c.mu.Lock()
	c.routes[id] = mine
	c.mu.Unlock()
	if c.connecting != nil {
		c.connecting()
	}
	// The hub reads nothing from the agent until this returns, and its
	// watchdog drops an agent silent for three of the agent heartbeats:
	// a slow database must not hold the connection that long. A write
	// that ran out of time is retried, with its epoch, at the next
	// registration heartbeat.
	ctx, cancel := context.WithTimeout(context.Background(), min(5*time.Second, c.heartbeat))
	defer cancel()
	c.writeRoute(ctx, id, true)
	return func() {
		c.mu.Lock()
		mine.released = true
		if c.routes[id] == mine {
			delete(c.routes, id)
		}
		epoch, inflight := mine.epoch, mine.inflight
		c.mu.Unlock()
		if inflight || epoch == 0 {
			return // the running write deletes its route; or none was drawn, so none was written
		}
		c.deleteRoute(id, epoch)
	}
}

func (c *Cluster) deleteRoute(id, epoch int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.st.Update(ctx, func(tx lanyard.Tx) error { _, err := tx.DeleteAgentRoute(id, c.id, epoch); return err })
	if err != nil {
		c.log.Warn("removing an agent route failed", "workstation", id, "err", err)
	}
}

// writeRoute writes the route of workstation id's connection here, with
// the connection's epoch (drawn by this write if none was yet). A route
// whose write is running is skipped. A connection whose epoch could not
// even be drawn at first (the database did not answer) draws it on a
// retry, but yields to a route another replica wrote for a connection
// made after this one: that agent reconnected there, and this
// connection is the stale one.
//
// Only AgentConnected (first set) makes a connection's first write: it
// returns once the route is in the database, and the hub announces the
// connection only then. A heartbeat that found the route before that
// write started would otherwise run it, and AgentConnected, finding it
// running, would return at once, before the route is written.
func (c *Cluster) writeRoute(ctx context.Context, id int64, first bool) {
	c.mu.Lock()
	r := c.routes[id]
	if r == nil || r.inflight || r.released || (!first && !r.tried) {
		c.mu.Unlock()
		return
	}
	r.inflight = true
	rt := lanyard.AgentRoute{WorkstationID: id, ReplicaID: c.id, Epoch: r.epoch, ConnectedAt: r.connectedAt}
	firstTry := !r.tried
	r.tried = true
	c.mu.Unlock()
	yielded := false
	err := c.st.Update(ctx, func(tx lanyard.Tx) error {
		if rt.Epoch == 0 && !firstTry {
			rs, err := tx.LiveAgentRoutes(lanyard.AgentRouteFilter{IDs: []int64{id}}, c.now())
			if err != nil {
				return err
			}
			for _, o := range rs {
				if o.ReplicaID != c.id && o.ConnectedAt.After(rt.ConnectedAt) {
					yielded = true
					return nil
				}
			}
		}
		_, err := tx.PutAgentRoute(&rt)
		return err
	})
	c.mu.Lock()
	r.inflight = false
	if r.epoch == 0 && rt.Epoch != 0 {
		// Drawn by this write, kept even if the write failed after the
		// draw (a sequence is never rolled back): the retry reuses it.
		r.epoch = rt.Epoch
	}
	if err == nil {
		r.written = true
	}
	released, epoch := r.released, r.epoch
	c.mu.Unlock()
	switch {
	case err != nil:
		c.log.Warn("writing an agent route failed; retrying at the next heartbeat", "workstation", id, "err", err)
	case yielded:
		c.log.Info("an agent's later connection to another replica holds its route; this connection's route is not written", "workstation", id)
	}
	if released && epoch != 0 {
		c.deleteRoute(id, epoch) // the connection ended during the write
	}
}

// replicaCache holds the live replicas for a heartbeat, so that the peer
// link does not read the directory on every call.
type replicaCache struct {
	at   time.Time
	list []*lanyard.Replica
}

// replicas returns the live replicas (this one included), read again
// when older than a heartbeat or when fresh is set.
func (c *Cluster) replicas(ctx context.Context, fresh bool) ([]*lanyard.Replica, error) {
	now := c.now()
	c.mu.Lock()
	if !fresh && c.cache.list != nil && now.Sub(c.cache.at) < c.heartbeat {
		list := c.cache.list
		c.mu.Unlock()
		return list, nil
	}
	c.mu.Unlock()
	var list []*lanyard.Replica
	if err := c.st.View(ctx, func(tx lanyard.Tx) (err error) { list, err = tx.LiveReplicas(now); return }); err != nil {
		return nil, err
	}
	c.mu.Lock()
	prev := map[string]serials{}
	for _, r := range list {
		p := c.prev[r.ID]
		if i := slices.IndexFunc(c.cache.list, func(o *lanyard.Replica) bool { return o.ID == r.ID }); i >= 0 {
			if o := c.cache.list[i]; o.ClientSerial != r.ClientSerial || o.ServerSerial != r.ServerSerial {
				p = serials{client: o.ClientSerial, server: o.ServerSerial} // renewed since the last read
			}
		}
		if p != (serials{}) {
			prev[r.ID] = p
		}
	}
	c.cache = replicaCache{at: now, list: list}
	c.prev = prev
	c.mu.Unlock()
	return list, nil
}

// serials are a replica's certificate serials.
type serials struct{ client, server string }

// previous returns replica id's serials before its last renewal ("" if
// none was seen).
func (c *Cluster) previous(id string) serials {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prev[id]
}

// replica returns live replica id.
func (c *Cluster) replica(ctx context.Context, id string) (*lanyard.Replica, error) {
	for _, fresh := range []bool{false, true} {
		list, err := c.replicas(ctx, fresh)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(list, func(r *lanyard.Replica) bool { return r.ID == id }); i >= 0 {
			return list[i], nil
		}
	}
	return nil, lanyard.Errorf(lanyard.EUnavailable, "replica %s of the cluster is gone", id)
}

// routes returns the live routes f selects that other replicas hold.
func (c *Cluster) remoteRoutes(ctx context.Context, f lanyard.AgentRouteFilter) ([]*lanyard.AgentRoute, error) {
	if !c.started.Load() {
		return nil, nil // not yet a member: no other replica is reached
	}
	// A server alone on its database (the common case) reads no routes;
	// a replica that joins is seen within a heartbeat.
	if list, err := c.replicas(ctx, false); err == nil && len(list) == 1 && list[0].ID == c.id {
		return nil, nil
	}
	var rs []*lanyard.AgentRoute
	now := c.now()
	err := c.st.View(ctx, func(tx lanyard.Tx) (err error) { rs, err = tx.LiveAgentRoutes(f, now); return })
	return slices.DeleteFunc(rs, func(r *lanyard.AgentRoute) bool { return r.ReplicaID == c.id }), err
}

// Locate returns the replica other than this one that holds workstation
// id's agent connection, or "" when no live replica does or this one does
// (internal/web forwards card requests with it).
func (c *Cluster) Locate(ctx context.Context, id int64) (string, error) {
	if c.hub != nil && c.hub.Connected(id) {
		return "", nil
	}
	rs, err := c.remoteRoutes(ctx, lanyard.AgentRouteFilter{IDs: []int64{id}})
	if err != nil || len(rs) == 0 {
		return "", err
	}
	return rs[0].ReplicaID, nil
}
