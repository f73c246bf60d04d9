package agent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// SoftStore configures the software store (the guide's "Registry"): the
// key pairs the agent makes for it and the PKCS#12 files it writes, in
// the machine store or a user's store (agentproto, softstore.go).
type SoftStore struct {
	// MachineDir is the machine store (default DefaultMachineStore). The
	// agent creates it with mode 0700; it offers the machine scope only
	// when it can write there, which means running as root.
	MachineDir string
	// Account finds the local account whose home holds the user store of
	// a Lanyard login (default SystemAccount: the local user of the same
	// name).
	Account func(login string) (LocalAccount, error)
	// KeyTTL is how long a key pair waits in memory for its certificate
	// (default DefaultKeyTTL); an expired key is forgotten, and storing it
	// fails with agentproto.ErrCodeNoKey.
	KeyTTL time.Duration
	// PK12Util is the pk12util program of NSS (libnss3-tools) that imports
	// a user store into the user's NSS database; default: found in PATH.
	// Without it the import is skipped and the reply says why.
	PK12Util string
}

// DefaultMachineStore is the machine store's directory.
const DefaultMachineStore = "/var/lib/lanyard/store"

// DefaultKeyTTL bounds a key pair's wait for its certificate: the server
// signs within a second or two of asking for the key.
const DefaultKeyTTL = 2 * time.Minute

// UserStoreDir is the user store, relative to the user's home (the XDG
// data directory's default).
const UserStoreDir = ".local/share/lanyard/store"

// NSSDir is the user's shared NSS database (Chromium, Firefox with the
// shared database, curl and other NSS applications), relative to the home.
const NSSDir = ".pki/nssdb"

// LocalAccount is the local account that holds a user store. UID and GID
// own what the agent writes there (-1: the agent's own).
type LocalAccount struct {
	Home     string
	UID, GID int
}

// SystemAccount is the local account of the same name as login (os/user).
func SystemAccount(login string) (LocalAccount, error) {
	u, err := user.Lookup(login)
	if err != nil {
		return LocalAccount{}, fmt.Errorf("agent: no local account %q on this workstation for its user store", login)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return LocalAccount{}, fmt.Errorf("agent: local account %q has no numeric uid and gid", login)
	}
	return LocalAccount{Home: u.HomeDir, UID: uid, GID: gid}, nil
}

// Errors of the software store, sent to the server with their codes.
var (
	// ErrNoStore: the agent cannot write the asked scope (the machine
	// store needs an agent running as root).
	ErrNoStore = errors.New("agent: this workstation's agent cannot write that software store")
	// ErrNoKey: no key pair under the handle; it was never made, was
	// stored already, or expired.
	ErrNoKey = errors.New("agent: the key pair is gone (it waited too long for its certificate); issue again")
)

// softHost makes the software stores' key pairs and writes the stores.
type softHost struct {
	cfg SoftStore
	log *slog.Logger

	mu   sync.Mutex
	keys map[string]*softKey
}

type softKey struct {
	key   crypto.Signer
	timer *time.Timer
}

func newSoftHost(cfg SoftStore, log *slog.Logger) *softHost {
	if cfg.MachineDir == "" {
		cfg.MachineDir = DefaultMachineStore
	}
	if cfg.Account == nil {
		cfg.Account = SystemAccount
	}
	if cfg.KeyTTL <= 0 {
		cfg.KeyTTL = DefaultKeyTTL
	}
	if cfg.PK12Util == "" {
		cfg.PK12Util, _ = execLookPath("pk12util")
	}
	return &softHost{cfg: cfg, log: log, keys: map[string]*softKey{}}
}

// scopes are the stores this agent can write, for its hello: the user
// stores always (each one is checked when written), the machine store
// when its directory is there or can be made, and is writable.
func (h *softHost) scopes() []string {
	if h == nil {
		return nil
	}
	out := []string{agentproto.StoreUser}
	if err := os.MkdirAll(h.cfg.MachineDir, 0o700); err == nil && syscall.Access(h.cfg.MachineDir, 2 /* W_OK */) == nil {
		out = append([]string{agentproto.StoreMachine}, out...)
	}
	return out
}

// keygen makes a key pair of alg and keeps it under a new handle until it
// is stored or expires.
func (h *softHost) keygen(alg string) (*agentproto.Key, error) {
	if h == nil {
		return nil, ErrNoStore
	}
	var key crypto.Signer
	var err error
	switch alg {
	case "rsa2048", "rsa3072", "rsa4096":
		bits, _ := strconv.Atoi(strings.TrimPrefix(alg, "rsa"))
		key, err = rsa.GenerateKey(rand.Reader, bits)
	case "ecp256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecp384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return nil, fmt.Errorf("agent: unknown key algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	handle := hex.EncodeToString(id[:])
	h.mu.Lock()
	h.keys[handle] = &softKey{key: key, timer: time.AfterFunc(h.cfg.KeyTTL, func() { h.take(handle) })}
	h.mu.Unlock()
	return &agentproto.Key{Handle: handle, PublicKey: spki}, nil
}

// take removes and returns the key under handle.
func (h *softHost) take(handle string) crypto.Signer {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := h.keys[handle]
	if k == nil {
		return nil
	}
	k.timer.Stop()
	delete(h.keys, handle)
	return k.key
}

// store writes the key under req.Handle with its certificate chain as
// PKCS#12 into the asked store, and imports a user store into the user's
// NSS database when there is one. The key is forgotten either way: a
// store that failed is issued again, with a new key.
func (h *softHost) store(req *agentproto.Store) (*agentproto.Stored, error) {
	if h == nil {
		return nil, ErrNoStore
	}
	key := h.take(req.Handle)
	if key == nil {
		return nil, ErrNoKey
	}
	certs := make([]*x509.Certificate, len(req.Chain))
	for i, der := range req.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("agent: certificate %d of the chain: %w", i, err)
		}
		certs[i] = c
	}
	if !publicKeyEqual(certs[0].PublicKey, key.Public()) {
		return nil, errors.New("agent: the certificate is not for the key pair of this handle")
	}
	// PBES2 with AES-256-CBC, PBKDF2-HMAC-SHA-256 and an HMAC-SHA-256 MAC:
	// read by OpenSSL 3.0 and by NSS 3.87 (Debian 12).
	pfx, err := pkcs12.Modern2023.Encode(key, certs[0], certs[1:], req.Password)
	if err != nil {
		return nil, fmt.Errorf("agent: encoding the PKCS#12 file: %w", err)
	}
	var acct LocalAccount
	var dir *os.Root
	var dirPath string
	switch req.Scope {
	case agentproto.StoreMachine:
		if !containsScope(h.scopes(), agentproto.StoreMachine) {
			return nil, ErrNoStore
		}
		dirPath = h.cfg.MachineDir
		if dir, err = os.OpenRoot(dirPath); err != nil {
			return nil, fmt.Errorf("agent: the machine store: %w", err)
		}
		acct = LocalAccount{UID: -1, GID: -1}
	case agentproto.StoreUser:
		if acct, err = h.cfg.Account(req.Account); err != nil {
			return nil, err
		}
		if dir, dirPath, err = userStore(acct); err != nil {
			return nil, err
		}
	default:
		return nil, ErrNoStore
	}
	defer dir.Close()
	name, err := writeNew(dir, req.Name, pfx, acct)
	if err != nil {
		return nil, err
	}
	out := &agentproto.Stored{Path: filepath.Join(dirPath, name)}
	h.log.Info("software store written", "scope", req.Scope, "path", out.Path)
	if req.Scope == agentproto.StoreUser {
		out.NSS, out.NSSNote = h.importNSS(acct, out.Path, req.Password)
	}
	return out, nil
}

func containsScope(scopes []string, s string) bool {
	for _, x := range scopes {
		if x == s {
			return true
		}
	}
	return false
}

// userStore opens (making it when absent) the user store under the
// account's home. It goes through an os.Root on the home, so a symbolic
// link the user placed there cannot lead the agent, running as root,
// to write outside it; the directories it makes belong to the user.
func userStore(acct LocalAccount) (*os.Root, string, error) {
	if !filepath.IsAbs(acct.Home) {
		return nil, "", fmt.Errorf("agent: the local account has no home directory for its user store")
	}
	home, err := os.OpenRoot(acct.Home)
	if err != nil {
		return nil, "", fmt.Errorf("agent: the user's home: %w", err)
	}
	defer home.Close()
	parts := strings.Split(UserStoreDir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		switch err := home.Mkdir(p, 0o700); {
		case err == nil:
			if err := chown(home, p, acct); err != nil {
				return nil, "", err
			}
		case !errors.Is(err, fs.ErrExist):
			return nil, "", fmt.Errorf("agent: making the user store: %w", err)
		}
	}
	if err := home.Chmod(UserStoreDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("agent: the user store: %w", err)
	}
	dir, err := home.OpenRoot(UserStoreDir)
	if err != nil {
		return nil, "", fmt.Errorf("agent: the user store: %w", err)
	}
	return dir, filepath.Join(acct.Home, UserStoreDir), nil
}

func chown(r *os.Root, name string, acct LocalAccount) error {
	if acct.UID < 0 || os.Getuid() != 0 {
		return nil
	}
	if err := r.Lchown(name, acct.UID, acct.GID); err != nil {
		return fmt.Errorf("agent: giving %s to the user: %w", name, err)
	}
	return nil
}

// writeNew writes data to NAME.p12 in dir, or NAME-2.p12 and so on when
// that exists: an earlier store is never overwritten. The file is 0600
// and belongs to acct. It returns the file name.
func writeNew(dir *os.Root, base string, data []byte, acct LocalAccount) (string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	tmp := "." + base + "." + hex.EncodeToString(rnd[:]) + ".tmp"
	f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("agent: writing the software store: %w", err)
	}
	defer dir.Remove(tmp)
	_, err = f.Write(data)
	if err == nil && acct.UID >= 0 && os.Getuid() == 0 {
		err = f.Chown(acct.UID, acct.GID)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("agent: writing the software store: %w", err)
	}
	for i := 1; i <= 100; i++ {
		name := base + ".p12"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.p12", base, i)
		}
		// A hard link fails when the name exists: no earlier file is
		// replaced, and the file appears complete or not at all.
		switch err := dir.Link(tmp, name); {
		case err == nil:
			return name, nil
		case !errors.Is(err, fs.ErrExist):
			return "", fmt.Errorf("agent: writing the software store: %w", err)
		}
	}
	return "", fmt.Errorf("agent: the store already holds 100 files named %s; choose another card name", base)
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
