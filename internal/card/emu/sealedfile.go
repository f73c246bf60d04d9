package emu

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"golang.org/x/crypto/argon2"

	"github.com/lanyard-cms/lanyard/internal/fsutil"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// Errors of SealedFile.Load; test them with errors.Is.
var (
	// ErrWrongPassphrase: the file was sealed under another passphrase.
	ErrWrongPassphrase = errors.New("emu: wrong passphrase for the card state file")
	// ErrCorruptState: the file is not a card state file, was truncated
	// or modified, or holds a state this package cannot run.
	ErrCorruptState = errors.New("emu: card state file is corrupt or not a card state file")
)

// KDFParams are the Argon2id parameters (RFC 9106) that turn a passphrase
// into the file's key. They are stored in the file, so a file opens with
// the parameters it was sealed with.
type KDFParams struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultKDF is RFC 9106's second recommended option (section 4: t=3,
// 64 MiB, 4 lanes), for a passphrase typed or stored by an operator.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// Bounds on what a file may ask of Load, so that a crafted file cannot
// exhaust memory or time.
const (
	maxKDFTime   = 16
	maxKDFMemory = 1 << 20 // KiB: 1 GiB
)

// sealedMagic starts every card state file; the byte after it is the
// format version.
var sealedMagic = []byte("LANYARD-CARD\x00")

const (
	sealedVersion = 1
	saltLen       = 16
	// headerLen: magic, version, time (4), memory (4), threads (1), salt.
	headerLen = 13 + 1 + 4 + 4 + 1 + saltLen
	// checksumLen: the SHA-256 of everything before it ends the file.
	checksumLen = sha256.Size
)

// SealedFile is a StateStore in one file, encrypted with AES-256-GCM
// (internal/seal) under a key derived from a passphrase with Argon2id and a
// random salt. The header (magic, version, KDF parameters, salt) is bound to
// the ciphertext as associated data. A SHA-256 checksum of the rest ends the
// file, so that a damaged file is reported as such rather than as a wrong
// passphrase (the key depends on the header). Save writes a temporary file in the
// same directory, syncs it and renames it over the old one, so a crash
// leaves the old state or the new one; the file's mode is 0600.
//
// The key is derived once per SealedFile (on the first Load or Save) and
// kept in memory. One SealedFile serves one card; two processes must not
// share a file.
type SealedFile struct {
	path       string
	passphrase []byte
	kdf        KDFParams

	mu     sync.Mutex
	salt   []byte
	sealer seal.Sealer
}

// NewSealedFile returns the store for the file at path. kdf applies to
// files it creates; the zero value means DefaultKDF.
func NewSealedFile(path string, passphrase []byte, kdf KDFParams) (*SealedFile, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("emu: the card state passphrase is empty")
	}
	if kdf == (KDFParams{}) {
		kdf = DefaultKDF
	}
	if err := kdf.check(); err != nil {
		return nil, err
	}
	return &SealedFile{path: path, passphrase: bytes.Clone(passphrase), kdf: kdf}, nil
}

func (p KDFParams) check() error {
	if p.Time < 1 || p.Time > maxKDFTime || p.MemoryKiB < 8*uint32(max(p.Threads, 1)) || p.MemoryKiB > maxKDFMemory || p.Threads < 1 {
		return fmt.Errorf("emu: Argon2id parameters t=%d m=%d KiB p=%d are out of range", p.Time, p.MemoryKiB, p.Threads)
	}
	return nil
}

// Load reads and opens the file: ErrNoState when it does not exist,
// ErrWrongPassphrase or ErrCorruptState when it cannot be opened.
func (f *SealedFile) Load() (*State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoState, f.path)
	}
	if err != nil {
		return nil, fmt.Errorf("emu: reading card state: %w", err)
	}
	if len(b) < headerLen+checksumLen || !bytes.HasPrefix(b, sealedMagic) {
		return nil, fmt.Errorf("%w: %s has no card state header", ErrCorruptState, f.path)
	}
	body := b[:len(b)-checksumLen]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], b[len(body):]) {
		return nil, fmt.Errorf("%w: %s fails its checksum (truncated or damaged)", ErrCorruptState, f.path)
	}
	if b[len(sealedMagic)] != sealedVersion {
		return nil, fmt.Errorf("%w: %s has format version %d, want %d", ErrCorruptState, f.path, b[len(sealedMagic)], sealedVersion)
	}
	header := b[:headerLen]
	p := KDFParams{
		Time:      binary.BigEndian.Uint32(header[14:]),
		MemoryKiB: binary.BigEndian.Uint32(header[18:]),
		Threads:   header[22],
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptState, f.path, err)
	}
	salt := header[23:headerLen]
	if f.sealer == nil || !bytes.Equal(salt, f.salt) || p != f.kdf {
		if err := f.derive(p, bytes.Clone(salt)); err != nil {
			return nil, err
		}
	}
	plain, err := f.sealer.Open(body[headerLen:], header)
	switch {
	case errors.Is(err, seal.ErrWrongKey):
		return nil, fmt.Errorf("%w (%s)", ErrWrongPassphrase, f.path)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptState, f.path, err)
	}
	var st State
	if err := json.Unmarshal(plain, &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptState, f.path, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptState, f.path, err)
	}
	return &st, nil
}

// Save seals s and replaces the file atomically.
func (f *SealedFile) Save(s *State) error {
	plain, err := json.Marshal(s)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sealer == nil {
		salt := make([]byte, saltLen)
		if _, err := rand.Read(salt); err != nil {
			return err
		}
		if err := f.derive(f.kdf, salt); err != nil {
			return err
		}
	}
	header := make([]byte, 0, headerLen)
	header = append(header, sealedMagic...)
	header = append(header, sealedVersion)
	header = binary.BigEndian.AppendUint32(header, f.kdf.Time)
	header = binary.BigEndian.AppendUint32(header, f.kdf.MemoryKiB)
	header = append(header, f.kdf.Threads)
	header = append(header, f.salt...)
	sealed, err := f.sealer.Seal(plain, header)
	clear(plain)
	if err != nil {
		return err
	}
	file := append(header, sealed...)
	sum := sha256.Sum256(file)
	if err := fsutil.WriteFileAtomic(f.path, append(file, sum[:]...)); err != nil {
		return fmt.Errorf("emu: writing card state: %w", err)
	}
	return nil
}

// derive sets the key for salt and p.
func (f *SealedFile) derive(p KDFParams, salt []byte) error {
	key := argon2.IDKey(f.passphrase, salt, p.Time, p.MemoryKiB, p.Threads, seal.KeySize)
	s, err := seal.New(key)
	clear(key)
	if err != nil {
		return err
	}
	f.sealer, f.salt, f.kdf = s, salt, p
	return nil
}
