package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pcsc"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Card operations (issue #3), each in process (the emulator behind its
// apdu.Transport) and through the real stack (pcsc.Card → pcscd → vpcd
// driver → internal/card/vpcd → the same emulator). The pcscd variants
// need LANYARD_TEST_VPCD (scripts/pcscd-test.sh) and fail without it.

// getCHUID is GET DATA of the CHUID, a short command with a short answer.
var getCHUID = []byte{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00}

// BenchmarkCardAPDU is one APDU round trip (GET DATA of the CHUID).
func BenchmarkCardAPDU(b *testing.B) {
	cmd, err := apdu.ParseCommand(getCHUID)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("in-process", func(b *testing.B) {
		card := newEmuCard(b)
		client := &apdu.Client{Transport: card.Transport()}
		ctx := context.Background()
		selectPIV(b, card.Transport())
		for b.Loop() {
			r, err := client.Send(ctx, cmd)
			if err != nil || r.SW != apdu.SWOK {
				b.Fatal(r.SW, err)
			}
		}
	})
	b.Run("pcscd", func(b *testing.B) {
		sc := &swapCard{}
		sc.set(newEmuCard(b))
		k := attachPCSCD(b, sc)
		ctx := context.Background()
		selectPIV(b, k)
		for b.Loop() {
			r, err := k.Transmit(ctx, getCHUID)
			if err != nil || len(r) < 2 || r[len(r)-2] != 0x90 {
				b.Fatalf("% X, %v", r, err)
			}
		}
	})
}

// BenchmarkCardPersonalize is a full personalization of a factory-fresh
// card with the PIV client (issue #3 targets: < 50 ms in process, < 500 ms
// through pcscd): select, read the serial, authenticate with the factory
// 3DES management key, switch to an AES-192 key derived with
// internal/card/personalize, authenticate with it, set PIN and PUK, generate two
// P-256 keys on the card and write two certificates. Making the fresh
// card is outside the timing.
func BenchmarkCardPersonalize(b *testing.B) {
	certs := []piv.SlotCertificate{
		{Slot: pivspec.SlotAuthentication, Certificate: benchCertificate(b, "auth")},
		{Slot: pivspec.SlotSignature, Certificate: benchCertificate(b, "sign")},
	}
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			card := newEmuCard(b)
			b.StartTimer()
			personalizeCard(b, card.Transport(), certs)
		}
	})
	b.Run("pcscd", func(b *testing.B) {
		sc := &swapCard{}
		sc.set(newEmuCard(b))
		k := attachPCSCD(b, sc)
		for b.Loop() {
			b.StopTimer()
			// A new factory-fresh card behind the same reader connection;
			// personalize starts with SELECT, as after an insertion.
			sc.set(newEmuCard(b))
			b.StartTimer()
			err := k.Transaction(context.Background(), func(context.Context) error {
				personalizeCard(b, k, certs)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// personalizeCard takes over a factory-fresh card and personalizes it.
func personalizeCard(b *testing.B, t apdu.Transport, certs []piv.SlotCertificate) {
	ctx := context.Background()
	master := bytes.Repeat([]byte{0x42}, personalize.MinMasterLen)
	c, err := piv.New(t, piv.Config{Rand: rand.Reader})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Select(ctx); err != nil {
		b.Fatal(err)
	}
	serial, err := c.Serial(ctx)
	if err != nil {
		b.Fatal(err)
	}
	key, err := personalize.Derive(master, 1, lanyard.AdminKeyAES192, binary.BigEndian.AppendUint32(nil, serial))
	if err != nil {
		b.Fatal(err)
	}
	a, err := c.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		b.Fatal(err)
	}
	if err := a.SetManagementKey(ctx, pivspec.AlgAES192, key); err != nil {
		b.Fatal(err)
	}
	if a, err = c.Authenticate(ctx, pivspec.AlgAES192, key); err != nil {
		b.Fatal(err)
	}
	if err := c.ChangePIN(ctx, pivspec.DefaultPIN, "24681357"); err != nil {
		b.Fatal(err)
	}
	if err := c.ChangePUK(ctx, pivspec.DefaultPUK, "97531864"); err != nil {
		b.Fatal(err)
	}
	for _, sc := range certs {
		if _, err := a.GenerateKey(ctx, sc.Slot, pivspec.AlgECCP256, piv.KeyPolicy{}); err != nil {
			b.Fatal(err)
		}
		if err := a.PutCertificate(ctx, sc.Slot, sc.Certificate); err != nil {
			b.Fatal(err)
		}
	}
}

func newEmuCard(b *testing.B) *emu.Card {
	card, err := emu.New()
	if err != nil {
		b.Fatal(err)
	}
	return card
}

func selectPIV(b *testing.B, t apdu.Transport) {
	c, err := piv.New(t, piv.Config{Rand: rand.Reader})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Select(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// swapCard is a vpcd.Card whose emulated card can be replaced, so that a
// benchmark gets a factory-fresh card without pcscd having to notice a
// removal and an insertion (up to half a second each).
type swapCard struct {
	mu   sync.Mutex
	card *emu.Card
}

func (s *swapCard) set(c *emu.Card) { s.mu.Lock(); s.card = c; s.mu.Unlock() }
func (s *swapCard) get() *emu.Card  { s.mu.Lock(); defer s.mu.Unlock(); return s.card }

func (s *swapCard) ATR() []byte                { return s.get().ATR() }
func (s *swapCard) PowerOff()                  { s.get().PowerOff() }
func (s *swapCard) PowerOn()                   { s.get().PowerOn() }
func (s *swapCard) Reset()                     { s.get().Reset() }
func (s *swapCard) Transmit(cmd []byte) []byte { return s.get().Transmit(cmd) }

// attachPCSCD puts card into the real vpcd slot of LANYARD_TEST_VPCD and
// returns an exclusive PC/SC connection to it through pcscd.
func attachPCSCD(b *testing.B, card vpcd.Card) *pcsc.Card {
	addr := vpcdtest.Addr(b)
	vpcdtest.Lock(b, addr)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)

	pc, err := pcsc.Establish()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pc.Release() })
	readers, err := pc.Readers()
	if err != nil {
		b.Fatal(err)
	}
	reader, ok := vpcdtest.Reader(readers, port)
	if !ok {
		b.Fatalf("pcscd has no Lanyard vpcd reader for port %d (readers %q); run scripts/pcscd-test.sh", port, readers)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s, err := vpcd.Start(ctx, addr, card)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); <-s.Done() })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := s.WaitConnected(wctx); err != nil {
		b.Fatalf("card not attached to %s: %v", addr, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		k, err := pc.Connect(reader, true)
		if err == nil {
			b.Cleanup(func() { k.Close() })
			return k
		}
		if time.Now().After(deadline) {
			b.Fatalf("connect to %q: %v", reader, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// benchCertificate is a P-256 certificate of typical size for the slots.
func benchCertificate(b *testing.B, cn string) *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Lanyard bench " + cn, Organization: []string{"Lanyard"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	return cert
}
