package aircard

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// PKCS11Config says where a PKCS#11 KEK is.
type PKCS11Config struct {
	Module string // path of the PKCS#11 module (.so)
	Token  string // token label
	Key    string // label of the AES key
	PIN    string // the token's user PIN
}

// parsePKCS11Spec parses "module=PATH;token=LABEL;key=LABEL;pin-env=VAR"
// (or pin-file=PATH) and reads the PIN.
func parsePKCS11Spec(spec string) (PKCS11Config, error) {
	var cfg PKCS11Config
	var pinEnv, pinFile string
	for field := range strings.SplitSeq(spec, ";") {
		if field == "" {
			continue
		}
		name, value, ok := strings.Cut(field, "=")
		if !ok || value == "" {
			return cfg, fmt.Errorf("aircard: pkcs11 KEK: %q is not name=value", field)
		}
		switch name {
		case "module":
			cfg.Module = value
		case "token":
			cfg.Token = value
		case "key":
			cfg.Key = value
		case "pin-env":
			pinEnv = value
		case "pin-file":
			pinFile = value
		default:
			return cfg, fmt.Errorf("aircard: pkcs11 KEK: unknown field %q (module, token, key, pin-env, pin-file)", name)
		}
	}
	switch {
	case cfg.Module == "" || cfg.Token == "" || cfg.Key == "":
		return cfg, errors.New("aircard: pkcs11 KEK: module, token and key are required")
	case (pinEnv == "") == (pinFile == ""):
		return cfg, errors.New("aircard: pkcs11 KEK: give exactly one of pin-env and pin-file")
	case pinEnv != "":
		cfg.PIN = os.Getenv(pinEnv)
		if cfg.PIN == "" {
			return cfg, fmt.Errorf("aircard: pkcs11 KEK: environment variable %s is empty", pinEnv)
		}
	default:
		b, err := os.ReadFile(pinFile)
		if err != nil {
			return cfg, fmt.Errorf("aircard: pkcs11 KEK: PIN file: %w", err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		cfg.PIN = strings.TrimRight(string(line), "\r")
		if cfg.PIN == "" {
			return cfg, fmt.Errorf("aircard: pkcs11 KEK: PIN file %s is empty", pinFile)
		}
	}
	return cfg, nil
}

// Wrapped data keys of a PKCS#11 KEK: version, the key's CKA_ID (so that
// a key of another token or label is reported as the wrong KEK, not as
// damage), the GCM IV, then ciphertext and tag.
const (
	p11Version = 0x01
	p11IDLen   = 16
	p11IVLen   = 12
	p11TagBits = 128
)

// PKCS11KEK is a KEK held in a PKCS#11 token: an AES-256 key that is
// sensitive and not extractable, so it never leaves the HSM; Wrap and
// Unwrap are C_Encrypt and C_Decrypt with CKM_AES_GCM (SP 800-38D), a
// random 96-bit IV per data key from crypto/rand and the key's ID as
// associated data. GCM rather than CKM_AES_KEY_WRAP_PAD (RFC 5649): the
// data keys are generated in process, so what is needed is encryption of
// 32 bytes, not C_WrapKey of a token object; GCM is what SoftHSM2, cloud
// HSMs and network HSMs all implement for C_Encrypt, and it gives the same
// integrity. Operations share one session under a lock; they run only when
// a card is created or loaded.
//
// PKCS#11 logins are per application and token: while one PKCS11KEK of the
// process is open on a token, another on the same token is logged in
// whatever PIN it was given.
type PKCS11KEK struct {
	cfg PKCS11Config
	mod *module

	mu      sync.Mutex
	session pkcs11.SessionHandle
	key     pkcs11.ObjectHandle
	id      []byte
	closed  bool
}

// OpenPKCS11KEK logs in to the token and finds the key, generating it when
// the token has no secret key with that label. An existing key must be a
// sensitive AES-256 key.
func OpenPKCS11KEK(cfg PKCS11Config) (*PKCS11KEK, error) {
	mod, err := loadModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	k := &PKCS11KEK{cfg: cfg, mod: mod}
	if err := k.open(); err != nil {
		if k.session != 0 {
			mod.ctx.CloseSession(k.session)
		}
		mod.release()
		return nil, fmt.Errorf("aircard: pkcs11 KEK %s: %w", k, err)
	}
	return k, nil
}

func (k *PKCS11KEK) open() error {
	p := k.mod.ctx
	slot, err := k.findToken()
	if err != nil {
		return err
	}
	if k.session, err = p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); err != nil {
		return fmt.Errorf("opening a session: %w", err)
	}
	if err := p.Login(k.session, pkcs11.CKU_USER, k.cfg.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		return fmt.Errorf("login: %w", err)
	}
	keys, err := k.find()
	if err != nil {
		return err
	}
	switch len(keys) {
	case 0:
		return k.generate()
	case 1:
		k.key = keys[0]
		return k.check()
	}
	return fmt.Errorf("%d secret keys are labelled %q", len(keys), k.cfg.Key)
}

func (k *PKCS11KEK) findToken() (uint, error) {
	p := k.mod.ctx
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("listing slots: %w", err)
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && strings.TrimRight(ti.Label, " \x00") == k.cfg.Token {
			return s, nil
		}
	}
	return 0, fmt.Errorf("no token labelled %q", k.cfg.Token)
}

func (k *PKCS11KEK) find() ([]pkcs11.ObjectHandle, error) {
	p := k.mod.ctx
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.cfg.Key),
	}
	if err := p.FindObjectsInit(k.session, tmpl); err != nil {
		return nil, fmt.Errorf("finding the key: %w", err)
	}
	objs, _, err := p.FindObjects(k.session, 4)
	if ferr := p.FindObjectsFinal(k.session); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("finding the key: %w", err)
	}
	return objs, nil
}

// generate makes the AES-256 key in the token: a token object, private,
// sensitive and not extractable, for encryption and decryption only.
func (k *PKCS11KEK) generate() error {
	id := make([]byte, p11IDLen)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.cfg.Key),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
	h, err := k.mod.ctx.GenerateKey(k.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, tmpl)
	if err != nil {
		return fmt.Errorf("generating the AES key: %w", err)
	}
	k.key, k.id = h, id
	return nil
}

// check reads an existing key's attributes: AES, 32 bytes, sensitive, and
// an ID of the right length.
func (k *PKCS11KEK) check() error {
	attrs, err := k.mod.ctx.GetAttributeValue(k.session, k.key, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
	})
	if err != nil {
		return fmt.Errorf("reading the key's attributes: %w", err)
	}
	keyType, valueLen := ulong(attrs[0].Value), ulong(attrs[1].Value)
	switch {
	case keyType != pkcs11.CKK_AES || valueLen != 32:
		return fmt.Errorf("key %q is not AES-256 (type %#x, %d bytes)", k.cfg.Key, keyType, valueLen)
	case len(attrs[2].Value) != 1 || attrs[2].Value[0] == 0:
		return fmt.Errorf("key %q is not sensitive: its value can be read out of the token", k.cfg.Key)
	case len(attrs[3].Value) != p11IDLen:
		return fmt.Errorf("key %q has a %d-byte CKA_ID, want %d (a key this package generated)", k.cfg.Key, len(attrs[3].Value), p11IDLen)
	}
	k.id = attrs[3].Value
	return nil
}

// ulong decodes a CK_ULONG attribute value, which is in host byte order
// and of the host's size; 0 when it is neither 4 nor 8 bytes.
func ulong(b []byte) uint {
	switch len(b) {
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	}
	return 0
}

// Wrap implements KEK.
func (k *PKCS11KEK) Wrap(plaintext []byte) ([]byte, error) {
	iv := make([]byte, p11IVLen)
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, fmt.Errorf("aircard: pkcs11 KEK %s is closed", k)
	}
	ct, err := k.crypt(true, iv, plaintext)
	if err != nil {
		return nil, fmt.Errorf("aircard: pkcs11 KEK %s: encrypting: %w", k, err)
	}
	out := append([]byte{p11Version}, k.id...)
	out = append(out, iv...)
	return append(out, ct...), nil
}

// Unwrap implements KEK.
func (k *PKCS11KEK) Unwrap(wrapped []byte) ([]byte, error) {
	if len(wrapped) < 1+p11IDLen+p11IVLen+p11TagBits/8 || wrapped[0] != p11Version {
		return nil, fmt.Errorf("%w: not a data key wrapped by a PKCS#11 KEK", ErrCorrupt)
	}
	id, iv, ct := wrapped[1:1+p11IDLen], wrapped[1+p11IDLen:1+p11IDLen+p11IVLen], wrapped[1+p11IDLen+p11IVLen:]
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, fmt.Errorf("aircard: pkcs11 KEK %s is closed", k)
	}
	if !bytes.Equal(id, k.id) {
		return nil, fmt.Errorf("%w (key ID %X, this KEK %s has %X)", ErrWrongKEK, id, k, k.id)
	}
	p, err := k.crypt(false, iv, ct)
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped data key does not decrypt: %v", ErrCorrupt, err)
	}
	return p, nil
}

// crypt runs one C_Encrypt or C_Decrypt with CKM_AES_GCM, with k.mu held.
func (k *PKCS11KEK) crypt(encrypt bool, iv, in []byte) ([]byte, error) {
	p := k.mod.ctx
	params := pkcs11.NewGCMParams(iv, append([]byte{p11Version}, k.id...), p11TagBits)
	defer params.Free()
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}
	if encrypt {
		if err := p.EncryptInit(k.session, mech, k.key); err != nil {
			return nil, err
		}
		return p.Encrypt(k.session, in)
	}
	if err := p.DecryptInit(k.session, mech, k.key); err != nil {
		return nil, err
	}
	return p.Decrypt(k.session, in)
}

// String implements KEK.
func (k *PKCS11KEK) String() string {
	return fmt.Sprintf("pkcs11:token=%s;key=%s", k.cfg.Token, k.cfg.Key)
}

// Close logs out, closes the session and, when no other KEK in the process
// uses the module, finalizes it.
func (k *PKCS11KEK) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	err := k.mod.ctx.CloseSession(k.session)
	k.mod.release()
	return err
}

// module is a loaded, initialized PKCS#11 module. C_Initialize and
// C_Finalize are per process, not per caller, so the modules in use are
// counted in one process-wide table; the last KEK to close one finalizes
// it.
type module struct {
	path string
	ctx  *pkcs11.Ctx
	refs int
}

var modules = struct {
	sync.Mutex
	m map[string]*module
}{m: map[string]*module{}}

func loadModule(path string) (*module, error) {
	modules.Lock()
	defer modules.Unlock()
	if m := modules.m[path]; m != nil {
		m.refs++
		return m, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("aircard: PKCS#11 module: %w", err)
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("aircard: PKCS#11 module %s does not load", path)
	}
	if err := ctx.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		ctx.Destroy()
		return nil, fmt.Errorf("aircard: PKCS#11 module %s: C_Initialize: %w", path, err)
	}
	m := &module{path: path, ctx: ctx, refs: 1}
	modules.m[path] = m
	return m, nil
}

func (m *module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.m, m.path)
	m.ctx.Finalize()
	m.ctx.Destroy()
}
