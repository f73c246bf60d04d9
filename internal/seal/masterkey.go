package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EnvMasterKey names the environment variable that may hold the master key
// (standard base64 of 32 bytes). It takes precedence over the key file.
const EnvMasterKey = "LANYARD_MASTER_KEY"

// LoadMasterKey returns the master key from the environment variable
// EnvMasterKey when set, otherwise from file. When the file does not exist
// and create is true, a new random key is written there with mode 0600 and
// created reports true. The file holds base64 text so operators can back it
// up and restore it by copy and paste.
func LoadMasterKey(file string, create bool) (key []byte, created bool, err error) {
	if v := os.Getenv(EnvMasterKey); v != "" {
		key, err = decodeKey(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		return key, false, nil
	}
	b, err := os.ReadFile(file)
	if err == nil {
		key, err = decodeKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("master key file %s: %w", file, err)
		}
		if st, serr := os.Stat(file); serr == nil && st.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("master key file %s is readable by group or others (mode %v); chmod 600 it", file, st.Mode().Perm())
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || !create {
		return nil, false, fmt.Errorf("master key: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("master key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, err
	}
	return key, true, f.Close()
}

func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace([]byte(s))))
	if err != nil {
		return nil, errors.New("not base64")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("want %d bytes, got %d", KeySize, len(key))
	}
	return key, nil
}
