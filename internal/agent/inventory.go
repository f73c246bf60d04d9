package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
)

// serialTimeout bounds reading a card's serial; a card that takes longer
// is reported without one.
const serialTimeout = 5 * time.Second

// inventory is the agent's view of its readers, kept by Readers.Watch for
// the agent's whole life (connected or not).
type inventory struct {
	readers Readers
	log     *slog.Logger

	mu      sync.Mutex
	list    map[string]agentproto.Reader
	gen     map[string]uint64 // bumped on every change of a reader's card
	locks   map[string]*sync.Mutex
	again   map[string]bool                 // readers whose PIN status is to be reported again (pincheck.go)
	states  map[string]agentproto.CardState // by serial: what the server said (cardstate.go)
	changed chan struct{}                   // closed and replaced on every change
	// worked are readers whose card the server worked on (a relay
	// session closed): its PIN rules are asked again (pinrules.go), an
	// issue having made the card the owner's.
	worked chan string
}

func newInventory(r Readers, log *slog.Logger) *inventory {
	return &inventory{readers: r, log: log, list: map[string]agentproto.Reader{}, gen: map[string]uint64{},
		locks: map[string]*sync.Mutex{}, again: map[string]bool{}, states: map[string]agentproto.CardState{}, changed: make(chan struct{}),
		worked: make(chan string, 16)}
}

// run watches the readers until ctx ends, retrying when the watch fails
// (pcscd restarting).
func (inv *inventory) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := inv.readers.Watch(ctx, inv.event)
		if ctx.Err() != nil {
			return
		}
		inv.log.Warn("watching readers failed; retrying", "err", err)
		inv.mu.Lock()
		for name := range inv.list {
			inv.gen[name]++
		}
		clear(inv.list) // unknown until the watch works again
		inv.notifyLocked()
		inv.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func (inv *inventory) event(ev ReaderEvent) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	old, had := inv.list[ev.Reader]
	if had && old.Serial != "" && (ev.Gone || !ev.Present || !bytes.Equal(old.ATR, ev.ATR)) {
		delete(inv.states, old.Serial) // the card left: the server tells its state again at its next arrival
	}
	switch {
	case ev.Gone:
		delete(inv.list, ev.Reader)
	case ev.Present:
		if had && old.Present && bytes.Equal(old.ATR, ev.ATR) {
			return
		}
		inv.list[ev.Reader] = agentproto.Reader{Name: ev.Reader, Present: true, ATR: bytes.Clone(ev.ATR)}
	default:
		inv.list[ev.Reader] = agentproto.Reader{Name: ev.Reader}
	}
	inv.gen[ev.Reader]++
	inv.notifyLocked()
	if ev.Present && !ev.Gone {
		// Presence goes out at once; the serial follows.
		go inv.readSerial(ev.Reader, inv.gen[ev.Reader])
	}
}

func (inv *inventory) notifyLocked() {
	close(inv.changed)
	inv.changed = make(chan struct{})
}

// lock returns the mutex that serializes the agent's own use of the card
// in reader (reading its serial) with the server's sessions.
func (inv *inventory) lock(reader string) *sync.Mutex {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	l := inv.locks[reader]
	if l == nil {
		l = &sync.Mutex{}
		inv.locks[reader] = l
	}
	return l
}

// readSerial reads the card's serial with the PIV client and no key:
// GET SERIAL when the card has the vendor instruction, else the CHUID's
// GUID. Non-PIV cards and failures leave it empty.
func (inv *inventory) readSerial(reader string, gen uint64) { inv.readSerialTry(reader, gen, 1) }

// serialTries is how often the serial is read before the card is
// reported without one: a card that is busy or slow at first (an AirCard
// whose service is still starting) gets two more chances, a few seconds
// apart; a card that is not a PIV card costs three short reads.
const serialTries = 3

func (inv *inventory) readSerialTry(reader string, gen uint64, try int) {
	l := inv.lock(reader)
	l.Lock()
	serial, pin := func() (string, *agentproto.PINStatus) {
		card, err := inv.readers.Connect(reader, false)
		if err != nil {
			return "", nil
		}
		defer card.Close()
		ctx, cancel := context.WithTimeout(context.Background(), serialTimeout)
		defer cancel()
		serial := cardSerial(ctx, card)
		if serial == "" {
			return "", nil
		}
		return serial, cardPINStatus(ctx, card, false)
	}()
	l.Unlock()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	r, ok := inv.list[reader]
	if !ok || inv.gen[reader] != gen || !r.Present {
		return // the card changed meanwhile
	}
	if serial == "" {
		if try < serialTries {
			time.AfterFunc(time.Duration(try)*2*time.Second, func() { inv.readSerialTry(reader, gen, try+1) })
		}
		return
	}
	r.Serial, r.PIN = serial, pin
	inv.list[reader] = r
	inv.gen[reader]++
	inv.notifyLocked()
}

func cardSerial(ctx context.Context, t Card) string {
	c, err := piv.New(t, piv.Config{Rand: rand.Reader})
	if err != nil {
		return ""
	}
	if _, err := c.Select(ctx); err != nil {
		return ""
	}
	if n, err := c.Serial(ctx); err == nil {
		return strconv.FormatUint(uint64(n), 10)
	}
	if ch, err := c.CHUID(ctx); err == nil && len(ch.GUID) == 16 {
		return strings.ToUpper(hex.EncodeToString(ch.GUID))
	}
	return ""
}

// snapshot returns the readers by name and a channel closed at the next
// change.
func (inv *inventory) snapshot() ([]agentproto.Reader, <-chan struct{}) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := make([]agentproto.Reader, 0, len(inv.list))
	for _, r := range inv.list {
		r.ATR = bytes.Clone(r.ATR)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b agentproto.Reader) int { return strings.Compare(a.Name, b.Name) })
	if len(out) > agentproto.MaxReaders {
		out = out[:agentproto.MaxReaders]
	}
	return out, inv.changed
}

// generation returns the reader's card generation, to notice a card
// swapped under a session.
func (inv *inventory) generation(reader string) (uint64, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	r, ok := inv.list[reader]
	return inv.gen[reader], ok && r.Present
}
