package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File names in the state directory.
const (
	keyFile    = "key.pem"
	stateFile  = "state.json"
	socketFile = "agent.sock"
)

// State is what a paired agent remembers (state.json).
type State struct {
	Server        string `json:"server"`
	WorkstationID int64  `json:"workstation_id"`
	// Certificate is the client certificate, Chain the CA certificates
	// above it (issuing first), Root the pinned root the agent verifies
	// the server against; all DER.
	Certificate []byte   `json:"certificate"`
	Chain       [][]byte `json:"chain"`
	Root        []byte   `json:"root"`
}

// LoadState reads state.json from dir; ok is false when the agent has
// not paired yet.
func LoadState(dir string) (st *State, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	st = &State{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, false, fmt.Errorf("agent: %s: %w", stateFile, err)
	}
	if st.WorkstationID <= 0 || len(st.Certificate) == 0 || len(st.Root) == 0 {
		return nil, false, fmt.Errorf("agent: %s is incomplete; delete it to pair again", stateFile)
	}
	return st, true, nil
}

func saveState(dir string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), b)
}

// ensureDir creates the state directory, owner-only.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("agent: state directory: %w", err)
	}
	return os.Chmod(dir, 0o700)
}

// loadOrCreateKey returns the agent's key, making it on first start.
func loadOrCreateKey(dir string) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("agent: %s is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("agent: %s is not a P-256 key", path)
	}
	return ek, nil
}

// writeFileAtomic writes a 0600 file through a rename, so a crash never
// leaves half a key or half a state.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// tlsConfig is the paired agent's TLS client configuration: the server
// must chain to the pinned root, and the agent presents its certificate.
func (st *State) tlsConfig(key *ecdsa.PrivateKey, serverName string) (*tls.Config, error) {
	root, err := x509.ParseCertificate(st.Root)
	if err != nil {
		return nil, fmt.Errorf("agent: pinned root: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	cert := tls.Certificate{Certificate: [][]byte{st.Certificate}, PrivateKey: key}
	for _, c := range st.Chain {
		if !equalDER(c, st.Root) { // the server has the root
			cert.Certificate = append(cert.Certificate, c)
		}
	}
	return &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: serverName,
		MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
	}, nil
}

func equalDER(a, b []byte) bool { return string(a) == string(b) }
