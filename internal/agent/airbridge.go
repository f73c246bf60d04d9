package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// The AirCard bridge (issue 7): the server tells the agent which AirCards
// this workstation may use (aircards message); the bridge puts each into
// a free slot (a vpcd reader of the workstation's pcscd) as a card whose
// APDUs go to the server on the agent's own connection (airopen,
// airtransmit, airclose) and from there to the AirCard service. Nothing
// about the card is kept here: no key, no state, only a session number.

// airRequestTimeout bounds one AirCard exchange with the server.
const airRequestTimeout = 30 * time.Second

// AirCardStatus is the AirCard indicator of agent status.
type AirCardStatus struct {
	// Connected: at least one AirCard is connected here and the AirCard
	// service is reachable.
	Connected bool                `json:"connected"`
	Reason    string              `json:"reason,omitempty"` // why not connected
	Cards     []VirtualCardStatus `json:"cards,omitempty"`
}

// Indicator is the one-line indicator: "AirCard: connected (N)" or "not
// connected" with the reason.
func (s AirCardStatus) Indicator() string {
	if s.Connected {
		return fmt.Sprintf("AirCard: connected (%d)", len(s.Cards))
	}
	if s.Reason != "" {
		return "AirCard: not connected (" + s.Reason + ")"
	}
	return "AirCard: not connected"
}

type airBridge struct {
	slots Slots
	log   *slog.Logger

	mu      sync.Mutex
	pc      *agentproto.Conn // the current connection; nil while there is none
	next    uint64
	pending map[uint64]chan *agentproto.Message
	online  bool // the AirCard service, as the server last said
	cards   map[string]*airCard
}

func newAirBridge(slots Slots, log *slog.Logger) *airBridge {
	return &airBridge{slots: slots, log: log, pending: map[uint64]chan *agentproto.Message{}, cards: map[string]*airCard{}}
}

// connected starts serving a connection; disconnected ends it: the
// AirCards leave the readers, since nothing can reach them.
func (b *airBridge) connected(pc *agentproto.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pc = pc
}

func (b *airBridge) disconnected() {
	b.mu.Lock()
	b.pc = nil
	for id, ch := range b.pending {
		close(ch)
		delete(b.pending, id)
	}
	b.online = false
	cards := b.cards
	b.cards = map[string]*airCard{}
	b.mu.Unlock()
	for _, c := range cards {
		c.detach()
	}
}

// update applies an aircards message: AirCards newly allowed are
// attached, the others detached; with the service unreachable, none.
func (b *airBridge) update(m *agentproto.Message) {
	b.mu.Lock()
	b.online = m.ServiceOnline
	var drop []*airCard
	var add []agentproto.AirCard
	for serial, c := range b.cards {
		if !m.ServiceOnline || !slices.ContainsFunc(m.AirCards, func(a agentproto.AirCard) bool { return a.Serial == serial }) {
			drop = append(drop, c)
			delete(b.cards, serial)
		}
	}
	if m.ServiceOnline {
		for _, a := range m.AirCards {
			if b.cards[a.Serial] == nil {
				add = append(add, a)
			}
		}
	}
	b.mu.Unlock()
	for _, c := range drop {
		c.detach()
		b.log.Info("AirCard disconnected", "serial", c.serial)
	}
	for _, a := range add {
		ctx, cancel := context.WithCancel(context.Background())
		c := &airCard{b: b, serial: a.Serial, name: a.Name, cancel: cancel}
		if err := b.slots.Attach(ctx, c); err != nil {
			cancel()
			b.log.Warn("cannot connect an AirCard", "serial", a.Serial, "err", err)
			continue
		}
		b.mu.Lock()
		b.cards[a.Serial] = c
		b.mu.Unlock()
		b.log.Info("AirCard connected", "serial", a.Serial)
	}
}

// reply hands an airreply to the request waiting for it.
func (b *airBridge) reply(m *agentproto.Message) {
	b.mu.Lock()
	ch := b.pending[m.ID]
	delete(b.pending, m.ID)
	b.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// request sends m to the server and waits for its airreply.
func (b *airBridge) request(m *agentproto.Message) (*agentproto.Message, error) {
	ch := make(chan *agentproto.Message, 1)
	b.mu.Lock()
	pc := b.pc
	if pc == nil {
		b.mu.Unlock()
		return nil, errors.New("agent: not connected to the server")
	}
	b.next++
	m.ID = b.next
	b.pending[m.ID] = ch
	b.mu.Unlock()
	forget := func() {
		b.mu.Lock()
		delete(b.pending, m.ID)
		b.mu.Unlock()
	}
	if err := pc.Send(m); err != nil {
		forget()
		return nil, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, errors.New("agent: the connection to the server ended")
		}
		if r.Error != nil {
			return nil, r.Error
		}
		return r, nil
	case <-time.After(airRequestTimeout):
		forget()
		return nil, errors.New("agent: the server did not answer in time")
	}
}

// status is the AirCard indicator.
func (b *airBridge) status() AirCardStatus {
	if b == nil {
		return AirCardStatus{Reason: "this agent has no reader slots for AirCards"}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := AirCardStatus{}
	for _, c := range b.cards {
		st.Cards = append(st.Cards, VirtualCardStatus{Kind: agentproto.KindAirCard, Serial: c.serial})
	}
	sort.Slice(st.Cards, func(i, j int) bool { return st.Cards[i].Serial < st.Cards[j].Serial })
	switch {
	case b.pc == nil:
		st.Reason = "the server is not reachable"
	case !b.online:
		st.Reason = "the AirCard service is not reachable"
	case len(st.Cards) == 0:
		st.Reason = "no AirCard is allowed on this computer"
	default:
		st.Connected = true
	}
	return st
}

// airCard is an AirCard in a reader here: a vpcd.Card whose APDUs go to
// the AirCard service through the server. A session there is opened on
// the first APDU after power-on and closed at power-off or reset, which
// is when a card loses its security state.
type airCard struct {
	b            *airBridge
	serial, name string
	cancel       context.CancelFunc

	mu      sync.Mutex
	session uint64
}

func (c *airCard) ATR() []byte { return agentproto.VirtualATR(agentproto.KindAirCard) }

func (c *airCard) PowerOn()  { c.endSession() }
func (c *airCard) PowerOff() { c.endSession() }
func (c *airCard) Reset()    { c.endSession() }

func (c *airCard) endSession() {
	c.mu.Lock()
	id := c.session
	c.session = 0
	c.mu.Unlock()
	if id != 0 {
		go c.b.request(&agentproto.Message{Type: agentproto.TypeAirClose, Session: id})
	}
}

// swUnavailable is the status word an AirCard answers when the server or
// the AirCard service cannot be reached: 6F00, "no precise diagnosis"
// (ISO/IEC 7816-4, 5.6), as a card that failed.
var swUnavailable = []byte{0x6F, 0x00}

// Transmit forwards one APDU; it opens the session first when needed.
func (c *airCard) Transmit(cmd []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == 0 {
		id, err := c.open()
		if err != nil {
			c.b.log.Warn("cannot open a session on the AirCard", "serial", c.serial, "err", err)
			return swUnavailable
		}
		c.session = id
	}
	r, err := c.b.request(&agentproto.Message{Type: agentproto.TypeAirTransmit, Session: c.session, APDU: cmd})
	if err != nil || len(r.APDU) < 2 {
		c.b.log.Warn("an AirCard APDU failed", "serial", c.serial, "err", err)
		c.session = 0
		return swUnavailable
	}
	return r.APDU
}

// open opens a session on the AirCard at the service. The service may be
// (re)starting, its AirCards not yet listed at the server: an unavailable
// answer is tried again for a few seconds, as a card reader retries a
// card that is slow to answer reset.
func (c *airCard) open() (uint64, error) {
	deadline := time.Now().Add(airOpenPatience)
	wait := 100 * time.Millisecond
	for {
		r, err := c.b.request(&agentproto.Message{Type: agentproto.TypeAirOpen, Serial: c.serial})
		if err == nil && r.Session != 0 {
			return r.Session, nil
		}
		var pe *agentproto.Error
		if err == nil || !errors.As(err, &pe) || pe.Code != agentproto.ErrCodeUnavailable || time.Now().Add(wait).After(deadline) {
			if err == nil {
				err = errors.New("agent: the server opened no session")
			}
			return 0, err
		}
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

// airOpenPatience bounds the retries of an unavailable AirCard.
const airOpenPatience = 10 * time.Second

// detach takes the card out of its reader.
func (c *airCard) detach() {
	c.cancel()
	c.endSession()
}
