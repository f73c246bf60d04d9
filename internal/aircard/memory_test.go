package aircard_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"runtime"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/aircard"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// heap returns the live heap after a full collection.
func heap() uint64 {
	var m runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestIdleCost hosts 1000 cards (loaded from their files, as after a
// restart) and reports the memory an idle card and an open session cost,
// and how long loading took. The bounds are generous; the numbers are the
// point (docs/performance.md).
func TestIdleCost(t *testing.T) {
	const n = 1000
	dir := t.TempDir()
	kek := fileKEK(t)
	h := openHost(t, dir, kek, nil)
	start := time.Now()
	for range n {
		create(t, h)
	}
	created := time.Since(start)
	h.Close()

	before := heap()
	start = time.Now()
	h = openHost(t, dir, kek, nil)
	opened := time.Since(start)
	afterOpen := heap()
	if len(h.Serials()) != n {
		t.Fatalf("%d cards", len(h.Serials()))
	}
	conns := make([]agent.Card, 0, n)
	for _, s := range h.Serials() {
		c, err := h.Connect(aircard.ReaderName(s), false)
		if err != nil {
			t.Fatal(err)
		}
		// SELECT, as every client starts.
		if _, err := c.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	afterSessions := heap()
	perCard := float64(afterOpen-before) / n
	perSession := float64(int64(afterSessions)-int64(afterOpen)) / n
	t.Logf("%d cards: create %v (%v each), load %v (%v each)", n, created, created/n, opened, opened/n)
	t.Logf("heap per idle card %.0f bytes, per open session %.0f bytes", perCard, perSession)
	if perCard > 64<<10 || perSession > 16<<10 {
		t.Errorf("idle card %.0f bytes, session %.0f bytes: more than expected", perCard, perSession)
	}
	runtime.KeepAlive(conns)
	runtime.KeepAlive(h)
}

// TestIssuedCardCost is TestIdleCost for 200 issued cards: RSA 2048 keys
// in 9A and 9C, a P-256 key in 9D, a certificate in 9A.
func TestIssuedCardCost(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	kek := fileKEK(t)
	h := openHost(t, dir, kek, nil)
	rsa1, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Alice Example", Organization: []string{"Example Corp"}}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsa1.PublicKey, rsa1)
	cert, _ := x509.ParseCertificate(der)
	for range n {
		s := create(t, h)
		c, conn := connect(t, h, s)
		admin, err := c.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []struct {
			slot piv.Slot
			key  crypto.PrivateKey
		}{{pivspec.SlotAuthentication, rsa1}, {pivspec.SlotSignature, rsa2}, {pivspec.SlotKeyManagement, ec}} {
			if err := admin.ImportKey(ctx, k.slot, k.key, piv.KeyPolicy{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := admin.PutCertificate(ctx, pivspec.SlotAuthentication, cert); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	h.Close()
	before := heap()
	start := time.Now()
	h = openHost(t, dir, kek, nil)
	opened := time.Since(start)
	after := heap()
	t.Logf("%d issued cards: load %v (%v each), heap per idle card %.0f bytes", n, opened, opened/n, float64(after-before)/n)
	runtime.KeepAlive(h)
}
