package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
)

// TPM is the workstation's TPM as the agent uses it: the requirements
// check it reports to the server, and the key store of the virtual cards
// whose keys live in it (TPM virtual smart cards and platform
// credentials). cmd/lanyard provides it with internal/tpm and
// internal/card/tpmkeys.
type TPM interface {
	// Status says whether the TPM is usable and, if not, why.
	Status() agentproto.TPMStatus
	// KeyStore makes and restores a virtual card's keys in the TPM; the
	// card's PIN authorizes their use there.
	KeyStore() (emu.KeyStore, error)
}

// Slots attach virtual cards to the workstation's readers, so that every
// PC/SC application (and the agent's own Readers) finds them like
// hardware cards: vpcd slots of pcscd (VPCDSlots) or, for demos and
// tests without pcscd, MemReaders.
type Slots interface {
	// Attach keeps card in a free reader until ctx ends; ErrNoSlot when
	// every slot is taken.
	Attach(ctx context.Context, card vpcd.Card) error
	// Free is how many more cards Attach takes.
	Free() int
}

// ErrNoSlot is returned by Slots.Attach when every slot holds a card.
var ErrNoSlot = errors.New("agent: no free reader slot for another virtual card")

// ErrNoTPM is returned when a TPM-bound virtual card is asked of a
// workstation without a usable TPM.
var ErrNoTPM = errors.New("agent: this workstation has no usable TPM")

// virtualDir is where, under the state directory, the virtual cards'
// states live: one sealed file per card, named after its kind, and the
// key that seals them. The TPM-wrapped key blobs are useless without the
// TPM; the seal keeps the card's data objects and counters private too.
const (
	virtualDir     = "virtual"
	virtualKeyFile = "seal.key"
	virtualSuffix  = ".card"
)

// virtualKDF derives the state files' keys from virtualKeyFile's 32 random
// bytes: a password-hardening cost buys nothing for a random key.
var virtualKDF = emu.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}

// virtualHost keeps the agent's virtual cards: it restores them from the
// state directory when the agent starts (a virtual card outlives agent
// restarts like a hardware card outlives unplugging) and creates new ones
// when the server asks.
type virtualHost struct {
	dir   string
	tpm   TPM
	slots Slots
	log   *slog.Logger

	mu     sync.Mutex
	ks     emu.KeyStore
	pass   []byte
	cards  map[string]*virtualCard // by file name
	ctx    context.Context
	cancel context.CancelFunc
}

type virtualCard struct {
	kind string
	card *emu.Card
	// detach takes the card out of its reader slot.
	detach context.CancelFunc
}

func newVirtualHost(stateDir string, tpm TPM, slots Slots, log *slog.Logger) *virtualHost {
	return &virtualHost{dir: filepath.Join(stateDir, virtualDir), tpm: tpm, slots: slots, log: log, cards: map[string]*virtualCard{}}
}

// status is the TPM part of the agent's hello.
func (h *virtualHost) status() *agentproto.TPMStatus {
	if h == nil || h.tpm == nil {
		return &agentproto.TPMStatus{Reason: "no TPM 2.0 was found on this workstation"}
	}
	st := h.tpm.Status()
	return &st
}

// slotsChanged returns a channel closed when freeSlots may have changed
// other than with a reader change, or nil when the slots do not tell.
func (h *virtualHost) slotsChanged() <-chan struct{} {
	if h == nil || h.slots == nil {
		return nil
	}
	if w, ok := h.slots.(interface{ Changed() <-chan struct{} }); ok {
		return w.Changed()
	}
	return nil
}

func (h *virtualHost) freeSlots() int {
	if h == nil || h.slots == nil {
		return 0
	}
	return h.slots.Free()
}

// start restores every virtual card found in the state directory and
// attaches it; a card that cannot be restored is logged and left on disk.
func (h *virtualHost) start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ctx, h.cancel = context.WithCancel(ctx)
	entries, err := os.ReadDir(h.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent: virtual cards: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), virtualSuffix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		kind, _, _ := strings.Cut(name, ".")
		if !tpmKind(kind) {
			h.log.Warn("ignoring a virtual card file of an unknown kind", "file", name)
			continue
		}
		vc, err := h.openLocked(name, kind)
		if err != nil {
			h.log.Error("cannot restore a virtual card; it stays on disk", "file", name, "err", err)
			continue
		}
		if err := h.attachLocked(vc); err != nil {
			h.log.Error("cannot attach a virtual card", "file", name, "serial", vc.card.Serial(), "err", err)
			continue
		}
		h.cards[name] = vc
		h.log.Info("virtual card attached", "kind", kind, "serial", vc.card.Serial())
	}
	return nil
}

func (h *virtualHost) stop() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		h.cancel()
	}
}

// create makes a new virtual card of kind, saves it and attaches it; it
// returns the card's serial.
func (h *virtualHost) create(kind string) (string, error) {
	if !tpmKind(kind) {
		return "", fmt.Errorf("agent: unknown virtual card kind %q", kind)
	}
	if h == nil || h.tpm == nil || !h.tpm.Status().Usable {
		return "", ErrNoTPM
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx == nil {
		return "", errors.New("agent: virtual cards are not started")
	}
	if h.slots.Free() == 0 {
		return "", ErrNoSlot
	}
	if err := ensureDir(h.dir); err != nil {
		return "", err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	name := kind + "." + hex.EncodeToString(id[:]) + virtualSuffix
	vc, err := h.openLocked(name, kind)
	if err != nil {
		return "", err
	}
	if err := h.attachLocked(vc); err != nil {
		os.Remove(filepath.Join(h.dir, name))
		return "", err
	}
	h.cards[name] = vc
	serial := strconv.FormatUint(uint64(vc.card.Serial()), 10)
	h.log.Info("virtual card created", "kind", kind, "serial", serial)
	return serial, nil
}

// attachLocked puts vc into a free reader slot until destroy or
// stop.
func (h *virtualHost) attachLocked(vc *virtualCard) error {
	ctx, cancel := context.WithCancel(h.ctx)
	if err := h.slots.Attach(ctx, vc.card); err != nil {
		cancel()
		return err
	}
	vc.detach = cancel
	return nil
}

// destroy removes the virtual card with serial: it leaves its reader and
// its state file is deleted, with the keys only it could use (a TPM
// card's keys exist only as blobs in that file). The server asks only for
// a card it could not register.
func (h *virtualHost) destroy(serial string) error {
	if h == nil {
		return fmt.Errorf("%w: no virtual card %s", ErrNoReader, serial)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	for name, vc := range h.cards {
		if strconv.FormatUint(uint64(vc.card.Serial()), 10) == serial {
			names = append(names, name)
		}
	}
	switch len(names) {
	case 0:
		return fmt.Errorf("%w: no virtual card %s", ErrNoReader, serial)
	case 1:
	default:
		// Serials are random: two alike here is unlikely, and which of
		// them the server means cannot be told, so neither goes.
		return fmt.Errorf("agent: %d virtual cards have serial %s; removing none", len(names), serial)
	}
	name, vc := names[0], h.cards[names[0]]
	// The file goes first: if it cannot, the card stays as it was
	// (attached, listed) and the server may ask again, instead of
	// coming back at the next start.
	if err := os.Remove(filepath.Join(h.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("agent: deleting virtual card %s: %w", serial, err)
	}
	vc.detach()
	delete(h.cards, name)
	h.log.Info("virtual card destroyed", "kind", vc.kind, "serial", serial)
	return nil
}

// openLocked opens (creating when absent) the card in file name.
func (h *virtualHost) openLocked(name, kind string) (*virtualCard, error) {
	if h.ks == nil {
		ks, err := h.tpm.KeyStore()
		if err != nil {
			return nil, fmt.Errorf("agent: the TPM's key store: %w", err)
		}
		h.ks = ks
	}
	if h.pass == nil {
		pass, err := h.sealKey()
		if err != nil {
			return nil, err
		}
		h.pass = pass
	}
	store, err := emu.NewSealedFile(filepath.Join(h.dir, name), h.pass, virtualKDF)
	if err != nil {
		return nil, err
	}
	card, err := emu.New(emu.WithStateStore(store), emu.WithKeyStore(h.ks), emu.WithATR(agentproto.VirtualATR(kind)), emu.WithLogger(h.log))
	if err != nil {
		return nil, err
	}
	return &virtualCard{kind: kind, card: card}, nil
}

// sealKey reads, or creates, the key that seals the virtual cards' states.
func (h *virtualHost) sealKey() ([]byte, error) {
	if err := ensureDir(h.dir); err != nil {
		return nil, err
	}
	path := filepath.Join(h.dir, virtualKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 64 {
			return nil, fmt.Errorf("agent: %s is damaged", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	b = []byte(hex.EncodeToString(k[:]))
	if err := writeFileAtomic(path, b); err != nil {
		return nil, err
	}
	return b, nil
}

// list returns the virtual cards' kinds and serials, for agent status.
func (h *virtualHost) list() []VirtualCardStatus {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]VirtualCardStatus, 0, len(h.cards))
	for _, vc := range h.cards {
		out = append(out, VirtualCardStatus{Kind: vc.kind, Serial: strconv.FormatUint(uint64(vc.card.Serial()), 10)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Serial < out[j].Serial })
	return out
}

// VirtualCardStatus is one virtual card in the agent's status.
type VirtualCardStatus struct {
	Kind   string `json:"kind"`
	Serial string `json:"serial"`
}

// createAndFind creates a virtual card and waits until the inventory shows
// it in a reader (with its serial read), so the server can open it at
// once.
func (a *Agent) createAndFind(kind string) *agentproto.Message {
	create := a.virtual.create
	if a.cfg.Create != nil {
		create = a.cfg.Create
	}
	serial, err := create(kind)
	if err != nil {
		return errReply(err)
	}
	deadline := time.Now().Add(virtualAttachTimeout)
	for {
		readers, changed := a.inv.snapshot()
		for _, r := range readers {
			if r.Present && r.Serial == serial {
				return &agentproto.Message{Reader: r.Name, Serial: serial}
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return errReply(fmt.Errorf("agent: virtual card %s was created but no reader shows it after %v; is pcscd's vpcd driver running?", serial, virtualAttachTimeout))
		}
		select {
		case <-changed:
		case <-time.After(left):
		}
	}
}

// destroyVirtual removes a virtual card the agent made (createAndFind).
func (a *Agent) destroyVirtual(serial string) error {
	if a.cfg.Create != nil {
		if a.cfg.Destroy == nil {
			return fmt.Errorf("agent: this agent cannot remove the cards it made")
		}
		return a.cfg.Destroy(serial)
	}
	return a.virtual.destroy(serial)
}

// virtualAttachTimeout bounds the wait for a new virtual card to appear in
// pcscd (vpcd connects, pcscd polls, the agent reads the serial).
const virtualAttachTimeout = 20 * time.Second

// tpmKind reports whether kind is a virtual card kind a workstation agent
// makes in its TPM.
func tpmKind(kind string) bool {
	return kind == agentproto.KindTPMVirtualCard || kind == agentproto.KindPlatformCredential
}
