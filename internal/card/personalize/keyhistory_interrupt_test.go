package personalize

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// errReplyLost is the reply of a command the card ran, lost on the way
// back (a card pulled, a reader gone).
var errReplyLost = errors.New("test: reply lost")

// cutCard is an emulated card whose link breaks after a number of
// commands: the card runs the command that breaks it, its reply is lost,
// and nothing more reaches it until the link is mended.
type cutCard struct {
	piv  *piv.Card
	left int // commands until the cut; < 0: never
}

func newCutCard(t *testing.T, opts ...emu.Option) *cutCard {
	t.Helper()
	e, err := emu.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	cc := &cutCard{left: -1}
	inner := e.Transport()
	tr := apdu.TransportFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		if cc.left == 0 {
			return nil, errReplyLost
		}
		resp, err := inner.Transmit(ctx, cmd)
		if cc.left > 0 {
			if cc.left--; cc.left == 0 {
				return nil, errReplyLost
			}
		}
		return resp, err
	})
	if cc.piv, err = piv.New(tr, piv.Config{Rand: rand.Reader}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.piv.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cc
}

// earlierKeysIn reports the retired slots (1-based) whose key is one of keys.
func earlierKeysIn(t *testing.T, c *piv.Card, keys []RetiredKey) []int {
	t.Helper()
	var found []int
	for n := 1; n <= MaxRetiredKeys; n++ {
		slot, _ := pivspec.RetiredSlot(n)
		m, err := c.Metadata(context.Background(), slot.Ref())
		if errors.Is(err, piv.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("GET METADATA of slot %s: %v", slot, err)
		}
		for _, k := range keys {
			if PublicKeysEqual(m.PublicKey, k.Key.Public()) {
				found = append(found, n)
			}
		}
	}
	return found
}

// TestRetiredKeysInterruptedWrite breaks WriteRetiredKeys after every
// command in turn. Whatever was written, the Key History Object counts
// every retired slot holding one of the earlier keys (the count is written
// before the first import), and ClearRetiredKeys — Revoke and clear —
// then leaves none of them on the card: an interrupted write no longer
// leaves a previous owner's key behind the default PIN.
func TestRetiredKeysInterruptedWrite(t *testing.T) {
	for name, opts := range map[string][]emu.Option{"move key": nil, "without move key": {emu.WithoutMoveKey()}} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			keys := []RetiredKey{retiredKey(t, ecKey(t), "newest"), retiredKey(t, ecKey(t), "middle"), retiredKey(t, ecKey(t), "oldest")}
			for cut := 1; ; cut++ {
				cc := newCutCard(t, opts...)
				admin, err := Authenticate(ctx, cc.piv, factory)
				if err != nil {
					t.Fatal(err)
				}
				cc.left = cut
				err = WriteRetiredKeys(ctx, cc.piv, admin, keys)
				cc.left = -1
				if err == nil {
					if cut < 4 {
						t.Fatalf("the write finished after %d commands", cut)
					}
					return
				}
				h, err := ReadKeyHistory(ctx, cc.piv)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range earlierKeysIn(t, cc.piv, keys) {
					if n > h.OnCard {
						t.Errorf("cut after %d commands: retired slot %d holds an earlier key, the key history counts %d", cut, n, h.OnCard)
					}
				}
				if admin, err = Authenticate(ctx, cc.piv, factory); err != nil {
					t.Fatal(err)
				}
				if _, err := ClearRetiredKeys(ctx, cc.piv, admin); err != nil {
					t.Fatalf("cut after %d commands: ClearRetiredKeys: %v", cut, err)
				}
				if left := earlierKeysIn(t, cc.piv, keys); len(left) > 0 {
					t.Errorf("cut after %d commands: after the clear, retired slots %v still hold earlier keys", cut, left)
				}
			}
		})
	}
}

// TestClearRetiredKeysUncounted: a key left in a retired slot the Key
// History Object does not count (a write by an earlier Lanyard version or
// another tool, interrupted before its count) is still destroyed by
// ClearRetiredKeys — one with its certificate and one without — on a card
// that can move keys, on one that cannot, and on one that cannot report
// its keys (GET METADATA unsupported: every retired slot is overwritten).
func TestClearRetiredKeysUncounted(t *testing.T) {
	for name, tc := range map[string]struct {
		opts       []emu.Option
		noMetadata bool
	}{
		"move key":             {},
		"without move key":     {opts: []emu.Option{emu.WithoutMoveKey()}},
		"without GET METADATA": {opts: []emu.Option{emu.WithoutMoveKey()}, noMetadata: true},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e, c := mustCard(t, tc.opts...)
			admin, err := Authenticate(ctx, c, factory)
			if err != nil {
				t.Fatal(err)
			}
			keys := []RetiredKey{retiredKey(t, ecKey(t), "with certificate"), retiredKey(t, ecKey(t), "key only")}
			if err := admin.ImportKey(ctx, 0x82, keys[0].Key, piv.KeyPolicy{}); err != nil {
				t.Fatal(err)
			}
			if err := admin.PutCertificate(ctx, 0x82, keys[0].Certificate); err != nil {
				t.Fatal(err)
			}
			if err := admin.ImportKey(ctx, 0x90, keys[1].Key, piv.KeyPolicy{}); err != nil {
				t.Fatal(err)
			}
			if h, err := ReadKeyHistory(ctx, c); err != nil || h.OnCard != 0 {
				t.Fatalf("key history before the clear: %+v, %v", h, err)
			}
			clearing, clearAdmin := c, admin
			if tc.noMetadata {
				clearing = withoutINS(t, e, pivspec.InsGetMetadata)
				if clearAdmin, err = Authenticate(ctx, clearing, factory); err != nil {
					t.Fatal(err)
				}
			}
			if changed, err := ClearRetiredKeys(ctx, clearing, clearAdmin); err != nil || !changed {
				t.Fatalf("ClearRetiredKeys: %v, %v", changed, err)
			}
			for _, slot := range []pivspec.Slot{0x82, 0x90} {
				noEarlierKey(t, c, slot, keys)
			}
		})
	}
}

// TestClearRetiredKeysNoMetadataFewerSlots: a card that cannot report its
// keys and has no key references past 8A (GENERATE there answered 6A88)
// is still cleared: the earlier key in 82 is overwritten and the slots the
// card does not have are skipped instead of failing the clear.
func TestClearRetiredKeysNoMetadataFewerSlots(t *testing.T) {
	ctx := context.Background()
	e, c := mustCard(t, emu.WithoutMoveKey())
	inner := e.Transport()
	tr := apdu.TransportFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		switch {
		case len(cmd) >= 4 && cmd[1] == pivspec.InsGetMetadata:
			return []byte{0x6D, 0x00}, nil
		case len(cmd) >= 4 && cmd[1] == pivspec.InsGenerateKey && cmd[3] > 0x8A && cmd[3] <= 0x95:
			return []byte{0x6A, 0x88}, nil
		}
		return inner.Transmit(ctx, cmd)
	})
	limited, err := piv.New(tr, piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := limited.Select(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := Authenticate(ctx, limited, factory)
	if err != nil {
		t.Fatal(err)
	}
	keys := []RetiredKey{retiredKey(t, ecKey(t), "key only")}
	if err := admin.ImportKey(ctx, 0x82, keys[0].Key, piv.KeyPolicy{}); err != nil {
		t.Fatal(err)
	}
	if changed, err := ClearRetiredKeys(ctx, limited, admin); err != nil || !changed {
		t.Fatalf("ClearRetiredKeys: %v, %v", changed, err)
	}
	noEarlierKey(t, c, 0x82, keys)
}
