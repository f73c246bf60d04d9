package agent

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
)

// MemReaders are readers in process holding emulated cards, with no
// pcscd: for `make run` demos on machines without PC/SC and for tests.
// They behave like PC/SC readers where the agent can tell: exclusive
// connections keep others out, and a removed card fails its connections
// with ErrCardRemoved even after another card is inserted.
type MemReaders struct {
	mu       sync.Mutex
	slots    map[string]*memSlot
	names    []string
	watchers map[int]func(ReaderEvent)
	nextW    int
}

type memSlot struct {
	card      vpcd.Card
	gen       uint64 // bumped on every insert and remove
	exclusive bool
	shared    int
}

// NewMemReaders returns empty readers with the given names.
func NewMemReaders(names ...string) *MemReaders {
	m := &MemReaders{slots: map[string]*memSlot{}, watchers: map[int]func(ReaderEvent){}}
	for _, n := range names {
		m.slots[n] = &memSlot{}
		m.names = append(m.names, n)
	}
	return m
}

// Insert puts card into reader, removing any card there first.
func (m *MemReaders) Insert(reader string, card vpcd.Card) error {
	m.mu.Lock()
	s := m.slots[reader]
	if s == nil {
		m.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNoReader, reader)
	}
	if s.card != nil {
		s.card.PowerOff()
	}
	card.PowerOn()
	*s = memSlot{card: card, gen: s.gen + 1}
	ev := ReaderEvent{Reader: reader, Present: true, ATR: card.ATR()}
	fns := m.watchersLocked()
	m.mu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
	return nil
}

// Remove takes the card out of reader, if there is one.
func (m *MemReaders) Remove(reader string) {
	m.mu.Lock()
	s := m.slots[reader]
	if s == nil || s.card == nil {
		m.mu.Unlock()
		return
	}
	s.card.PowerOff()
	*s = memSlot{gen: s.gen + 1}
	fns := m.watchersLocked()
	m.mu.Unlock()
	for _, fn := range fns {
		fn(ReaderEvent{Reader: reader})
	}
}

func (m *MemReaders) watchersLocked() []func(ReaderEvent) {
	fns := make([]func(ReaderEvent), 0, len(m.watchers))
	for _, fn := range m.watchers {
		fns = append(fns, fn)
	}
	return fns
}

// Watch implements Readers.
func (m *MemReaders) Watch(ctx context.Context, fn func(ReaderEvent)) error {
	m.mu.Lock()
	id := m.nextW
	m.nextW++
	// Calls are serialized per watcher, as pcsc's are.
	var fmu sync.Mutex
	m.watchers[id] = func(ev ReaderEvent) { fmu.Lock(); defer fmu.Unlock(); fn(ev) }
	var initial []ReaderEvent
	for _, n := range slices.Sorted(slices.Values(m.names)) {
		ev := ReaderEvent{Reader: n}
		if c := m.slots[n].card; c != nil {
			ev.Present, ev.ATR = true, c.ATR()
		}
		initial = append(initial, ev)
	}
	w := m.watchers[id]
	m.mu.Unlock()
	for _, ev := range initial {
		w(ev)
	}
	<-ctx.Done()
	m.mu.Lock()
	delete(m.watchers, id)
	m.mu.Unlock()
	return ctx.Err()
}

// Connect implements Readers.
func (m *MemReaders) Connect(reader string, exclusive bool) (Card, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.slots[reader]
	switch {
	case s == nil:
		return nil, fmt.Errorf("%w: %q", ErrNoReader, reader)
	case s.card == nil:
		return nil, fmt.Errorf("%w: %q", ErrNoCard, reader)
	case s.exclusive || exclusive && s.shared > 0:
		return nil, fmt.Errorf("%w: %q", ErrCardBusy, reader)
	}
	if exclusive {
		s.exclusive = true
	} else {
		s.shared++
	}
	return &memCard{m: m, reader: reader, gen: s.gen, card: s.card, exclusive: exclusive}, nil
}

type memCard struct {
	m         *MemReaders
	reader    string
	gen       uint64
	card      vpcd.Card
	exclusive bool
	closed    bool
}

// valid reports whether the connection still reaches its card: not
// closed, and the reader still there (an attached virtual reader goes
// when its card is detached) with the same card in it.
func (k *memCard) valid() bool {
	s := k.m.slots[k.reader]
	return !k.closed && s != nil && s.gen == k.gen
}

func (k *memCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.m.mu.Lock()
	ok := k.valid()
	k.m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrCardRemoved, k.reader)
	}
	return k.card.Transmit(bytes.Clone(cmd)), nil
}

func (k *memCard) Close() error {
	k.m.mu.Lock()
	defer k.m.mu.Unlock()
	if k.closed {
		return nil
	}
	if k.valid() {
		s := k.m.slots[k.reader]
		if k.exclusive {
			s.exclusive = false
		} else {
			s.shared--
		}
	}
	k.closed = true
	return nil
}

// Attach implements Slots: it adds a reader named "Lanyard virtual N",
// inserts card and, when ctx ends, removes both. MemReaders take up to
// memMaxReaders readers in all.
func (m *MemReaders) Attach(ctx context.Context, card vpcd.Card) error {
	m.mu.Lock()
	if len(m.names) >= memMaxReaders {
		m.mu.Unlock()
		return ErrNoSlot
	}
	var name string
	for i := 0; ; i++ {
		name = fmt.Sprintf("Lanyard virtual %d", i)
		if m.slots[name] == nil {
			break
		}
	}
	m.slots[name] = &memSlot{}
	m.names = append(m.names, name)
	m.mu.Unlock()
	if err := m.Insert(name, card); err != nil {
		return err
	}
	context.AfterFunc(ctx, func() {
		m.Remove(name)
		m.mu.Lock()
		delete(m.slots, name)
		m.names = slices.DeleteFunc(m.names, func(n string) bool { return n == name })
		fns := m.watchersLocked()
		m.mu.Unlock()
		for _, fn := range fns {
			fn(ReaderEvent{Reader: name, Gone: true})
		}
	})
	return nil
}

// Free implements Slots.
func (m *MemReaders) Free() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(0, memMaxReaders-len(m.names))
}

// memMaxReaders bounds MemReaders, as a workstation's reader slots are
// few.
const memMaxReaders = 16
