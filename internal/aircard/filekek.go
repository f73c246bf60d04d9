package aircard

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lanyard-cms/lanyard/internal/seal"
)

// kekAAD binds a wrapped data key to its use.
var kekAAD = []byte("lanyard aircard data key")

// FileKEK is a KEK whose key is 32 random bytes in a file: AES-256-GCM in
// process (internal/seal), which tells a wrong key from a damaged value by
// the key identifier it stores. The file must be protected like any
// master key: whoever reads it and the card files has the cards' keys.
type FileKEK struct {
	path   string
	sealer *seal.AESGCM
}

// OpenFileKEK reads the key in path, or creates it (32 random bytes, mode
// 0600, parent directories 0700) when the file does not exist. A key file
// readable by group or others is refused.
func OpenFileKEK(path string) (*FileKEK, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("aircard: KEK file: %w", err)
	}
	defer clear(key)
	if len(key) != seal.KeySize {
		return nil, fmt.Errorf("aircard: KEK file %s holds %d bytes, want %d", path, len(key), seal.KeySize)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("aircard: KEK file %s is readable by group or others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	s, err := seal.New(key)
	if err != nil {
		return nil, err
	}
	return &FileKEK{path: path, sealer: s}, nil
}

func createKeyFile(path string) ([]byte, error) {
	key := make([]byte, seal.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return key, f.Close()
}

// Wrap implements KEK.
func (k *FileKEK) Wrap(plaintext []byte) ([]byte, error) { return k.sealer.Seal(plaintext, kekAAD) }

// Unwrap implements KEK.
func (k *FileKEK) Unwrap(wrapped []byte) ([]byte, error) {
	p, err := k.sealer.Open(wrapped, kekAAD)
	switch {
	case errors.Is(err, seal.ErrWrongKey):
		return nil, fmt.Errorf("%w (this KEK is %s)", ErrWrongKEK, k)
	case err != nil:
		return nil, fmt.Errorf("%w: wrapped data key: %v", ErrCorrupt, err)
	}
	return p, nil
}

// String implements KEK.
func (k *FileKEK) String() string { return "file:" + k.path }

// Close implements io.Closer; the key stays in memory until collected.
func (k *FileKEK) Close() error { return nil }
