package emu_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// fastKDF keeps the sealed-file tests quick; the format is the same.
var fastKDF = emu.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// personalize changes everything a card keeps and returns what a restored
// card must reproduce.
type personalized struct {
	serial  uint32
	guid    [16]byte
	ecPub   *ecdsa.PublicKey
	rsaPub  *rsa.PublicKey
	cert    []byte
	aesKey  []byte
	attCA   []byte
	newPIN  string
	metaKey []byte
}

func personalize(t *testing.T, c *tcard) personalized {
	t.Helper()
	p := personalized{serial: c.card.Serial(), newPIN: "24682468", aesKey: randBytes(t, 32)}
	p.guid, _ = c.card.GUID()
	c.authDefault()
	p.ecPub = c.generate(0x9A, pivspec.AlgECCP256).(*ecdsa.PublicKey)
	p.rsaPub = c.generate(0x9C, pivspec.AlgRSA2048).(*rsa.PublicKey)
	p.cert = append(tlv(0x70, bytes.Repeat([]byte{0x30}, 600)), mustHex(t, "710100FE00")...)
	if sw := c.putData(mustHex(t, "5FC105"), p.cert); sw != apdu.SWOK {
		t.Fatal(sw)
	}
	if sw := c.setManagementKey(pivspec.AlgAES256, p.aesKey); sw != apdu.SWOK {
		t.Fatal(sw)
	}
	c.must(0x24, 0x00, 0x80, append(pad(pivspec.DefaultPIN), pad(p.newPIN)...))
	c.expect(apdu.VerifyFailed(2), 0x20, 0x00, 0x80, pad("000000"))
	c.expect(apdu.VerifyFailed(2), 0x2C, 0x00, 0x80, append(pad("00000000"), pad("000000")...))
	p.metaKey = c.must(0xF7, 0x00, 0x9A, nil)
	p.attCA = c.attestationCA().Raw
	return p
}

// checkRestored checks that c is the card personalize left.
func checkRestored(t *testing.T, c *tcard, p personalized) {
	t.Helper()
	c.selectPIV()
	if c.card.Serial() != p.serial {
		t.Fatalf("serial %d, want %d", c.card.Serial(), p.serial)
	}
	if g, _ := c.card.GUID(); g != p.guid {
		t.Fatal("GUID changed")
	}
	c.expect(apdu.VerifyFailed(2), 0x20, 0x00, 0x80, nil)
	if got := c.must(0xF7, 0x00, 0x81, nil); !bytes.Equal(got, mustHex(t, "0101FF 050101 06020302")) {
		t.Fatalf("PUK metadata %X", got)
	}
	if r := c.getData(mustHex(t, "5FC105")); !bytes.Equal(r.Data, tlv(0x53, p.cert)) {
		t.Fatalf("certificate object: %v", r.SW)
	}
	if got := c.must(0xF7, 0x00, 0x9A, nil); !bytes.Equal(got, p.metaKey) {
		t.Fatal("key metadata changed")
	}
	if !bytes.Equal(c.attestationCA().Raw, p.attCA) {
		t.Fatal("attestation certificate changed")
	}
	if sw := c.tryAuthenticate(pivspec.Alg3DES, pivspec.DefaultManagementKey()); sw == apdu.SWOK {
		t.Fatal("default management key works again")
	}
	c.selectPIV()
	c.authenticate(pivspec.AlgAES256, p.aesKey)
	c.verifyPIN(p.newPIN)
	d := sha256Sum([]byte("restored"))
	if !ecdsa.VerifyASN1(p.ecPub, d, field(t, c.sign(pivspec.AlgECCP256, 0x9A, d).Data, 0x82)) {
		t.Fatal("restored 9A key does not sign for its public key")
	}
	c.verifyPIN(p.newPIN) // 9C: PIN always
	sig := field(t, c.sign(pivspec.AlgRSA2048, 0x9C, pkcs1v15(p.rsaPub.Size(), d)).Data, 0x82)
	if err := rsa.VerifyPKCS1v15(p.rsaPub, crypto.SHA256, d, sig); err != nil {
		t.Fatalf("restored 9C key: %v", err)
	}
	checkAttestation(t, c.attestationCA(), c.must(0xF9, 0x9A, 0x00, nil), p.ecPub)
}

func TestRestoreFromMemoryStore(t *testing.T) {
	store := &emu.MemoryStore{}
	a := newCard(t, emu.WithStateStore(store), emu.WithKeyStore(pooledKeys{}))
	p := personalize(t, a)
	b := openCard(t, emu.WithStateStore(store))
	checkRestored(t, b, p)
}

func TestRestoreFromSealedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	open := func(pass string) *emu.SealedFile {
		f, err := emu.NewSealedFile(path, []byte(pass), fastKDF)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if _, err := open("secret").Load(); !errors.Is(err, emu.ErrNoState) {
		t.Fatalf("Load of a missing file: %v, want ErrNoState", err)
	}
	a := newCard(t, emu.WithStateStore(open("secret")), emu.WithKeyStore(pooledKeys{}))
	p := personalize(t, a)

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, pad(p.newPIN)) || bytes.Contains(raw, p.aesKey) || bytes.Contains(raw, []byte("pin")) {
		t.Fatal("the state file holds secrets or JSON in clear")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("the directory holds %d files; temporary files were left behind", len(entries))
	}

	b := openCard(t, emu.WithStateStore(open("secret")))
	checkRestored(t, b, p)
}

func TestSealedFileRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "card.state")
	f, err := emu.NewSealedFile(path, []byte("right"), fastKDF)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.New(emu.WithStateStore(f)); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	load := func(pass string, content []byte) error {
		t.Helper()
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := emu.NewSealedFile(path, []byte(pass), fastKDF)
		if err != nil {
			t.Fatal(err)
		}
		_, err = emu.New(emu.WithStateStore(f))
		return err
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name    string
		pass    string
		content []byte
		want    error
	}{
		{"wrong passphrase", "wrong", good, emu.ErrWrongPassphrase},
		{"flipped ciphertext bit", "right", flip(len(good) - 40), emu.ErrCorruptState},
		{"flipped salt bit", "right", flip(30), emu.ErrCorruptState},
		{"flipped checksum bit", "right", flip(len(good) - 1), emu.ErrCorruptState},
		{"truncated", "right", good[:len(good)-1], emu.ErrCorruptState},
		{"header only", "right", good[:39], emu.ErrCorruptState},
		{"empty", "right", nil, emu.ErrCorruptState},
		{"not a state file", "right", []byte(strings.Repeat("{}", 100)), emu.ErrCorruptState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := load(tt.pass, tt.content)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// Tampering that keeps the checksum right is caught by GCM.
	t.Run("tampered with a fixed checksum", func(t *testing.T) {
		b := flip(len(good) - 40)
		body := b[:len(b)-32]
		sum := sha256Of(body)
		err := load("right", append(bytes.Clone(body), sum...))
		if !errors.Is(err, emu.ErrCorruptState) {
			t.Fatalf("got %v, want ErrCorruptState", err)
		}
	})
	if err := load("right", good); err != nil {
		t.Fatalf("the original file no longer loads: %v", err)
	}
	if _, err := emu.NewSealedFile(path, nil, fastKDF); err == nil {
		t.Fatal("empty passphrase accepted")
	}
	if _, err := emu.NewSealedFile(path, []byte("x"), emu.KDFParams{Time: 100, MemoryKiB: 64, Threads: 1}); err == nil {
		t.Fatal("absurd KDF parameters accepted")
	}
}

// A sealed file that decrypts but holds an invalid state is refused.
func TestSealedFileInvalidState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.state")
	f, _ := emu.NewSealedFile(path, []byte("p"), fastKDF)
	store := &emu.MemoryStore{}
	if _, err := emu.New(emu.WithStateStore(store)); err != nil {
		t.Fatal(err)
	}
	st, _ := store.Load()
	st.PINTriesLeft = 7 // more than PINRetries
	if err := f.Save(st); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(); !errors.Is(err, emu.ErrCorruptState) {
		t.Fatalf("got %v, want ErrCorruptState", err)
	}
	if _, err := emu.New(emu.WithStateStore(store)); err != nil {
		t.Fatalf("a valid state no longer loads: %v", err)
	}
}

func TestStateValidate(t *testing.T) {
	store := &emu.MemoryStore{}
	if _, err := emu.New(emu.WithStateStore(store)); err != nil {
		t.Fatal(err)
	}
	base, _ := store.Load()
	if err := base.Validate(); err != nil {
		t.Fatalf("factory state: %v", err)
	}
	tests := map[string]func(s *emu.State){
		"format":          func(s *emu.State) { s.Format = 2 },
		"short PIN":       func(s *emu.State) { s.PIN = pad("123") },
		"PUK without pad": func(s *emu.State) { s.PUK = []byte("1234") },
		"zero retries":    func(s *emu.State) { s.PUKRetries, s.PUKTriesLeft = 0, 0 },
		"negative left":   func(s *emu.State) { s.PINTriesLeft = -1 },
		"management key":  func(s *emu.State) { s.ManagementKey.Key = s.ManagementKey.Key[:16] },
		"unknown object":  func(s *emu.State) { s.Objects[0x5FC201] = []byte{1} },
		"empty object":    func(s *emu.State) { s.Objects[0x5FC105] = nil },
		"key in 9B":       func(s *emu.State) { s.Keys[0x9B] = s.Keys[0xF9] },
		"symmetric key":   func(s *emu.State) { k := s.Keys[0xF9]; k.Algorithm = pivspec.AlgAES128; s.Keys[0x9A] = k },
		"policy":          func(s *emu.State) { k := s.Keys[0xF9]; k.PINPolicy = 9; s.Keys[0x9A] = k },
		"empty blob":      func(s *emu.State) { k := s.Keys[0xF9]; k.Blob = nil; s.Keys[0x9A] = k },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			s := base.Clone()
			mutate(s)
			if err := s.Validate(); err == nil {
				t.Fatal("Validate accepted it")
			}
			if err := base.Validate(); err != nil {
				t.Fatal("Clone shares memory with the original")
			}
		})
	}
	// A key blob that the key store cannot load stops New.
	s := base.Clone()
	k := s.Keys[0xF9]
	k.Blob = []byte{1, 2, 3}
	s.Keys[0xF9] = k
	bad := &emu.MemoryStore{}
	bad.Save(s)
	if _, err := emu.New(emu.WithStateStore(bad)); err == nil {
		t.Fatal("New accepted an unloadable key")
	}
}

// A card whose store fails keeps answering, undoes the change and says
// 6581.
func TestSaveFailureUndoes(t *testing.T) {
	store := &failingStore{}
	c := newCard(t, emu.WithStateStore(store))
	c.authDefault()
	store.fail(true)
	c.expect(apdu.SWMemoryFailure, 0x47, 0x00, 0x9A, mustHex(t, "AC03800111"))
	if sw := c.putData(mustHex(t, "5FC105"), []byte{1}); sw != apdu.SWMemoryFailure {
		t.Fatalf("PUT DATA: %v", sw)
	}
	c.expect(apdu.SWMemoryFailure, 0xFF, 0xFF, 0xFF, append([]byte{0x08, 0x9B, 16}, make([]byte, 16)...))
	store.fail(false)
	c.expect(apdu.SWReferenceNotFound, 0xF7, 0x00, 0x9A, nil)
	if sw := c.getData(mustHex(t, "5FC105")).SW; sw != apdu.SWNotFound {
		t.Fatalf("object after a failed PUT: %v", sw)
	}
	c.selectPIV()
	c.authDefault() // still the 3DES default
	if _, err := emu.New(emu.WithStateStore(&failingStore{failing: true})); err == nil {
		t.Fatal("New succeeded although the new card could not be saved")
	}
}
