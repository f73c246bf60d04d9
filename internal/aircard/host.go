package aircard

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
)

// readerPrefix starts every hosted card's reader name.
const readerPrefix = "Lanyard AirCard "

// ReaderName is the reader a hosted card appears in: "Lanyard AirCard "
// and the serial in decimal.
func ReaderName(serial string) string { return readerPrefix + serial }

// Host keeps the AirCards of one directory, each in its own sealed file
// SERIAL.card, and serves them as agent.Readers. It is safe for concurrent
// use. An idle card costs its emu.Card in memory (state, parsed keys) and
// nothing else: no goroutine, no open file.
type Host struct {
	dir string
	kek KEK
	log *slog.Logger
	atr []byte

	// evMu serializes changes with their events, so that every watcher
	// sees creates and deletes in the order they happened.
	evMu sync.Mutex

	mu       sync.Mutex
	cards    map[string]*hosted // by serial
	claimed  map[string]bool    // serials of cards being created
	watchers map[int]func(agent.ReaderEvent)
	nextW    int
	closed   bool
	done     chan struct{}
}

// hosted is one card.
type hosted struct {
	serial  string
	card    *emu.Card
	file    *cardFile
	removed atomic.Bool // deleted, or the host closed
}

// Open loads every card file in dir (created with mode 0700 when missing).
// A card that does not open (wrong KEK, damaged file) is logged and
// skipped, and its file left alone.
func Open(dir string, kek KEK, log *slog.Logger) (*Host, error) {
	if kek == nil {
		return nil, errors.New("aircard: Open without a KEK")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("aircard: card directory: %w", err)
	}
	h := &Host{
		dir:      dir,
		kek:      kek,
		log:      log,
		atr:      agentproto.VirtualATR(agentproto.KindAirCard),
		cards:    map[string]*hosted{},
		claimed:  map[string]bool{},
		watchers: map[int]func(agent.ReaderEvent){},
		done:     make(chan struct{}),
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("aircard: card directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		serial, ok := strings.CutSuffix(name, fileExt)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if !validSerial(serial) {
			log.Warn("aircard: skipping a file whose name is not a serial", "file", name)
			continue
		}
		path := filepath.Join(dir, name)
		file := newCardFile(path, kek)
		card, err := h.newCard(file)
		if err != nil {
			log.Error("aircard: a card does not open; skipped", "serial", serial, "kek", kek.String(), "err", err)
			continue
		}
		if got := strconv.FormatUint(uint64(card.Serial()), 10); got != serial {
			log.Error("aircard: a card file's name is not its serial; skipped", "file", name, "serial", got)
			continue
		}
		h.cards[serial] = &hosted{serial: serial, card: card, file: file}
	}
	log.Info("aircard: host open", "dir", dir, "cards", len(h.cards), "kek", kek.String())
	return h, nil
}

// validSerial: 1 to 10 decimal digits, no leading zero, at most 2^32-1.
func validSerial(s string) bool {
	n, err := strconv.ParseUint(s, 10, 32)
	return err == nil && strconv.FormatUint(n, 10) == s
}

func (h *Host) newCard(file *cardFile) (*emu.Card, error) {
	return emu.New(
		emu.WithStateStore(file),
		emu.WithKeyStore(emu.SoftKeyStore{}),
		emu.WithATR(h.atr),
		emu.WithLogger(h.log),
	)
}

// Create makes a factory-fresh card (default PIN, PUK and management key,
// random serial) and returns its serial in decimal, as the agent's
// inventory reports serials. Its reader appears to every watcher.
func (h *Host) Create() (serial string, err error) {
	h.evMu.Lock()
	defer h.evMu.Unlock()
	if h.isClosed() {
		return "", errClosed
	}
	var file *cardFile
	var card *emu.Card
	for range 3 {
		file = &cardFile{kek: h.kek, claim: h.claim}
		card, err = h.newCard(file)
		if !errors.Is(err, errSerialTaken) {
			break
		}
	}
	if err != nil {
		file.remove()
		h.unclaim(file)
		return "", fmt.Errorf("aircard: creating a card: %w", err)
	}
	serial = strconv.FormatUint(uint64(card.Serial()), 10)
	c := &hosted{serial: serial, card: card, file: file}
	h.mu.Lock()
	delete(h.claimed, serial)
	if h.closed {
		h.mu.Unlock()
		file.remove()
		return "", errClosed
	}
	h.cards[serial] = c
	fns := h.watchersLocked()
	h.mu.Unlock()
	h.log.Info("aircard: card created", "serial", serial)
	ev := agent.ReaderEvent{Reader: ReaderName(serial), Present: true, ATR: card.ATR()}
	for _, fn := range fns {
		fn(ev)
	}
	return serial, nil
}

// errSerialTaken makes emu.New fail for a serial another card has; Create
// then reports it (a one in tens of millions chance per pair of cards).
var errSerialTaken = errors.New("aircard: the new card's random serial is taken")

// claim reserves serial for a card being created and returns its file.
func (h *Host) claim(serial uint32) (string, error) {
	s := strconv.FormatUint(uint64(serial), 10)
	path := filepath.Join(h.dir, s+fileExt)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cards[s] != nil || h.claimed[s] {
		return "", errSerialTaken
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		// A file this host skipped (another KEK's card) keeps its
		// serial.
		return "", errSerialTaken
	}
	h.claimed[s] = true
	return path, nil
}

func (h *Host) unclaim(file *cardFile) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if file.header.serial != 0 {
		delete(h.claimed, strconv.FormatUint(uint64(file.header.serial), 10))
	}
}

// Delete removes a card: its file is deleted, its reader disappears
// (ReaderEvent.Gone) and its open connections fail with
// agent.ErrCardRemoved.
func (h *Host) Delete(serial string) error {
	h.evMu.Lock()
	defer h.evMu.Unlock()
	h.mu.Lock()
	c := h.cards[serial]
	if c == nil {
		h.mu.Unlock()
		return fmt.Errorf("%w: no AirCard %q", agent.ErrNoReader, serial)
	}
	delete(h.cards, serial)
	c.removed.Store(true)
	fns := h.watchersLocked()
	h.mu.Unlock()
	err := c.file.remove()
	h.log.Info("aircard: card deleted", "serial", serial)
	ev := agent.ReaderEvent{Reader: ReaderName(serial), Gone: true}
	for _, fn := range fns {
		fn(ev)
	}
	return err
}

// Serials returns the serials of the hosted cards, sorted.
func (h *Host) Serials() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := make([]string, 0, len(h.cards))
	for k := range h.cards {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

var errClosed = errors.New("aircard: the host is closed")

// Close stops the host: watchers return, connections fail with
// agent.ErrCardRemoved. Every state was saved when it changed, so nothing
// is written. The KEK is the caller's to close.
func (h *Host) Close() error {
	h.evMu.Lock()
	defer h.evMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	for _, c := range h.cards {
		c.removed.Store(true)
	}
	close(h.done)
	return nil
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *Host) watchersLocked() []func(agent.ReaderEvent) {
	fns := make([]func(agent.ReaderEvent), 0, len(h.watchers))
	for _, fn := range h.watchers {
		fns = append(fns, fn)
	}
	return fns
}
