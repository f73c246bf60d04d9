package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// AirCards across replicas. A workstation's bridge sends its AirCard
// APDUs on its own agent connection, to the replica holding it (B); when
// the AirCard's service is connected to another replica (A), B's hub
// opens the session at A over the peer link (OpenAirCard) and relays
// each APDU there. A checks again that the workstation may use the
// AirCard, opens the session on its service's reader, and keeps it under
// a random ID bound to B until B closes it or it stays idle for airIdle.

// airIdle ends an AirCard session a replica opened here and then
// forgot (it crashed, or lost its link to this one).
const airIdle = 10 * time.Minute

type airOpenIn struct {
	WorkstationID int64  `json:"workstation_id"`
	Serial        string `json:"serial"`
}

type airOpenOut struct {
	Session uint64 `json:"session"`
}

type airTransmitIn struct {
	Session uint64 `json:"session"`
	APDU    []byte `json:"apdu"`
}

type airTransmitOut struct {
	APDU []byte `json:"apdu"`
}

type airCloseIn struct {
	Session uint64 `json:"session"`
}

// airSessions are the AirCard sessions other replicas opened here.
type airSessions struct {
	idle time.Duration
	mu   sync.Mutex
	m    map[uint64]*airEntry
}

type airEntry struct {
	from string // the replica that opened it
	sess lanyard.CardSession
	last time.Time
}

func newAirSessions(idle time.Duration) *airSessions {
	return &airSessions{idle: idle, m: map[uint64]*airEntry{}}
}

func (s *airSessions) add(from string, sess lanyard.CardSession, now time.Time) uint64 {
	var b [8]byte
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		rand.Read(b[:])
		id := binary.BigEndian.Uint64(b[:])
		if _, taken := s.m[id]; id != 0 && !taken {
			s.m[id] = &airEntry{from: from, sess: sess, last: now}
			return id
		}
	}
}

// get returns session id if replica from opened it.
func (s *airSessions) get(from string, id uint64, now time.Time) (lanyard.CardSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[id]
	if e == nil || e.from != from {
		return nil, false
	}
	e.last = now
	return e.sess, true
}

func (s *airSessions) remove(from string, id uint64) lanyard.CardSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[id]
	if e == nil || e.from != from {
		return nil
	}
	delete(s.m, id)
	return e.sess
}

// expire closes the sessions idle for longer than s.idle.
func (s *airSessions) expire(now time.Time) {
	var old []lanyard.CardSession
	s.mu.Lock()
	for id, e := range s.m {
		if now.Sub(e.last) > s.idle {
			old = append(old, e.sess)
			delete(s.m, id)
		}
	}
	s.mu.Unlock()
	for _, sess := range old {
		sess.Close()
	}
}

func (s *airSessions) closeAll() {
	s.mu.Lock()
	m := s.m
	s.m = map[uint64]*airEntry{}
	s.mu.Unlock()
	for _, e := range m {
		e.sess.Close()
	}
}

func (c *Cluster) serveAirOpen(ctx context.Context, body []byte) (any, error) {
	var in airOpenIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	from, _ := FromReplica(ctx)
	sess, err := c.hub.OpenAirCardFor(ctx, in.WorkstationID, in.Serial)
	if err != nil {
		return nil, err
	}
	return airOpenOut{Session: c.air.add(from, sess, c.now())}, nil
}

func (c *Cluster) serveAirTransmit(ctx context.Context, body []byte) (any, error) {
	var in airTransmitIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	from, _ := FromReplica(ctx)
	sess, ok := c.air.get(from, in.Session, c.now())
	if !ok {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the card session is closed")
	}
	apdu, err := sess.Transmit(ctx, in.APDU)
	if err != nil {
		return nil, err
	}
	return airTransmitOut{APDU: apdu}, nil
}

func (c *Cluster) serveAirClose(ctx context.Context, body []byte) (any, error) {
	var in airCloseIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	from, _ := FromReplica(ctx)
	if sess := c.air.remove(from, in.Session); sess != nil {
		sess.Close()
	}
	return struct{}{}, nil
}

// OpenAirCard opens a session for workstation wsID, connected here, on
// the AirCard with serial at the replica whose AirCard service hosts it
// (agenthub.Cluster).
func (c *Cluster) OpenAirCard(ctx context.Context, wsID int64, serial string) (lanyard.CardSession, error) {
	services, err := c.remoteAirServices(ctx, []string{serial})
	if err != nil {
		return nil, err
	}
	for _, svc := range services {
		if !slices.ContainsFunc(svc.Readers, func(r lanyard.Reader) bool { return r.Serial == serial && r.Present }) {
			continue
		}
		var out airOpenOut
		if err := c.client.callLong(ctx, svc.Replica, pathAirOpen, airOpenIn{WorkstationID: wsID, Serial: serial}, &out); err != nil {
			return nil, err
		}
		return &remoteAirSession{c: c, replica: svc.Replica, id: out.Session}, nil
	}
	return nil, lanyard.Errorf(lanyard.EUnavailable, "the AirCard service holding AirCard %s is not connected", serial)
}

// AirCardsElsewhere returns, of serials, those the AirCard services on
// other replicas host, and how many such services there are
// (agenthub.Cluster).
func (c *Cluster) AirCardsElsewhere(ctx context.Context, serials []string) (map[string]bool, int) {
	services, err := c.remoteAirServices(ctx, serials)
	if err != nil {
		c.log.Warn("reading agent routes failed; AirCards on other replicas count as unreachable", "err", err)
		return nil, 0
	}
	hosted := map[string]bool{}
	for _, svc := range services {
		for _, r := range svc.Readers {
			if r.Present && r.Serial != "" {
				hosted[r.Serial] = true
			}
		}
	}
	return hosted, len(services)
}

// AirServicesChanged asks every other live replica to send its
// workstations their AirCard lists again (agenthub.Cluster): an AirCard
// service connected here or left.
func (c *Cluster) AirServicesChanged() {
	if !c.started.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	list, err := c.replicas(ctx, true)
	if err != nil {
		c.log.Warn("listing replicas failed; their workstations learn of the AirCard service at their next list", "err", err)
		return
	}
	var wg sync.WaitGroup
	for _, r := range list {
		if r.ID == c.id {
			continue
		}
		wg.Go(func() {
			if err := c.client.call(ctx, r.ID, pathAirPush, struct{}{}, nil); err != nil {
				c.log.Warn("a replica was not told that an AirCard service came or went", "replica", r.ID, "err", err)
			}
		})
	}
	wg.Wait()
}

// remoteAirSession is an AirCard session at another replica.
type remoteAirSession struct {
	c       *Cluster
	replica string
	id      uint64

	mu     sync.Mutex // one exchange at a time, as on a card
	closed bool
}

func (s *remoteAirSession) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the card session is closed")
	}
	var out airTransmitOut
	// Bounded by the hub's own deadline for an AirCard request: a key
	// generation takes a while.
	if err := s.c.client.callLong(ctx, s.replica, pathAirTransmit, airTransmitIn{Session: s.id, APDU: cmd}, &out); err != nil {
		return nil, err
	}
	return out.APDU, nil
}

func (s *remoteAirSession) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.c.client.call(ctx, s.replica, pathAirClose, airCloseIn{Session: s.id}, nil) // best effort: the other side expires it
	return nil
}
