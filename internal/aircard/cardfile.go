package aircard

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/fsutil"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// A card file is
//
//	magic "LANYARD-AIRCARD\0", version (1 byte), serial (4 bytes),
//	length of the wrapped data key (2 bytes), wrapped data key,
//	the card's emu.State as JSON sealed by internal/seal (AES-256-GCM,
//	random nonce) under the data key, with everything before it as
//	associated data.
//
// So the serial and the wrapped key cannot be swapped between files, and
// nothing in the file is in clear but the serial.
var fileMagic = []byte("LANYARD-AIRCARD\x00")

const (
	fileVersion   = 1
	fileHeaderMin = 16 + 1 + 4 + 2
	maxWrappedLen = 1024
	// maxFileSize bounds what Load reads: a state with every object at
	// its maximum is far smaller.
	maxFileSize = 16 << 20
	fileExt     = ".card"
)

// cardHeader is a card file's clear part.
type cardHeader struct {
	serial  uint32
	wrapped []byte
}

func (h cardHeader) marshal() []byte {
	b := make([]byte, 0, fileHeaderMin+len(h.wrapped))
	b = append(b, fileMagic...)
	b = append(b, fileVersion)
	b = binary.BigEndian.AppendUint32(b, h.serial)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.wrapped)))
	return append(b, h.wrapped...)
}

// parseCardFile splits a card file into its header, the header's bytes
// (the associated data) and the sealed state.
func parseCardFile(b []byte) (h cardHeader, header, sealed []byte, err error) {
	if len(b) < fileHeaderMin || !bytes.HasPrefix(b, fileMagic) {
		return h, nil, nil, fmt.Errorf("%w: no AirCard header", ErrCorrupt)
	}
	if v := b[len(fileMagic)]; v != fileVersion {
		return h, nil, nil, fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, v, fileVersion)
	}
	p := len(fileMagic) + 1
	h.serial = binary.BigEndian.Uint32(b[p:])
	n := int(binary.BigEndian.Uint16(b[p+4:]))
	p += 6
	if n == 0 || n > maxWrappedLen || len(b) < p+n+1 {
		return h, nil, nil, fmt.Errorf("%w: wrapped data key of %d bytes in a %d-byte file", ErrCorrupt, n, len(b))
	}
	h.wrapped = b[p : p+n]
	return h, b[:p+n], b[p+n:], nil
}

// cardFile is the emu.StateStore of one hosted card. A new card's file
// gets its name, data key and wrapped key on the first Save, when the
// emulator has chosen the serial (claim reserves it).
type cardFile struct {
	kek   KEK
	claim func(serial uint32) (path string, err error)

	mu      sync.Mutex
	path    string
	header  cardHeader
	sealer  *seal.AESGCM
	deleted bool
}

// newCardFile returns the store of the existing file at path.
func newCardFile(path string, kek KEK) *cardFile { return &cardFile{kek: kek, path: path} }

// Load implements emu.StateStore: it unwraps the data key with the KEK
// and opens the state.
func (f *cardFile) Load() (*emu.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.path == "" {
		return nil, emu.ErrNoState
	}
	b, err := readLimited(f.path)
	if err != nil {
		return nil, err
	}
	h, header, sealed, err := parseCardFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	key, err := f.kek.Unwrap(h.wrapped)
	if err != nil {
		return nil, fmt.Errorf("%s: data key: %w", f.path, err)
	}
	s, err := seal.New(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: data key: %v", ErrCorrupt, f.path, err)
	}
	plain, err := s.Open(sealed, header)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: card state: %v", ErrCorrupt, f.path, err)
	}
	var st emu.State
	err = json.Unmarshal(plain, &st)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: card state: %v", ErrCorrupt, f.path, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, f.path, err)
	}
	if st.Serial != h.serial {
		return nil, fmt.Errorf("%w: %s: header serial %d, state serial %d", ErrCorrupt, f.path, h.serial, st.Serial)
	}
	f.header = cardHeader{serial: h.serial, wrapped: bytes.Clone(h.wrapped)}
	f.sealer = s
	return &st, nil
}

func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("aircard: reading card file: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("aircard: reading card file: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%w: %s has %d bytes", ErrCorrupt, path, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := fh.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("aircard: reading card file: %w", err)
	}
	return b, nil
}

// errDeleted: the card was deleted; a change it makes is not saved (the
// card answers 6581).
var errDeleted = errors.New("aircard: the card was deleted")

// Save implements emu.StateStore: it seals s and replaces the file
// atomically.
func (f *cardFile) Save(s *emu.State) error {
	plain, err := json.Marshal(s)
	if err != nil {
		return err
	}
	defer clear(plain)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted {
		return errDeleted
	}
	if f.sealer == nil {
		if err := f.create(s.Serial); err != nil {
			return err
		}
	}
	if s.Serial != f.header.serial {
		return fmt.Errorf("aircard: %s: the card's serial changed from %d to %d", f.path, f.header.serial, s.Serial)
	}
	header := f.header.marshal()
	sealed, err := f.sealer.Seal(plain, header)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(f.path, append(header, sealed...)); err != nil {
		return fmt.Errorf("aircard: writing card file: %w", err)
	}
	return nil
}

// create claims serial for a new card, makes its data key and wraps it.
func (f *cardFile) create(serial uint32) error {
	key := make([]byte, seal.KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	wrapped, err := f.kek.Wrap(key)
	if err != nil {
		return fmt.Errorf("aircard: wrapping the data key with %s: %w", f.kek, err)
	}
	if len(wrapped) > maxWrappedLen {
		return fmt.Errorf("aircard: %s wraps 32 bytes into %d", f.kek, len(wrapped))
	}
	s, err := seal.New(key)
	if err != nil {
		return err
	}
	path, err := f.claim(serial)
	if err != nil {
		return err
	}
	f.path, f.header, f.sealer = path, cardHeader{serial: serial, wrapped: wrapped}, s
	return nil
}

// remove deletes the file; later Saves fail.
func (f *cardFile) remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = true
	if f.path == "" {
		return nil
	}
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("aircard: deleting card file: %w", err)
	}
	fsutil.SyncDir(filepath.Dir(f.path))
	return nil
}
