//go:build integration

package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestClearInitializeWipesCard (issue 16 item 8, *Initialize*): a card
// revoked as lost while absent is connected later and cleared with
// `lanyard card clear ID --initialize`. Refused first, changing nothing,
// while its card type does not support initialization; then the whole
// card is reset: pkcs11-tool lists no object even logged in, yubico-piv-
// tool shows no certificate, the factory PIN and management key work
// (the card type's defaults), the old PIN does not, and the server
// records the card without its diversified key or own PUK.
func TestClearInitializeWipesCard(t *testing.T) {
	bin := pivToolAndBinary(t)
	s, u, tok, id := issuedForPIN(t, "wim") // PIN 24681357
	ctx := context.Background()
	if _, err := u.Post(ctx, "/api/v1/cards/"+itoa(id)+"/revoke", apiv1.RevokeCardInput{Reason: "lost"}, nil); err != nil {
		t.Fatal(err)
	}
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}

	setInit := func(on bool) {
		var ct map[string]any
		if err := s.admin.Get(ctx, "/api/v1/card-types/piv", &ct); err != nil {
			t.Fatal(err)
		}
		ct["supports_initialization"] = on
		for _, k := range []string{"id", "created_at", "updated_at"} {
			delete(ct, k)
		}
		if _, err := s.admin.Do(ctx, "PUT", "/api/v1/card-types/piv", ct, nil); err != nil {
			t.Fatalf("PUT the card type: %v", err)
		}
	}
	setInit(false)
	_, errOut := cli.run(1, "card", "clear", itoa(id), "--initialize")
	if !strings.Contains(errOut, "cannot be initialized") {
		t.Errorf("initializing a card whose type does not support it: %s", errOut)
	}
	var before *lanyard.Card
	if err := s.srv.Store.View(ctx, func(tx lanyard.Tx) (err error) { before, err = tx.CardByID(id); return }); err != nil {
		t.Fatal(err)
	}
	if before.AdminKeyVersion == 0 || before.PUKState != lanyard.PUKRandom {
		t.Fatalf("the refused wipe changed the card: key version %d, PUK %s", before.AdminKeyVersion, before.PUKState)
	}

	setInit(true)
	out, errOut := cli.run(0, "card", "clear", itoa(id), "--initialize")
	if !strings.Contains(out+errOut, "revoked") {
		t.Errorf("card clear --initialize said:\n%s\n%s", out, errOut)
	}
	var after *lanyard.Card
	if err := s.srv.Store.View(ctx, func(tx lanyard.Tx) (err error) { after, err = tx.CardByID(id); return }); err != nil {
		t.Fatal(err)
	}
	if after.State != lanyard.CardRevoked || after.AdminKeyVersion != 0 || after.PUKState != lanyard.PUKDefault || len(after.SealedPUK) != 0 {
		t.Errorf("after the wipe the server records %s, key version %d, PUK %s", after.State, after.AdminKeyVersion, after.PUKState)
	}

	s.agent.stop(t) // the card is the tools' now
	if st := runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "status"); strings.Contains(st, "Slot 9") {
		t.Errorf("yubico-piv-tool finds certificates on the wiped card:\n%s", st)
	}
	tk := openToken(t, s.reader)
	if objs := tk.run("--login", "--pin", "123456", "--list-objects"); strings.Contains(objs, "Object;") {
		t.Errorf("pkcs11-tool lists objects on the wiped card:\n%s", objs)
	}
	if out, err := exec.Command("yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "24681357").CombinedOutput(); err == nil {
		t.Errorf("the old PIN verifies on the wiped card:\n%s", out)
	}
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "123456")
	const factoryKey = "010203040506070801020304050607080102030405060708"
	runTool(t, "yubico-piv-tool", "-r", s.reader, "--key="+factoryKey, "-a", "set-mgm-key", "--new-key="+factoryKey)
}
