package aircard

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
)

var _ agent.Readers = (*Host)(nil)

// Watch implements agent.Readers: one present reader per hosted card,
// sorted by name, then every Create (Present) and Delete (Gone), until ctx
// ends or the host is closed. Calls of fn are serialized and in the order
// of the changes; fn must not call Create or Delete.
func (h *Host) Watch(ctx context.Context, fn func(agent.ReaderEvent)) error {
	h.evMu.Lock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.evMu.Unlock()
		return errClosed
	}
	id := h.nextW
	h.nextW++
	h.watchers[id] = fn
	initial := make([]agent.ReaderEvent, 0, len(h.cards))
	for _, c := range h.cards {
		initial = append(initial, agent.ReaderEvent{Reader: ReaderName(c.serial), Present: true, ATR: h.atr})
	}
	h.mu.Unlock()
	slices.SortFunc(initial, func(a, b agent.ReaderEvent) int { return strings.Compare(a.Reader, b.Reader) })
	for _, ev := range initial {
		ev.ATR = bytes.Clone(ev.ATR)
		fn(ev)
	}
	h.evMu.Unlock()
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case <-h.done:
		err = errClosed
	}
	h.mu.Lock()
	delete(h.watchers, id)
	h.mu.Unlock()
	return err
}

// Connect implements agent.Readers: a new emu.Session on the card, with its
// own volatile state (selected application, PIN and management key
// status, command chaining). exclusive is not enforced: a PC/SC exclusive
// connection keeps others out because a real card has one security state
// that they would share, and a hosted card's sessions share none, so the
// server issuing a card and workstations using it do not lock each other
// out. Commands of all sessions are serialized by the card.
func (h *Host) Connect(reader string, exclusive bool) (agent.Card, error) {
	serial, ok := strings.CutPrefix(reader, readerPrefix)
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.cards[serial]
	if !ok || c == nil || h.closed {
		return nil, fmt.Errorf("%w: %q", agent.ErrNoReader, reader)
	}
	return &conn{c: c, sess: c.card.NewSession()}, nil
}

// conn is one connection to a hosted card.
type conn struct {
	c    *hosted
	sess *emu.Session

	mu     sync.Mutex
	closed bool
}

// Transmit implements agent.Card.
func (k *conn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed || k.c.removed.Load() {
		return nil, fmt.Errorf("%w: %q", agent.ErrCardRemoved, ReaderName(k.c.serial))
	}
	return k.sess.Transmit(bytes.Clone(cmd)), nil
}

// Close implements agent.Card: the session ends and its security state is
// wiped.
func (k *conn) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed {
		k.closed = true
		k.sess.Close()
	}
	return nil
}
