package cardtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// softKeys are the software stores' key pairs waiting for their
// certificates, as an agent keeps them in memory.
type softKeys struct {
	mu   sync.Mutex
	keys map[string]crypto.Signer
	// Stored counts the stores written, for tests that check nothing was.
	stored int
}

// SoftwareKey implements lanyard.CardAccess as an agent does: a real key
// pair, kept here under a random handle.
func (a *Access) SoftwareKey(ctx context.Context, wsID int64, alg lanyard.KeyAlgorithm) (lanyard.SoftwareKey, error) {
	if _, err := a.softWorkstation(wsID, ""); err != nil {
		return lanyard.SoftwareKey{}, err
	}
	var key crypto.Signer
	var err error
	switch alg {
	case lanyard.RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case lanyard.RSA3072:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case lanyard.RSA4096:
		key, err = rsa.GenerateKey(rand.Reader, 4096)
	case lanyard.ECP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case lanyard.ECP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		err = fmt.Errorf("cardtest: unknown key algorithm %q", alg)
	}
	if err != nil {
		return lanyard.SoftwareKey{}, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return lanyard.SoftwareKey{}, err
	}
	var id [16]byte
	rand.Read(id[:])
	h := hex.EncodeToString(id[:])
	a.soft.mu.Lock()
	defer a.soft.mu.Unlock()
	if a.soft.keys == nil {
		a.soft.keys = map[string]crypto.Signer{}
	}
	a.soft.keys[h] = key
	return lanyard.SoftwareKey{Handle: h, PublicKey: spki}, nil
}

// SoftwareStore implements lanyard.CardAccess as an agent does: the
// PKCS#12 file goes to StoreDir/machine or StoreDir/user/ACCOUNT.
func (a *Access) SoftwareStore(ctx context.Context, wsID int64, req lanyard.SoftwareStoreRequest) (lanyard.SoftwareStored, error) {
	w, err := a.softWorkstation(wsID, req.Scope)
	if err != nil {
		return lanyard.SoftwareStored{}, err
	}
	m := &agentproto.Message{Type: agentproto.TypeStore, ID: 1, Store: &agentproto.Store{Handle: req.Handle, Chain: req.Chain,
		Password: req.Password, Scope: req.Scope, Account: req.Account, Name: req.Name}}
	if err := m.Validate(); err != nil {
		return lanyard.SoftwareStored{}, err
	}
	a.soft.mu.Lock()
	key := a.soft.keys[req.Handle]
	delete(a.soft.keys, req.Handle)
	a.soft.mu.Unlock()
	if w.FailStore != nil {
		return lanyard.SoftwareStored{}, w.FailStore
	}
	if w.BeforeStore != nil {
		w.BeforeStore()
	}
	if key == nil {
		return lanyard.SoftwareStored{}, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent no longer holds the key pair")
	}
	certs := make([]*x509.Certificate, len(req.Chain))
	for i, der := range req.Chain {
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return lanyard.SoftwareStored{}, err
		}
	}
	if !certs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		return lanyard.SoftwareStored{}, fmt.Errorf("cardtest: the certificate is not for the key pair")
	}
	pfx, err := pkcs12.Modern2023.Encode(key, certs[0], certs[1:], req.Password)
	if err != nil {
		return lanyard.SoftwareStored{}, err
	}
	dir := filepath.Join(w.StoreDir, "machine")
	if req.Scope == lanyard.ScopeUser {
		dir = filepath.Join(w.StoreDir, "user", req.Account)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return lanyard.SoftwareStored{}, err
	}
	path := filepath.Join(dir, req.Name+".p12")
	if err := os.WriteFile(path, pfx, 0o600); err != nil {
		return lanyard.SoftwareStored{}, err
	}
	a.soft.mu.Lock()
	a.soft.stored++
	a.soft.mu.Unlock()
	return lanyard.SoftwareStored{Path: path}, nil
}

// SoftwareStores is how many software stores were written.
func (a *Access) SoftwareStores() int {
	a.soft.mu.Lock()
	defer a.soft.mu.Unlock()
	return a.soft.stored
}

func (a *Access) softWorkstation(wsID int64, scope string) (*Workstation, error) {
	w := a.Workstation(wsID)
	switch {
	case w == nil || w.Offline:
		return nil, lanyard.Errorf(lanyard.EUnavailable, "workstation %d not connected", wsID)
	case w.StoreDir == "" || len(w.SoftStores) == 0:
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent cannot write software stores")
	case scope != "" && !slices.Contains(w.SoftStores, scope):
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent cannot write the %s store", scope)
	}
	return w, nil
}
