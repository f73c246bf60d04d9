package aircard_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/aircard"
	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

var ctx = context.Background()

// signAndVerify signs a message with the key in slot after verifying pin,
// and checks the signature with pub.
func signAndVerify(t *testing.T, c *piv.Card, slot piv.Slot, pub crypto.PublicKey, pin, msg string) {
	t.Helper()
	if err := c.VerifyPIN(ctx, pin); err != nil {
		t.Fatalf("VERIFY: %v", err)
	}
	d := sha256.Sum256([]byte(msg))
	sig, err := c.Sign(ctx, slot, pub, d[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("sign in %v: %v", slot, err)
	}
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(p, d[:], sig) {
			t.Fatal("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(p, crypto.SHA256, d[:], sig); err != nil {
			t.Fatalf("RSA signature: %v", err)
		}
	}
}

func testRestart(t *testing.T, kek func(t *testing.T) aircard.KEK) {
	dir := t.TempDir()
	k := kek(t)
	h := openHost(t, dir, k, nil)
	serial := create(t, h)
	if !validDecimal(serial) {
		t.Fatalf("serial %q is not decimal", serial)
	}
	c, _ := connect(t, h, serial)
	if s, err := c.Serial(ctx); err != nil || strconv.FormatUint(uint64(s), 10) != serial {
		t.Fatalf("GET SERIAL: %d %v, want %s", s, err, serial)
	}
	admin, err := c.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := admin.GenerateKey(ctx, pivspec.SlotAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := admin.GenerateKey(ctx, pivspec.SlotSignature, pivspec.AlgRSA2048, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	// A key staged in 95 and moved into 9D (MOVE KEY, the update of
	// the card's contents), and an archived key imported into 82 (key
	// archival's recovery): both are in the card file.
	movedPub, err := admin.GenerateKey(ctx, pivspec.SlotRetiredLast, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.MoveKey(ctx, pivspec.SlotRetiredLast, pivspec.SlotKeyManagement); err != nil {
		t.Fatal(err)
	}
	archived, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.ImportKey(ctx, pivspec.SlotRetiredFirst, archived, piv.KeyPolicy{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePIN(ctx, pivspec.DefaultPIN, "24681357"); err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, c, pivspec.SlotAuthentication, ecPub, "24681357", "before the restart")
	signAndVerify(t, c, pivspec.SlotSignature, rsaPub, "24681357", "before the restart")
	h.Close()

	// A new host on the same directory (a restarted service) has the
	// card with its keys and PIN.
	h2 := openHost(t, dir, k, nil)
	if got := h2.Serials(); !slices.Equal(got, []string{serial}) {
		t.Fatalf("Serials after restart: %v", got)
	}
	c2, _ := connect(t, h2, serial)
	if err := c2.VerifyPIN(ctx, pivspec.DefaultPIN); err == nil {
		t.Fatal("the factory PIN works after the restart")
	}
	signAndVerify(t, c2, pivspec.SlotAuthentication, ecPub, "24681357", "after the restart")
	signAndVerify(t, c2, pivspec.SlotSignature, rsaPub, "24681357", "after the restart")
	signAndVerify(t, c2, pivspec.SlotKeyManagement, movedPub, "24681357", "after the restart")
	signAndVerify(t, c2, pivspec.SlotRetiredFirst, &archived.PublicKey, "24681357", "after the restart")
	if _, err := c2.Metadata(ctx, pivspec.SlotRetiredLast.Ref()); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("95 after the move and a restart: %v", err)
	}
}

func validDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == "" && s[0] != '0'
}

func TestHostRestartFileKEK(t *testing.T) {
	testRestart(t, func(t *testing.T) aircard.KEK { return fileKEK(t) })
}

func TestHostRestartHSM(t *testing.T) {
	testRestart(t, func(t *testing.T) aircard.KEK { return openKEK(t, hsmSpec(t, "aircard-kek")) })
}

func TestHostTwoSessions(t *testing.T) {
	h := openHost(t, t.TempDir(), fileKEK(t), nil)
	serial := create(t, h)
	a, _ := connect(t, h, serial)
	b, _ := connect(t, h, serial) // both "exclusive": not enforced
	admin, err := a.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := admin.GenerateKey(ctx, pivspec.SlotAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, a, pivspec.SlotAuthentication, pub, pivspec.DefaultPIN, "A signs")

	// B shares neither A's PIN nor its management key authentication.
	d := sha256.Sum256([]byte("B tries"))
	if _, err := b.Sign(ctx, pivspec.SlotAuthentication, pub, d[:], crypto.SHA256); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("B signs without its own VERIFY: %v", err)
	}
	// B's wrong PIN costs a try of the card's one counter; A stays
	// verified.
	if err := b.VerifyPIN(ctx, "000000"); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	if n, err := b.PINRetries(ctx); err != nil || n != 2 {
		t.Fatalf("PIN retries after B's wrong PIN: %d %v, want 2", n, err)
	}
	if _, err := a.Sign(ctx, pivspec.SlotAuthentication, pub, d[:], crypto.SHA256); err != nil {
		t.Fatalf("A after B's wrong PIN: %v", err)
	}
}

// watcher collects a Watch's events.
type watcher struct {
	ch     chan agent.ReaderEvent
	cancel context.CancelFunc
	done   chan error
}

func watch(t *testing.T, h *aircard.Host) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{ch: make(chan agent.ReaderEvent, 100), cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- h.Watch(ctx, func(ev agent.ReaderEvent) { w.ch <- ev }) }()
	t.Cleanup(cancel)
	return w
}

func (w *watcher) next(t *testing.T) agent.ReaderEvent {
	t.Helper()
	select {
	case ev := <-w.ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no reader event")
	}
	return agent.ReaderEvent{}
}

func TestHostWatchCreateDelete(t *testing.T) {
	dir := t.TempDir()
	h := openHost(t, dir, fileKEK(t), nil)
	first := create(t, h)
	w := watch(t, h)
	ev := w.next(t)
	atr := agentproto.VirtualATR(agentproto.KindAirCard)
	if ev.Reader != aircard.ReaderName(first) || !ev.Present || string(ev.ATR) != string(atr) {
		t.Fatalf("initial event %+v", ev)
	}
	if aircard.ReaderName(first) != "Lanyard AirCard "+first {
		t.Fatal(aircard.ReaderName(first))
	}
	second := create(t, h)
	if ev := w.next(t); ev.Reader != aircard.ReaderName(second) || !ev.Present || string(ev.ATR) != string(atr) {
		t.Fatalf("create event %+v", ev)
	}
	_, conn := connect(t, h, second)
	if err := h.Delete(second); err != nil {
		t.Fatal(err)
	}
	if ev := w.next(t); ev.Reader != aircard.ReaderName(second) || !ev.Gone || ev.Present {
		t.Fatalf("delete event %+v", ev)
	}
	if _, err := conn.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00}); !errors.Is(err, agent.ErrCardRemoved) {
		t.Fatalf("Transmit on a deleted card: %v", err)
	}
	if _, err := h.Connect(aircard.ReaderName(second), false); !errors.Is(err, agent.ErrNoReader) {
		t.Fatalf("Connect to a deleted card: %v", err)
	}
	if _, err := h.Connect("Yubico YubiKey 00 00", false); !errors.Is(err, agent.ErrNoReader) {
		t.Fatalf("Connect to an unknown reader: %v", err)
	}
	if err := h.Delete(second); !errors.Is(err, agent.ErrNoReader) {
		t.Fatalf("second Delete: %v", err)
	}
	if got := h.Serials(); !slices.Equal(got, []string{first}) {
		t.Fatalf("Serials: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, second+".card")); err == nil {
		t.Fatal("deleted card's file is still there")
	}
	// A closed connection fails as a removed card's does.
	_, conn = connect(t, h, first)
	conn.Close()
	if _, err := conn.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00}); !errors.Is(err, agent.ErrCardRemoved) {
		t.Fatalf("Transmit on a closed connection: %v", err)
	}
	// Closing the host ends Watch.
	h.Close()
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return when the host closed")
	}
}

func TestHostWrongKEK(t *testing.T) {
	dir := t.TempDir()
	kekA, kekB := fileKEK(t), fileKEK(t)
	h := openHost(t, dir, kekA, nil)
	serialA := create(t, h)
	h.Close()

	var log logBuffer
	hb := openHost(t, dir, kekB, &log)
	if got := hb.Serials(); len(got) != 0 {
		t.Fatalf("KEK B opened %v", got)
	}
	if l := log.String(); !strings.Contains(l, serialA) || !strings.Contains(l, "different key-encryption key") {
		t.Fatalf("log does not say why the card was skipped:\n%s", l)
	}
	serialB := create(t, hb) // a card of KEK B in the same directory
	if _, err := hb.Connect(aircard.ReaderName(serialA), false); !errors.Is(err, agent.ErrNoReader) {
		t.Fatalf("Connect to a skipped card: %v", err)
	}
	hb.Close()

	ha := openHost(t, dir, kekA, nil)
	if got := ha.Serials(); !slices.Equal(got, []string{serialA}) {
		t.Fatalf("KEK A opens %v, want [%s] (B's %s skipped)", got, serialA, serialB)
	}
}

func TestHostDamagedFileSkipped(t *testing.T) {
	dir := t.TempDir()
	k := fileKEK(t)
	h := openHost(t, dir, k, nil)
	good, bad := create(t, h), create(t, h)
	h.Close()
	path := filepath.Join(dir, bad+".card")
	b, _ := os.ReadFile(path)
	b[len(b)-3] ^= 0x40
	os.WriteFile(path, b, 0o600)
	os.WriteFile(filepath.Join(dir, "12345.card"), []byte("not a card"), 0o600)
	os.WriteFile(filepath.Join(dir, "README"), []byte("ignored"), 0o600)
	var log logBuffer
	h = openHost(t, dir, k, &log)
	if got := h.Serials(); !slices.Equal(got, []string{good}) {
		t.Fatalf("Serials: %v, want [%s]\n%s", got, good, log.String())
	}
	if l := log.String(); !strings.Contains(l, bad) || !strings.Contains(l, "12345") {
		t.Fatalf("log:\n%s", l)
	}
}

// TestHostConcurrent runs sessions on two cards at once while other cards
// are created and deleted (run with -race).
func TestHostConcurrent(t *testing.T) {
	h := openHost(t, t.TempDir(), fileKEK(t), nil)
	serials := []string{create(t, h), create(t, h)}
	pubs := map[string]crypto.PublicKey{}
	for _, s := range serials {
		c, conn := connect(t, h, s)
		admin, err := c.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
		if err != nil {
			t.Fatal(err)
		}
		if pubs[s], err = admin.GenerateKey(ctx, pivspec.SlotAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{}); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	w := watch(t, h)
	go func() {
		for range w.ch {
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 12 {
		s := serials[i%2]
		wg.Go(func() {
			for j := range 10 {
				conn, err := h.Connect(aircard.ReaderName(s), i%3 == 0)
				if err != nil {
					errs <- err
					return
				}
				c, _ := piv.New(apdu.TransportFunc(conn.Transmit), piv.Config{Rand: rand.Reader})
				if err := useSession(c, pubs[s], []byte{byte(i), byte(j)}); err != nil {
					errs <- err
				}
				conn.Close()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			s, err := h.Create()
			if err != nil {
				errs <- err
				return
			}
			if err := h.Delete(s); err != nil {
				errs <- err
				return
			}
			h.Serials()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// useSession selects PIV in a new session, checks that signing needs a
// VERIFY, verifies the PIN and signs.
func useSession(c *piv.Card, pub crypto.PublicKey, msg []byte) error {
	if _, err := c.Select(ctx); err != nil {
		return err
	}
	d := sha256.Sum256(msg)
	if _, err := c.Sign(ctx, pivspec.SlotAuthentication, pub, d[:], crypto.SHA256); !errors.Is(err, piv.ErrSecurityStatus) {
		return errors.New("signed before VERIFY in this session: " + errString(err))
	}
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		return err
	}
	sig, err := c.Sign(ctx, pivspec.SlotAuthentication, pub, d[:], crypto.SHA256)
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
		return errors.New("bad signature")
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
