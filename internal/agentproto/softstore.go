package agentproto

import (
	"fmt"
	"slices"
)

// Software store (the guide's "Registry", issue 7). The server asks the
// agent for a key pair (keygen), has its CA certify the public key, and
// asks the agent to write the key with its certificate chain as a
// password-protected PKCS#12 file in the machine's or the user's store
// (store). The private key never leaves the workstation: between the two
// requests it lives in the agent's memory under a handle, and expires
// there if it is not stored soon.
const (
	TypeKeyGen = "keygen"
	TypeStore  = "store"
)

// Software store scopes: the machine-wide store (a root-owned directory)
// or the store of one user (under the home of the user's local account).
const (
	StoreMachine = "machine"
	StoreUser    = "user"
)

// KeyAlgorithms are the key pairs an agent makes for a software store,
// named as internal/lanyard.KeyAlgorithm names them.
var KeyAlgorithms = []string{"rsa2048", "rsa3072", "rsa4096", "ecp256", "ecp384"}

// KeyGen asks for a key pair of Algorithm.
type KeyGen struct {
	Algorithm string `json:"algorithm"`
}

// Key is the agent's answer to keygen: the public key (SubjectPublicKeyInfo,
// DER) and the handle the private key is kept under.
type Key struct {
	Handle    string `json:"handle"`
	PublicKey []byte `json:"public_key"`
}

// Store asks the agent to write the key under Handle with its certificate
// chain (DER, the key's certificate first, then its issuers) as PKCS#12
// protected by Password, into the store of Scope: for the user store,
// that of the local account of Account (the owner's Lanyard login). Name
// is the file name without its ".p12" extension.
type Store struct {
	Handle   string   `json:"handle"`
	Chain    [][]byte `json:"chain"`
	Password string   `json:"password,omitempty"`
	Scope    string   `json:"scope"`
	Account  string   `json:"account,omitempty"`
	Name     string   `json:"name"`
}

// Stored is the agent's answer to store: where the file is, and whether
// the key and certificate went into the user's NSS database too (NSSNote
// says why not when the user has one).
type Stored struct {
	Path    string `json:"path"`
	NSS     bool   `json:"nss,omitempty"`
	NSSNote string `json:"nss_note,omitempty"`
}

// Limits of the software store messages.
const (
	MaxHandle    = 64
	MaxPublicKey = 2048 // an RSA 4096 SubjectPublicKeyInfo is 550 bytes
	MaxChain     = 4
	MaxCert      = 8192
	MaxPassword  = 256
	MaxStoreName = 100
	MaxPath      = 4096
)

// ValidStoreName reports whether name can be a store file's name: 1 to
// MaxStoreName letters, digits, '.', '-' or '_', not starting with a dot,
// so it names a file in the store directory and nothing else.
func ValidStoreName(name string) bool {
	if name == "" || len(name) > MaxStoreName || name[0] == '.' {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func validHandle(h string) bool {
	if h == "" || len(h) > MaxHandle {
		return false
	}
	for _, r := range h {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func validScope(s string) bool { return s == StoreMachine || s == StoreUser }

// validateSoftStore checks the software store parts of m; Validate has
// already checked which parts its type may carry.
func (m *Message) validateSoftStore() error {
	switch {
	case m.Type == TypeKeyGen && m.KeyGen == nil:
		return fmt.Errorf("agentproto: keygen message without a keygen request")
	case m.Type == TypeStore && m.Store == nil:
		return fmt.Errorf("agentproto: store message without a store request")
	case len(m.SoftStores) > 2:
		return fmt.Errorf("agentproto: %d software store scopes", len(m.SoftStores))
	}
	for i, sc := range m.SoftStores {
		if !validScope(sc) || slices.Contains(m.SoftStores[:i], sc) {
			return fmt.Errorf("agentproto: software store scope %q", sc)
		}
	}
	if k := m.KeyGen; k != nil && !slices.Contains(KeyAlgorithms, k.Algorithm) {
		return fmt.Errorf("agentproto: keygen of unknown algorithm %q", k.Algorithm)
	}
	if k := m.Key; k != nil && (!validHandle(k.Handle) || len(k.PublicKey) == 0 || len(k.PublicKey) > MaxPublicKey) {
		return fmt.Errorf("agentproto: malformed key")
	}
	if s := m.Store; s != nil {
		switch {
		case !validHandle(s.Handle):
			return fmt.Errorf("agentproto: store of a malformed handle")
		case len(s.Chain) == 0 || len(s.Chain) > MaxChain:
			return fmt.Errorf("agentproto: store of %d certificates (1 to %d)", len(s.Chain), MaxChain)
		case len(s.Password) > MaxPassword:
			return fmt.Errorf("agentproto: key container password longer than %d bytes", MaxPassword)
		case !validScope(s.Scope):
			return fmt.Errorf("agentproto: store of unknown scope %q", s.Scope)
		case (s.Scope == StoreUser) != (s.Account != "") || len(s.Account) > MaxNameLength:
			return fmt.Errorf("agentproto: a user store names its account, a machine store none")
		case !ValidStoreName(s.Name):
			return fmt.Errorf("agentproto: store file name %q", s.Name)
		}
		for _, c := range s.Chain {
			if len(c) == 0 || len(c) > MaxCert {
				return fmt.Errorf("agentproto: store of a %d-byte certificate", len(c))
			}
		}
	}
	if s := m.Stored; s != nil && (s.Path == "" || len(s.Path) > MaxPath || len(s.NSSNote) > 1024) {
		return fmt.Errorf("agentproto: malformed stored reply")
	}
	return nil
}
