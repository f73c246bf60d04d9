package agenthub

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// agentConn is one agent's live connection.
type agentConn struct {
	hub     *Hub
	id      int64
	name    string
	ownerID int64
	role    lanyard.WorkstationRole
	pc      *agentproto.Conn

	mu sync.Mutex
	// readers are the agent's readers by name, and serials the reader
	// of each present card whose serial is known: an AirCard service
	// has one per AirCard it hosts, and sessions find theirs by serial.
	readers  map[string]lanyard.Reader
	serials  map[string]string
	tpm      *lanyard.TPMState
	slots    int
	soft     []string
	features []string // hello's: the requests beyond the first version's it takes
	nextID   uint64
	pending  map[uint64]chan *agentproto.Message
	sessions map[uint64]*Session // by agent session id
	busy     map[string]bool     // readers with a session or an open in flight
	// air holds the sessions this workstation's AirCard bridge opened on
	// AirCards (by the ID given to the agent), and airNext numbers them.
	air     map[uint64]*airSession
	airNext uint64
}

func newAgentConn(h *Hub, w *lanyard.Workstation, pc *agentproto.Conn) *agentConn {
	return &agentConn{
		hub: h, id: w.ID, name: w.Name, ownerID: w.OwnerID, role: w.Role, pc: pc,
		pending: map[uint64]chan *agentproto.Message{}, sessions: map[uint64]*Session{}, busy: map[string]bool{},
		air: map[uint64]*airSession{}, readers: map[string]lanyard.Reader{}, serials: map[string]string{},
	}
}

func (c *agentConn) state() lanyard.WorkstationState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stateLocked()
}

func (c *agentConn) stateLocked() lanyard.WorkstationState {
	return c.stateWithLocked(maps.Values(c.readers))
}

// stateWithLocked is the connection's state with readers (copies, by
// name) instead of all of them. c.mu must be held.
func (c *agentConn) stateWithLocked(readers iter.Seq[lanyard.Reader]) lanyard.WorkstationState {
	st := lanyard.WorkstationState{ID: c.id, Name: c.name, OwnerID: c.ownerID, Role: c.role, Online: true, Readers: []lanyard.Reader{},
		VirtualSlots: c.slots, SoftwareStores: slices.Clone(c.soft), ReaderCount: len(c.readers)}
	if c.tpm != nil {
		t := *c.tpm
		st.TPM = &t
	}
	for r := range readers {
		r.ATR = bytes.Clone(r.ATR)
		st.Readers = append(st.Readers, r)
	}
	slices.SortFunc(st.Readers, func(a, b lanyard.Reader) int { return strings.Compare(a.Name, b.Name) })
	select {
	case <-c.pc.Done():
		st.Online = false
	default:
	}
	return st
}

// reader returns the reader named name.
func (c *agentConn) reader(name string) (lanyard.Reader, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.readers[name]
	return r, ok
}

// serve runs the connection until it ends: it is registered with the hub
// (replacing an older connection of the same workstation), reads the
// agent's messages, and on the way out fails every waiting request and
// session with ErrAgentGone.
func (c *agentConn) serve(ctx context.Context) {
	h := c.hub
	h.mu.Lock()
	old := h.conns[c.id]
	h.conns[c.id] = c
	// Revoked between its admission and now: the notice came before the
	// connection was here to drop (Hub.workstationRevoked).
	revoked := h.isRevokedLocked(c.id)
	h.mu.Unlock()
	if old != nil {
		old.pc.Close() // the agent reconnected before the old one was noticed dead
	}
	if revoked {
		h.log.Info("workstation revoked while connecting; dropping its connection", "workstation", c.id)
		c.pc.Close()
	}
	release := func() {}
	if cl := h.clusterOf(); cl != nil {
		release = cl.AgentConnected(c.id)
	}
	h.log.Info("agent connected", "workstation", c.id, "name", c.name)
	h.publish(Event{Kind: EventOnline, State: c.state()})
	rctx, stop := context.WithCancel(ctx)
	h.startRecheck()
	h.airConnected(rctx, c)

	for {
		m, err := c.pc.Recv()
		if err != nil {
			h.log.Info("agent disconnected", "workstation", c.id, "err", err)
			break
		}
		if err := c.handle(m); err != nil {
			h.log.Warn("agent protocol error; dropping the connection", "workstation", c.id, "err", err)
			break
		}
	}
	stop()
	c.pc.Close()
	c.mu.Lock()
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	for _, s := range c.sessions {
		s.end(ErrAgentGone)
	}
	air := c.air
	c.air = map[uint64]*airSession{}
	c.mu.Unlock()
	for _, a := range air {
		a.sess.Close()
	}
	h.mu.Lock()
	if h.conns[c.id] == c {
		delete(h.conns, c.id)
	}
	h.mu.Unlock()
	release()
	st := c.state()
	st.Online = false
	h.publish(Event{Kind: EventOffline, State: st})
	h.airDisconnected(c)
	seenCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := h.ws.AgentSeen(seenCtx, c.id); err != nil {
		h.log.Warn("recording the agent's last contact failed", "workstation", c.id, "err", err)
	}
}

// handle processes one message from the agent.
func (c *agentConn) handle(m *agentproto.Message) error {
	switch m.Type {
	case agentproto.TypeHello:
		c.mu.Lock()
		c.tpm, c.slots, c.soft, c.features = tpmState(m.TPM), m.VirtualSlots, m.SoftStores, m.Features
		st := c.stateLocked()
		c.mu.Unlock()
		c.hub.publish(Event{Kind: EventChanged, State: st})
		return nil
	case agentproto.TypeSnapshot:
		return c.update(m.Readers, nil, true)
	case agentproto.TypeReaders:
		return c.update(m.Readers, m.Gone, false)
	case agentproto.TypeReply:
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
		return nil
	case agentproto.TypeAirOpen, agentproto.TypeAirTransmit, agentproto.TypeAirClose:
		if c.role != lanyard.RoleWorkstation {
			return &agentproto.Error{Code: agentproto.ErrCodeFailed, Message: "an AirCard service does not use AirCards"}
		}
		go c.airRequest(m)
		return nil
	case agentproto.TypeEnded:
		c.mu.Lock()
		if s := c.sessions[m.Session]; s != nil {
			s.end(agentError(m.Error))
		}
		c.mu.Unlock()
		return nil
	}
	return &agentproto.Error{Code: agentproto.ErrCodeFailed, Message: "unexpected " + m.Type + " message from an agent"}
}

// update applies a snapshot (full: the readers not in rs are gone) or a
// change (the readers in rs came or changed, those in gone left) and
// publishes what changed. Sessions on a reader whose card left end with
// ErrCardRemoved at once, without waiting for the agent's ended message.
// Its cost is the change's size, not the reader list's: an AirCard
// service reports thousands.
func (c *agentConn) update(rs []agentproto.Reader, gone []string, full bool) error {
	var events []Event
	c.mu.Lock()
	if !full && len(c.readers)+len(rs) > agentproto.MaxReaders {
		// A message is bounded, the sum of changes is not: an agent
		// that adds readers without end would exhaust the server.
		newNames := 0
		for _, r := range rs {
			if _, ok := c.readers[r.Name]; !ok {
				newNames++
			}
		}
		if len(c.readers)+newNames > agentproto.MaxReaders {
			c.mu.Unlock()
			return &agentproto.Error{Code: agentproto.ErrCodeFailed, Message: fmt.Sprintf("more than %d readers", agentproto.MaxReaders)}
		}
	}
	if full {
		names := make(map[string]bool, len(rs))
		for _, r := range rs {
			names[r.Name] = true
		}
		for name := range c.readers {
			if !names[name] {
				gone = append(gone, name)
			}
		}
	}
	var arrived []lanyard.Reader // cards whose serial is newly known in a reader
	// Cards already there with a PIN status reported: changed, or the
	// same again after a session on the card (the agent repeats a reader
	// only then), which the card workflows record if it is news to them.
	var pinReported []lanyard.Reader
	for _, ar := range rs {
		r := reader(ar)
		was, seen := c.readers[r.Name]
		pinNews := r.PIN != nil && !samePINState(was.PIN, r.PIN)
		switch {
		case r.Present && r.Serial != "" && (!was.Present || was.Serial != r.Serial):
			arrived = append(arrived, r)
		case r.Present && r.Serial != "" && r.PIN != nil && !full:
			pinReported = append(pinReported, r)
		}
		switch {
		case r.Present && (!was.Present || !bytes.Equal(was.ATR, r.ATR)):
			events = append(events, Event{Kind: EventInserted, Reader: r.Name})
		case !r.Present && was.Present:
			events = append(events, Event{Kind: EventRemoved, Reader: r.Name})
		case !seen || was.Serial != r.Serial || pinNews:
			events = append(events, Event{Kind: EventChanged, Reader: r.Name})
		}
		c.setReaderLocked(r)
	}
	for _, name := range gone {
		was, seen := c.readers[name]
		if !seen {
			continue
		}
		kind := EventChanged
		if was.Present {
			kind = EventRemoved
		}
		events = append(events, Event{Kind: kind, Reader: name})
		c.deleteReaderLocked(name)
	}
	for _, ev := range events {
		if ev.Kind != EventRemoved {
			continue
		}
		for _, s := range c.sessions {
			if s.reader == ev.Reader {
				s.end(ErrCardRemoved)
			}
		}
	}
	for _, r := range arrived {
		c.hub.cardSeen(c.id, r, false)
	}
	for _, r := range pinReported {
		c.hub.cardSeen(c.id, r, true)
	}
	if len(events) == 0 || !c.hub.subscribed() {
		c.mu.Unlock()
		return nil
	}
	st := c.stateLocked()
	c.mu.Unlock()
	for _, ev := range events {
		ev.State = st
		c.hub.publish(ev)
	}
	return nil
}

// setReaderLocked stores r, keeping the serial index. c.mu must be held.
func (c *agentConn) setReaderLocked(r lanyard.Reader) {
	c.deleteReaderLocked(r.Name)
	c.readers[r.Name] = r
	if r.Present && r.Serial != "" {
		c.serials[r.Serial] = r.Name
	}
}

// deleteReaderLocked forgets the reader. c.mu must be held.
func (c *agentConn) deleteReaderLocked(name string) {
	if old, ok := c.readers[name]; ok && old.Serial != "" && c.serials[old.Serial] == name {
		delete(c.serials, old.Serial)
	}
	delete(c.readers, name)
}

// request sends m with a new request ID and waits for the reply.
func (c *agentConn) request(ctx context.Context, m *agentproto.Message) (*agentproto.Message, error) {
	ch := make(chan *agentproto.Message, 1)
	c.mu.Lock()
	c.nextID++
	m.ID = c.nextID
	c.pending[m.ID] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, m.ID)
		c.mu.Unlock()
	}
	if err := c.pc.Send(m); err != nil {
		forget()
		return nil, ErrAgentGone
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, ErrAgentGone
		}
		return r, nil
	case <-c.pc.Done():
		forget()
		select {
		case r, ok := <-ch: // the reply came just before the end
			if ok {
				return r, nil
			}
		default:
		}
		return nil, ErrAgentGone
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}
