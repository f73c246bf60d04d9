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

	mu   sync.Mutex
	used map[string]bool
}

// NewVPCDSlots returns slots at the given vpcd addresses (HOST:PORT).
func NewVPCDSlots(addrs []string, log *slog.Logger) *VPCDSlots {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &VPCDSlots{addrs: addrs, log: log, used: map[string]bool{}}
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
		go func() {
			<-s.Done()
			v.mu.Lock()
			delete(v.used, addr)
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
