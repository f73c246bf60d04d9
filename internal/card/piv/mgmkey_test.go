package piv_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/apdu/apdutest"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestAuthenticateKnownAnswers(t *testing.T) {
	ctx := context.Background()
	t.Run("3DES", func(t *testing.T) {
		a := replayAdmin(t, "")
		if a.Card() == nil {
			t.Fatal("Admin without its Card")
		}
	})
	t.Run("AES-128", func(t *testing.T) {
		// Computed with OpenSSL aes-128-ecb under key 000102…0F.
		c := replayCard(t, `
> 00 87 08 9B 04 7C02 8000 00
< 7C12 8010 00112233445566778899AABBCCDDEEFF 9000
> 00 87 08 9B 26 7C24 8010 762A5AB50929189CEFDB99434790AAD8 8110 000102030405060708090A0B0C0D0E0F 00
< 7C12 8210 0A940BB5416EF045F1C39458C653EA5A 9000
`)
		if _, err := c.Authenticate(ctx, pivspec.AlgAES128, mustHex(t, "000102030405060708090A0B0C0D0E0F")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuthenticateErrors(t *testing.T) {
	ctx := context.Background()
	key := pivspec.DefaultManagementKey()
	tests := []struct {
		name       string
		alg        piv.Algorithm
		key        []byte
		transcript string
		want       error // errors.Is target; nil means only "some error"
	}{
		{"key too short", pivspec.Alg3DES, key[:16], "", nil},
		{"AES-256 key of 24 bytes", pivspec.AlgAES256, key, "", nil},
		{"not a management key algorithm", pivspec.AlgRSA2048, key, "", piv.ErrUnsupported},
		{"wrong algorithm refused", pivspec.AlgAES192, key, `
> 00 87 0A 9B 04 7C02 8000 00
< 6A86`, piv.ErrManagementKey},
		{"wrong key refused", pivspec.Alg3DES, key, `
> 00 87 03 9B 04 7C02 8000 00
< 7C0A 8008 0011223344556677 9000
> 00 87 03 9B 16 7C14 8008 24F248A3CCEBC299 8108 0001020304050607 00
< 6982`, piv.ErrManagementKey},
		{"card answers our challenge wrongly", pivspec.Alg3DES, key, `
> 00 87 03 9B 04 7C02 8000 00
< 7C0A 8008 0011223344556677 9000
> 00 87 03 9B 16 7C14 8008 24F248A3CCEBC299 8108 0001020304050607 00
< 7C0A 8208 90152A4C1CF42781 9000`, piv.ErrCardAuthentication},
		{"card echoes our challenge", pivspec.Alg3DES, key, `
> 00 87 03 9B 04 7C02 8000 00
< 7C0A 8008 0011223344556677 9000
> 00 87 03 9B 16 7C14 8008 24F248A3CCEBC299 8108 0001020304050607 00
< 7C0A 8208 0001020304050607 9000`, piv.ErrCardAuthentication},
		{"card gives no response", pivspec.Alg3DES, key, `
> 00 87 03 9B 04 7C02 8000 00
< 7C0A 8008 0011223344556677 9000
> 00 87 03 9B 16 7C14 8008 24F248A3CCEBC299 8108 0001020304050607 00
< 9000`, apdu.ErrMalformed},
		{"witness of the wrong size", pivspec.Alg3DES, key, `
> 00 87 03 9B 04 7C02 8000 00
< 7C09 8007 00112233445566 9000`, apdu.ErrMalformed},
		{"no witness", pivspec.Alg3DES, key, `
> 00 87 03 9B 04 7C02 8000 00
< 7C0A 8108 0011223344556677 9000`, apdu.ErrMalformed},
		{"instruction unsupported", pivspec.Alg3DES, key, `
> 00 87 03 9B 04 7C02 8000 00
< 6D00`, piv.ErrUnsupported},
		{"card removed", pivspec.Alg3DES, key, `
> 00 87 03 9B 04 7C02 8000 00
! card removed`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := replayCard(t, tt.transcript)
			a, err := c.Authenticate(ctx, tt.alg, tt.key)
			if err == nil || a != nil {
				t.Fatalf("Authenticate = %v, %v; want an error", a, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate error %v, want %v", err, tt.want)
			}
		})
	}
}

// adminFake is a card that knows only management key authentication,
// written from SP 800-73-4 Part 2 appendix A.1 independently of the
// package. A counterfeit accepts any witness and answers the challenge
// with noise.
type adminFake struct {
	alg         byte
	block       cipher.Block
	witness     []byte
	counterfeit bool
	// authenticated is set when a client proved the key.
	authenticated bool
}

func newAdminFake(tb testing.TB, kind piv.Algorithm, key []byte) *adminFake {
	tb.Helper()
	var (
		block cipher.Block
		err   error
		alg   byte
	)
	switch kind {
	case pivspec.Alg3DES:
		block, err = des.NewTripleDESCipher(key)
		alg = 0x03
	default:
		block, err = aes.NewCipher(key)
		alg = map[piv.Algorithm]byte{pivspec.AlgAES128: 0x08, pivspec.AlgAES192: 0x0A, pivspec.AlgAES256: 0x0C}[kind]
	}
	if err != nil {
		tb.Fatal(err)
	}
	return &adminFake{alg: alg, block: block}
}

func (f *adminFake) handle(c apdu.Command) apdu.Response {
	if c.INS != 0x87 || c.P2 != 0x9B {
		return apdu.Response{SW: apdu.SWInstructionNotSupported}
	}
	if c.P1 != f.alg {
		return apdu.Response{SW: apdu.SWIncorrectP1P2}
	}
	v, err := apdu.Unwrap(c.Data, 0x7C)
	if err != nil {
		return apdu.Response{SW: apdu.SWIncorrectData}
	}
	tlvs, err := apdu.ParseTLVs(v)
	if err != nil {
		return apdu.Response{SW: apdu.SWIncorrectData}
	}
	n := f.block.BlockSize()
	w, hasW := apdu.Find(tlvs, 0x80)
	ch, hasC := apdu.Find(tlvs, 0x81)
	switch {
	case hasW && len(w.Value) == 0 && !hasC:
		f.authenticated = false
		f.witness = make([]byte, n)
		rand.Read(f.witness)
		enc := make([]byte, n)
		f.block.Encrypt(enc, f.witness)
		return apdu.Response{Data: apdu.AppendTLV(nil, 0x7C, apdu.AppendTLV(nil, 0x80, enc)), SW: apdu.SWOK}
	case hasW && hasC && len(ch.Value) == n:
		if !f.counterfeit && (f.witness == nil || !bytes.Equal(w.Value, f.witness)) {
			f.witness = nil
			return apdu.Response{SW: apdu.SWSecurityStatusNotSatisfied}
		}
		f.witness = nil
		f.authenticated = !f.counterfeit
		out := make([]byte, n)
		if f.counterfeit {
			rand.Read(out)
		} else {
			f.block.Encrypt(out, ch.Value)
		}
		return apdu.Response{Data: apdu.AppendTLV(nil, 0x7C, apdu.AppendTLV(nil, 0x82, out)), SW: apdu.SWOK}
	}
	return apdu.Response{SW: apdu.SWIncorrectData}
}

func TestAuthenticateEveryAlgorithm(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []piv.Algorithm{pivspec.Alg3DES, pivspec.AlgAES128, pivspec.AlgAES192, pivspec.AlgAES256} {
		t.Run(kind.String(), func(t *testing.T) {
			key := make([]byte, kind.ManagementKeyLen())
			rand.Read(key)
			fake := newAdminFake(t, kind, key)
			c, err := piv.New(apdutest.NewCard(fake.handle), piv.Config{Rand: rand.Reader})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Authenticate(ctx, kind, key); err != nil {
				t.Fatalf("right key: %v", err)
			}
			wrong := bytes.Clone(key)
			wrong[len(wrong)-1] ^= 0x02 // not a DES parity bit
			if _, err := c.Authenticate(ctx, kind, wrong); !errors.Is(err, piv.ErrManagementKey) {
				t.Fatalf("wrong key: %v, want ErrManagementKey", err)
			}
			fake.counterfeit = true
			if _, err := c.Authenticate(ctx, kind, key); !errors.Is(err, piv.ErrCardAuthentication) {
				t.Fatalf("counterfeit card: %v, want ErrCardAuthentication", err)
			}
		})
	}
}

func TestSetManagementKey(t *testing.T) {
	ctx := context.Background()
	aes256 := mustHex(t, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
	tests := []struct {
		name       string
		alg        piv.Algorithm
		key        []byte
		transcript string
		want       error
		ok         bool
	}{
		{"3DES", pivspec.Alg3DES, pivspec.DefaultManagementKey(), `
> 00 FF FF FF 1B 03 9B 18 010203040506070801020304050607080102030405060708
< 9000`, nil, true},
		{"AES-256", pivspec.AlgAES256, aes256, `
> 00 FF FF FF 23 0C 9B 20 000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F
< 9000`, nil, true},
		{"key of the wrong length", pivspec.AlgAES128, aes256, "", nil, false},
		{"not a management key algorithm", pivspec.AlgECCP256, aes256, "", piv.ErrUnsupported, false},
		{"card refuses AES", pivspec.AlgAES256, aes256, `
> 00 FF FF FF 23 0C 9B 20 000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F
< 6A80`, apdu.ErrWrongParameters, false},
		{"authentication lost", pivspec.Alg3DES, pivspec.DefaultManagementKey(), `
> 00 FF FF FF 1B 03 9B 18 010203040506070801020304050607080102030405060708
< 6982`, piv.ErrSecurityStatus, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := replayAdmin(t, tt.transcript)
			err := a.SetManagementKey(ctx, tt.alg, tt.key)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("SetManagementKey = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestZeroAdminRefuses(t *testing.T) {
	ctx := context.Background()
	var zero piv.Admin
	calls := map[string]func() error{
		"SetManagementKey": func() error {
			return zero.SetManagementKey(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
		},
		"GenerateKey": func() error {
			_, err := zero.GenerateKey(ctx, pivspec.SlotSignature, pivspec.AlgECCP256, piv.KeyPolicy{})
			return err
		},
		"WriteObject": func() error { return zero.WriteObject(ctx, pivspec.ObjectCHUID, []byte{1}) },
		"SetRetries":  func() error { return zero.SetRetries(ctx, pivspec.DefaultPIN, 3, 3) },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s on a zero Admin succeeded", name)
		}
	}
	var nilAdmin *piv.Admin
	if err := nilAdmin.DeleteCertificate(ctx, pivspec.SlotSignature); err == nil {
		t.Error("DeleteCertificate on a nil Admin succeeded")
	}
}
