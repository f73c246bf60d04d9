package piv_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// rsaKeys caches RSA keys across tests; generating 4096-bit keys is slow.
var rsaKeys sync.Map

func rsaKey(tb testing.TB, bits int) *rsa.PrivateKey {
	tb.Helper()
	if k, ok := rsaKeys.Load(bits); ok {
		return k.(*rsa.PrivateKey)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	rsaKeys.Store(bits, k)
	return k
}

func ecKey(tb testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// publicKeyTemplate encodes pub as GENERATE answers it (SP 800-73-4 Part 2
// 3.3.2, table 11).
func publicKeyTemplate(tb testing.TB, pub crypto.PublicKey) []byte {
	tb.Helper()
	switch k := pub.(type) {
	case *rsa.PublicKey:
		inner := apdu.AppendTLV(nil, 0x81, k.N.Bytes())
		inner = apdu.AppendTLV(inner, 0x82, big.NewInt(int64(k.E)).Bytes())
		return apdu.AppendTLV(nil, 0x7F49, inner)
	case *ecdsa.PublicKey:
		p, err := k.Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		return apdu.AppendTLV(nil, 0x7F49, apdu.AppendTLV(nil, 0x86, p))
	}
	tb.Fatalf("no template for %T", pub)
	return nil
}

func TestGenerateKeyTranscript(t *testing.T) {
	ctx := context.Background()
	key := ecKey(t, elliptic.P256())
	resp := fmt.Sprintf("%X 9000", publicKeyTemplate(t, &key.PublicKey))
	a := replayAdmin(t, `
> 00 47 00 9A 05 AC03 800111 00
< `+resp+`
# with the YubiKey PIN and touch policies
> 00 47 00 9C 0B AC09 800111 AA0103 AB0101 00
< `+resp)
	pub, err := a.GenerateKey(ctx, pivspec.SlotAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil || !key.PublicKey.Equal(pub) {
		t.Fatalf("GenerateKey = %v, %v", pub, err)
	}
	pub, err = a.GenerateKey(ctx, pivspec.SlotSignature, pivspec.AlgECCP256, piv.KeyPolicy{PIN: pivspec.PINPolicyAlways, Touch: pivspec.TouchPolicyNever})
	if err != nil || !key.PublicKey.Equal(pub) {
		t.Fatalf("GenerateKey with policy = %v, %v", pub, err)
	}
}

// generateFake answers GENERATE ASYMMETRIC KEY PAIR with the template of
// pub after checking the algorithm in the control reference template.
func generateFake(t *testing.T, wantAlg byte, template []byte) func(apdu.Command) apdu.Response {
	return func(c apdu.Command) apdu.Response {
		if c.INS != 0x47 || c.P2 != 0x9D || !bytes.Equal(c.Data, []byte{0xAC, 0x03, 0x80, 0x01, wantAlg}) {
			t.Errorf("unexpected command %02X %02X%02X %X", c.INS, c.P1, c.P2, c.Data)
			return apdu.Response{SW: apdu.SWIncorrectData}
		}
		return apdu.Response{Data: template, SW: apdu.SWOK}
	}
}

func TestGenerateKeyEveryAlgorithm(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		alg   piv.Algorithm
		id    byte // SP 800-78-4 table 6-2; YubiKey for RSA 3072 and 4096
		key   crypto.Signer
		large bool
	}{
		{pivspec.AlgRSA2048, 0x07, rsaKey(t, 2048), false},
		{pivspec.AlgRSA3072, 0x05, rsaKey(t, 3072), true},
		{pivspec.AlgRSA4096, 0x16, rsaKey(t, 4096), true},
		{pivspec.AlgECCP256, 0x11, ecKey(t, elliptic.P256()), false},
		{pivspec.AlgECCP384, 0x14, ecKey(t, elliptic.P384()), false},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			a := handlerAdmin(t, generateFake(t, tt.id, publicKeyTemplate(t, tt.key.Public())))
			pub, err := a.GenerateKey(ctx, pivspec.SlotKeyManagement, tt.alg, piv.KeyPolicy{})
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.key.Public()) {
				t.Fatalf("public key %v", pub)
			}
			if got, _ := pivspec.AlgorithmOf(pub); got != tt.alg {
				t.Fatalf("public key of %s", got)
			}
		})
	}
}

func TestGenerateKeyErrors(t *testing.T) {
	ctx := context.Background()
	p256 := ecKey(t, elliptic.P256())
	p384 := ecKey(t, elliptic.P384())
	rsa2048 := rsaKey(t, 2048)
	rsaEven := &rsa.PublicKey{N: rsa2048.N, E: 65536}
	tests := []struct {
		name   string
		alg    piv.Algorithm
		slot   piv.Slot
		policy piv.KeyPolicy
		answer apdu.Response
		want   error
	}{
		{"card refuses the algorithm", pivspec.AlgRSA4096, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{SW: apdu.SWIncorrectP1P2}, apdu.ErrWrongParameters},
		{"not authenticated", pivspec.AlgECCP256, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{SW: apdu.SWSecurityStatusNotSatisfied}, piv.ErrSecurityStatus},
		{"P-384 point for P-256", pivspec.AlgECCP256, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{Data: publicKeyTemplate(t, &p384.PublicKey), SW: apdu.SWOK}, apdu.ErrMalformed},
		{"RSA for EC", pivspec.AlgECCP256, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{Data: publicKeyTemplate(t, &rsa2048.PublicKey), SW: apdu.SWOK}, apdu.ErrMalformed},
		{"2048-bit modulus for 3072", pivspec.AlgRSA3072, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{Data: publicKeyTemplate(t, &rsa2048.PublicKey), SW: apdu.SWOK}, apdu.ErrMalformed},
		{"even exponent", pivspec.AlgRSA2048, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{Data: publicKeyTemplate(t, rsaEven), SW: apdu.SWOK}, apdu.ErrMalformed},
		{"no 7F49", pivspec.AlgECCP256, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{Data: publicKeyTemplate(t, &p256.PublicKey)[3:], SW: apdu.SWOK}, apdu.ErrMalformed},
		{"no template at all", pivspec.AlgECCP256, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{SW: apdu.SWOK}, apdu.ErrMalformed},
		{"Ed25519", pivspec.AlgEd25519, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{}, piv.ErrUnsupported},
		{"management key algorithm", pivspec.AlgAES128, pivspec.SlotKeyManagement, piv.KeyPolicy{}, apdu.Response{}, piv.ErrUnsupported},
		{"not a slot", pivspec.AlgECCP256, piv.Slot(0x9B), piv.KeyPolicy{}, apdu.Response{}, nil},
		{"unknown PIN policy", pivspec.AlgECCP256, pivspec.SlotKeyManagement, piv.KeyPolicy{PIN: 9}, apdu.Response{}, nil},
		{"unknown touch policy", pivspec.AlgECCP256, pivspec.SlotKeyManagement, piv.KeyPolicy{Touch: 9}, apdu.Response{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := 0
			a := handlerAdmin(t, func(apdu.Command) apdu.Response { sent++; return tt.answer })
			pub, err := a.GenerateKey(ctx, tt.slot, tt.alg, tt.policy)
			if err == nil || pub != nil {
				t.Fatalf("GenerateKey = %v, %v", pub, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if (tt.answer.SW == 0) != (sent == 0) {
				t.Fatalf("%d commands sent", sent)
			}
		})
	}
}

func TestImportKey(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		key  crypto.Signer
		alg  byte
	}{
		{"RSA 2048", rsaKey(t, 2048), 0x07},
		{"RSA 3072", rsaKey(t, 3072), 0x05},
		{"RSA 4096", rsaKey(t, 4096), 0x16},
		{"P-256", ecKey(t, elliptic.P256()), 0x11},
		{"P-384", ecKey(t, elliptic.P384()), 0x14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got apdu.Command
			a := handlerAdmin(t, func(c apdu.Command) apdu.Response { got = c; return apdu.Response{SW: apdu.SWOK} })
			policy := piv.KeyPolicy{PIN: pivspec.PINPolicyOnce, Touch: pivspec.TouchPolicyCached}
			if err := a.ImportKey(ctx, pivspec.SlotSignature, tt.key, policy); err != nil {
				t.Fatal(err)
			}
			if got.INS != 0xFE || got.P1 != tt.alg || got.P2 != 0x9C {
				t.Fatalf("IMPORT KEY %02X %02X %02X", got.INS, got.P1, got.P2)
			}
			tlvs, err := apdu.ParseTLVs(got.Data)
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := apdu.Find(tlvs, 0xAA); !ok || !bytes.Equal(p.Value, []byte{2}) {
				t.Fatalf("PIN policy %v", p)
			}
			if p, ok := apdu.Find(tlvs, 0xAB); !ok || !bytes.Equal(p.Value, []byte{3}) {
				t.Fatalf("touch policy %v", p)
			}
			checkImported(t, tt.key, tlvs)
		})
	}
}

// checkImported rebuilds the private key from IMPORT KEY's tags and
// compares it with want.
func checkImported(t *testing.T, want crypto.Signer, tlvs []apdu.TLV) {
	t.Helper()
	switch k := want.(type) {
	case *rsa.PrivateKey:
		var v [5]*big.Int
		for i := range v {
			tlv, ok := apdu.Find(tlvs, uint32(i+1))
			if !ok || len(tlv.Value) != k.Size()/2 {
				t.Fatalf("RSA component %02X: %d bytes", i+1, len(tlv.Value))
			}
			v[i] = new(big.Int).SetBytes(tlv.Value)
		}
		p, q, dp, dq, qinv := v[0], v[1], v[2], v[3], v[4]
		one := big.NewInt(1)
		if new(big.Int).Mul(p, q).Cmp(k.N) != 0 {
			t.Fatal("p·q is not the modulus")
		}
		e := big.NewInt(int64(k.E))
		if new(big.Int).Mod(new(big.Int).Mul(dp, e), new(big.Int).Sub(p, one)).Cmp(one) != 0 ||
			new(big.Int).Mod(new(big.Int).Mul(dq, e), new(big.Int).Sub(q, one)).Cmp(one) != 0 ||
			new(big.Int).Mod(new(big.Int).Mul(qinv, q), p).Cmp(one) != 0 {
			t.Fatal("CRT components are inconsistent")
		}
	case *ecdsa.PrivateKey:
		tlv, ok := apdu.Find(tlvs, 0x06)
		if !ok {
			t.Fatal("no private scalar (06)")
		}
		got, err := ecdsa.ParseRawPrivateKey(k.Curve, tlv.Value)
		if err != nil || !got.Equal(k) {
			t.Fatalf("private scalar %X: %v", tlv.Value, err)
		}
	}
}

func TestImportKeyRefuses(t *testing.T) {
	ctx := context.Background()
	// A key with a third prime, which the card's format cannot carry.
	multi := *rsaKey(t, 2048)
	multi.Primes = append(slices.Clone(multi.Primes), big.NewInt(3))
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := map[string]crypto.PrivateKey{
		"Ed25519":      edKey,
		"RSA 1024":     rsaKey(t, 1024),
		"three primes": &multi,
		"P-224":        ecKey(t, elliptic.P224()),
	}
	for name, key := range tests {
		a := handlerAdmin(t, func(apdu.Command) apdu.Response {
			t.Errorf("%s: a command was sent", name)
			return apdu.Response{SW: apdu.SWOK}
		})
		if err := a.ImportKey(ctx, pivspec.SlotSignature, key, piv.KeyPolicy{}); !errors.Is(err, piv.ErrUnsupported) {
			t.Errorf("%s: ImportKey = %v, want ErrUnsupported", name, err)
		}
	}
}
