package piv_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// The client side of the offline unblock against the emulator: a blocked
// PIN comes back with the server's response, and the card's refusals map
// to the package's errors.
func TestOfflineUnblockClient(t *testing.T) {
	ctx := context.Background()
	card, c := newEmu(t)
	if _, err := c.UnblockChallenge(ctx); !errors.Is(err, piv.ErrNoChallenge) {
		t.Fatalf("a card on the factory management key: %v, want ErrNoChallenge", err)
	}
	mgm := bytes.Repeat([]byte{7}, 24)
	if err := factoryAdmin(t, c).SetManagementKey(ctx, pivspec.Alg3DES, mgm); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UnblockChallenge(ctx); !errors.Is(err, piv.ErrNoChallenge) {
		t.Fatalf("a card without its offline key: %v, want ErrNoChallenge", err)
	}
	admin, err := c.Authenticate(ctx, pivspec.Alg3DES, mgm)
	if err != nil {
		t.Fatal(err)
	}
	serialName := strconv.FormatUint(uint64(card.Serial()), 10)
	offlineKey, _ := unblockcode.MACKey(mgm, serialName)
	if err := admin.SetOfflineKey(ctx, offlineKey); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = c.VerifyPIN(ctx, "999999")
	}
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); !errors.Is(err, piv.ErrBlocked) {
		t.Fatalf("PIN not blocked: %v", err)
	}
	ch, err := c.UnblockChallenge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := unblockcode.UnpackChallenge(ch.Payload)
	serial := strconv.FormatUint(uint64(card.Serial()), 10)
	key, _ := unblockcode.MACKey(mgm, serial)
	resp := unblockcode.ResponseMAC(key, serial, ch.Payload)

	if err := c.UnblockWithResponse(ctx, f.Counter, resp, "12"); !errors.Is(err, piv.ErrPINFormat) {
		t.Fatalf("short new PIN: %v, want ErrPINFormat (nothing sent)", err)
	}
	bad := resp
	bad[0] ^= 1
	if err := c.UnblockWithResponse(ctx, f.Counter, bad, "13572468"); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("wrong response: %v, want ErrSecurityStatus", err)
	}
	if err := c.UnblockWithResponse(ctx, f.Counter, resp, "13572468"); !errors.Is(err, piv.ErrNoChallenge) {
		t.Fatalf("after a wrong response: %v, want ErrNoChallenge", err)
	}
	ch, err = c.UnblockChallenge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp = unblockcode.ResponseMAC(key, serial, ch.Payload)
	if err := c.UnblockWithResponse(ctx, unblockcode.UnpackChallenge(ch.Payload).Counter, resp, "13572468"); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, "13572468"); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
}
