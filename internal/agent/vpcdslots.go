package agent

import (
	"context"
	"log/slog"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
)

// VPCDSlots attach virtual cards to pcscd through vsmartcard's vpcd
// driver: each address is one vpcd slot (one reader), and a slot holds one
// card at a time. Debian's vpcd configuration gives two slots, ports 35963
// and 35964 (/etc/reader.conf.d/vpcd); vpcd listens only for local
// connections unless configured otherwise, and the agent dials loopback
// addresses only.
type VPCDSlots struct {
	addrs []string
	log   *slog.Logger

	mu      sync.Mutex
	used    map[string]bool
	changed chan struct{} // closed, and replaced, when Free changes
}

// NewVPCDSlots returns slots at the given vpcd addresses (HOST:PORT).
func NewVPCDSlots(addrs []string, log *slog.Logger) *VPCDSlots {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &VPCDSlots{addrs: addrs, log: log, used: map[string]bool{}, changed: make(chan struct{})}
}

// Changed returns a channel closed at the next change of Free. A slot is
// freed only once its vpcd connection has ended, which may be after
// pcscd already reported the card gone: the agent waits on this, not
// only on reader changes, to tell the server its free slots.
func (v *VPCDSlots) Changed() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// notifyLocked wakes the Changed waiters. v.mu must be held.
func (v *VPCDSlots) notifyLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// Attach implements Slots: the card is served in the first free slot
// until ctx ends (vpcd.Start redials when pcscd restarts).
func (v *VPCDSlots) Attach(ctx context.Context, card vpcd.Card) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, addr := range v.addrs {
		if v.used[addr] {
			continue
		}
		s, err := vpcd.Start(ctx, addr, card, vpcd.WithLogger(v.log))
		if err != nil {
			return err
		}
		v.used[addr] = true
		v.notifyLocked()
		go func() {
			<-s.Done()
			v.mu.Lock()
			delete(v.used, addr)
			v.notifyLocked()
			v.mu.Unlock()
		}()
		return nil
	}
	return ErrNoSlot
}

// Free implements Slots.
func (v *VPCDSlots) Free() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.addrs) - len(v.used)
}
