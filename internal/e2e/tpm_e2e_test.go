//go:build integration

package e2e

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agent/agenttpm"
	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestTPMVirtualCards is the guide's "Issue virtual cards" on the real
// stack: the workstation's agent with the TPM 2.0 reference simulator and
// pcscd's two vpcd slots. Without a TPM, Self-Service says why and offers
// nothing; with one, the user issues a TPM virtual smart card (name →
// Create a TPM → Issue) and a platform credential (name → Create platform
// credential → Issue → Set up PIN with password and authenticator code)
// in Chromium; OpenSC finds both in pcscd and signs with each (openssl
// verifies); a wrong PIN counts against the TPM's dictionary-attack
// counter; after the agent restarts, both cards are back and still sign.
func TestTPMVirtualCards(t *testing.T) {
	s := newStack(t)
	slot1 := s.secondSlot()
	s.slots = []string{s.vpcd, slot1}
	seed := filepath.Join(t.TempDir(), "tpm.seed")
	s.newTPM = func() agent.TPM { return agenttpm.Open("none", nil) }

	_, tiaToken := s.user("tia")
	ctx := context.Background()
	var f apiv1.Features
	if _, err := s.admin.Do(ctx, http.MethodPut, "/api/v1/features", apiv1.Features{TPMVirtualCard: true, PlatformCredential: true}, &f); err != nil {
		t.Fatal(err)
	}
	allowVirtualCards(t, s.admin)
	s.pair("tia")

	b := mustBrowser(t, s.srv.URL)
	b.Login("tia", password)
	b.WaitFor("the virtual card options", `document.querySelector('#virtual [data-kind="tpm_virtual_card"]')`)
	if b.exists(`#virtual button[data-kind]`) {
		t.Fatal("Self-Service offers a virtual card on a workstation without a TPM")
	}
	if got := b.Text("#virtual"); !strings.Contains(got, "has no usable TPM 2.0: the agent was started with --tpm none") {
		t.Fatalf("Virtual cards without a TPM say %q", got)
	}
	b.Shot("tpm-01-no-tpm")

	// The workstation gets its TPM: the agent restarts with it.
	if err := s.agent.stop(t); err != nil {
		t.Fatal(err)
	}
	s.newTPM = func() agent.TPM { return agenttpm.Open("simulator:"+seed, nil) }
	s.restartAgent()
	s.waitState("reporting a usable TPM", func(st lanyard.WorkstationState) bool { return st.TPM != nil && st.TPM.Usable })

	// TPM virtual smart card: name → Create a TPM → Issue.
	b.Visit("/")
	b.WaitFor("Issue TPM virtual smart card", `document.querySelector('#virtual button[data-kind="tpm_virtual_card"]')`)
	b.CheckAccessible("Your cards with virtual cards")
	b.Shot("tpm-02-virtual-cards")
	b.Run("Issue TPM virtual smart card", chromedp.Click(`#virtual button[data-kind="tpm_virtual_card"]`))
	b.WaitFor("the card name step", `document.querySelector('#virtual-form')`)
	b.Run("name the card", chromedp.SendKeys("#virtual-name", "Work TPM"))
	b.Shot("tpm-03-name")
	b.Run("Create a TPM", chromedp.Click("#virtual-create"))
	b.WaitFor("the Issue card form on the new card", `document.querySelector('#issue-form')`)
	if got := b.Text("#issue-form"); !strings.Contains(got, "tpm-virtual-card") {
		t.Errorf("the Issue card dialog does not name the card type: %q", got)
	}
	b.CheckAccessible("Issue card dialog of a TPM virtual smart card")
	b.Run("User PIN", chromedp.SendKeys("#user-pin", "13572468"), chromedp.SendKeys("#user-pin2", "13572468"))
	b.Run("Issue", chromedp.Click(`#issue-form button[type=submit]`))
	b.WaitFor("the card issued", `(document.querySelector('#issue-result-title')?.textContent || '') === 'Card issued' || document.querySelector('#issue-form .error[role=alert]')?.textContent`)
	if got := b.Text("#issue-body"); !strings.Contains(got, "Card issued") {
		t.Fatalf("issuing the TPM virtual smart card: %q", got)
	}
	b.Shot("tpm-04-issued")

	// Platform credential: an authenticator app first (its own page is
	// tested in internal/web/ui), then name → Create platform credential
	// → Issue → Set up PIN.
	user := mustClient(t, s.srv.URL, tiaToken)
	secret := enrollAuthenticator(t, user)
	b.Visit("/")
	b.WaitFor("Issue platform credential", `document.querySelector('#virtual button[data-kind="platform_credential"]')`)
	b.Run("Issue platform credential", chromedp.Click(`#virtual button[data-kind="platform_credential"]`))
	b.WaitFor("the card name step", `document.querySelector('#virtual-form')`)
	b.Run("name the credential", chromedp.SendKeys("#virtual-name", "Hello"))
	b.Run("Create platform credential", chromedp.Click("#virtual-create"))
	b.WaitFor("the Issue card form on the new credential", `document.querySelector('#issue-form')`)
	if b.exists("#user-pin") || !b.exists("#pin-setup-note") {
		t.Error("the platform credential's Issue dialog asks for a PIN, or does not say it is set up next")
	}
	b.Run("Issue", chromedp.Click(`#issue-form button[type=submit]`))
	b.WaitFor("Set up PIN", `document.querySelector('#pin-setup-form') || document.querySelector('#issue-form .error[role=alert]')?.textContent`)
	if !b.exists("#pin-setup-form") {
		t.Fatalf("issuing the platform credential: %q", b.Text("#issue-body"))
	}
	b.CheckAccessible("Set up PIN")
	b.Shot("tpm-05-set-up-pin")
	// The confirmation used this 30 s step's code; the next step's is
	// within the window and not a replay.
	b.Run("password, code and PIN",
		chromedp.SendKeys("#setup-password", password), chromedp.SendKeys("#setup-code", codeAt(t, secret, 30*time.Second)),
		chromedp.SendKeys("#setup-pin", "24680246"), chromedp.SendKeys("#setup-pin2", "24680246"))
	b.Run("Set up PIN", chromedp.Click(`#pin-setup-form button[type=submit]`))
	b.WaitFor("PIN set up", `document.querySelector('#pin-setup-done') || document.querySelector('#pin-setup-error').textContent`)
	if !b.exists("#pin-setup-done") {
		t.Fatalf("Set up PIN: %q", b.Text("#pin-setup-error"))
	}
	b.Shot("tpm-06-pin-set-up")
	b.CheckConsole()

	// Both cards are in pcscd: OpenSC signs with each.
	tpmCard, platform := virtualCards(t, user)
	for _, c := range []*apiv1.ConnectedCard{tpmCard, platform} {
		if c.State != lanyard.CardIssued {
			t.Fatalf("%s %s is %s, want issued", c.CardType, c.Serial, c.State)
		}
	}
	tk := openToken(t, tpmCard.Reader)
	cert := tk.certs()["9a"]
	if cert == nil || cert.PublicKeyAlgorithm != x509.RSA {
		t.Fatalf("the TPM virtual smart card's slot 9a: %v", cert)
	}
	tk.sign("9a", "13572468", cert)
	pt := openToken(t, platform.Reader)
	pcert := pt.certs()["9a"]
	if pcert == nil || pcert.PublicKeyAlgorithm != x509.RSA {
		t.Fatalf("the platform credential's slot 9a: %v", pcert)
	}
	pt.sign("9a", "24680246", pcert)
	// Each has its own PUK (issue 13): a standard tool cannot reset the
	// PIN with the factory one.
	refusesFactoryPUK(t, tpmCard.Reader)
	refusesFactoryPUK(t, platform.Reader)

	// A wrong PIN: refused, and the TPM counts it.
	tpm := s.agent.tpm.(*agenttpm.TPM)
	before, err := tpm.Info()
	if err != nil {
		t.Fatal(err)
	}
	out, err := tk.try("--login", "--pin", "99999999", "--sign", "--id", pkcs11IDs["9a"], "-m", "SHA256-RSA-PKCS",
		"-i", "/dev/null", "-o", filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(out, "CKR_PIN_INCORRECT") {
		t.Fatalf("signing with a wrong PIN: %v\n%s", err, out)
	}
	after, err := tpm.Info()
	if err != nil {
		t.Fatal(err)
	}
	if after.LockoutCounter <= before.LockoutCounter {
		t.Errorf("the TPM's dictionary-attack counter stayed at %d after a wrong PIN", after.LockoutCounter)
	}

	// The agent restarts: the cards come back from its state directory
	// with their keys in the TPM.
	if err := s.agent.stop(t); err != nil {
		t.Fatal(err)
	}
	waitPortEmpty(t, s.port)
	waitPortEmpty(t, s.port+1)
	s.restartAgent()
	s.waitState("showing both virtual cards again", func(st lanyard.WorkstationState) bool {
		n := 0
		for _, r := range st.Readers {
			if r.Present && (r.Serial == tpmCard.Serial || r.Serial == platform.Serial) {
				n++
			}
		}
		return n == 2
	})
	tpmCard, _ = virtualCards(t, user)
	openToken(t, tpmCard.Reader).sign("9a", "13572468", cert)
	if st, err := agent.QueryStatus(s.agentDir); err != nil || len(st.VirtualCards) != 2 || st.TPM == nil || !st.TPM.Usable {
		t.Errorf("agent status: %+v, %v", st, err)
	}

}

// allowVirtualCards lets the default policy issue both TPM card types.
func allowVirtualCards(t *testing.T, admin *client.Client) {
	t.Helper()
	ctx := context.Background()
	var p lanyard.Policy
	if err := admin.Get(ctx, "/api/v1/policies/default", &p); err != nil {
		t.Fatal(err)
	}
	p.Settings.AllowedCards = []string{"piv", "tpm-virtual-card", "platform-credential"}
	if _, err := admin.Do(ctx, http.MethodPut, "/api/v1/policies/default", &p, nil); err != nil {
		t.Fatal(err)
	}
}

// enrollAuthenticator enrolls and confirms the user's authenticator app
// through the API and returns its secret.
func enrollAuthenticator(t *testing.T, user *client.Client) string {
	t.Helper()
	ctx := context.Background()
	var setup apiv1.TOTPSetup
	if _, err := user.Post(ctx, "/api/v1/me/totp", nil, &setup); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Post(ctx, "/api/v1/me/totp/confirm", map[string]string{"code": codeAt(t, setup.Secret, 0)}, nil); err != nil {
		t.Fatal(err)
	}
	return setup.Secret
}

// codeAt is the authenticator app's code d from now.
func codeAt(t *testing.T, secret string, d time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Now().Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// virtualCards returns the user's TPM virtual smart card and platform
// credential as connected cards.
func virtualCards(t *testing.T, user *client.Client) (tpmCard, platform *apiv1.ConnectedCard) {
	t.Helper()
	var cards []*apiv1.ConnectedCard
	if err := user.Get(context.Background(), "/api/v1/connected-cards", &cards); err != nil {
		t.Fatal(err)
	}
	for _, c := range cards {
		switch c.Kind {
		case lanyard.KindTPMVirtualCard:
			tpmCard = c
		case lanyard.KindPlatformCredential:
			platform = c
		}
	}
	if tpmCard == nil || platform == nil {
		t.Fatalf("connected cards %+v: want a TPM virtual smart card and a platform credential", cards)
	}
	return tpmCard, platform
}

// waitPortEmpty waits until pcscd shows no card in the reader of the vpcd
// slot at port.
func waitPortEmpty(t *testing.T, port int) {
	t.Helper()
	row := regexp.MustCompile(`^\d+\s+(Yes|No)\s+(.*\S)\s*$`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := runTool(t, "opensc-tool", "--list-readers")
		present := false
		for _, line := range strings.Split(out, "\n") {
			if m := row.FindStringSubmatch(line); m != nil {
				if _, ok := vpcdtest.Reader([]string{m[2]}, port); ok {
					present = m[1] == "Yes"
				}
			}
		}
		if !present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pcscd still shows a card in vpcd slot %d after 10 s:\n%s", port, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDestroyVirtualCard: a TPM virtual card the server could not
// register is removed by its agent on request (the destroy message): it
// leaves its vpcd slot, which is free again, its sealed state file is
// deleted, and the agent's status no longer lists it. A serial the agent
// did not make is refused.
func TestDestroyVirtualCard(t *testing.T) {
	s := newStack(t)
	slot1 := s.secondSlot()
	s.slots = []string{s.vpcd, slot1}
	seed := filepath.Join(t.TempDir(), "tpm.seed")
	s.newTPM = func() agent.TPM { return agenttpm.Open("simulator:"+seed, nil) }
	s.user("una")
	s.pair("una")
	st := s.waitState("reporting a usable TPM", func(st lanyard.WorkstationState) bool { return st.TPM != nil && st.TPM.Usable })
	slots := st.VirtualSlots
	ctx := context.Background()

	r, err := s.hub.CreateVirtual(ctx, s.ws, agentproto.KindTPMVirtualCard)
	if err != nil {
		t.Fatal(err)
	}
	s.waitState("one slot taken", func(st lanyard.WorkstationState) bool { return st.VirtualSlots == slots-1 })
	files, _ := filepath.Glob(filepath.Join(s.agentDir, "virtual", "*.card"))
	if len(files) != 1 {
		t.Fatalf("virtual card files after the creation: %v", files)
	}

	if err := s.hub.DestroyVirtual(ctx, s.ws, r.Serial); err != nil {
		t.Fatal(err)
	}
	s.waitState("the card gone and its slot free", func(st lanyard.WorkstationState) bool {
		for _, rd := range st.Readers {
			if rd.Present && rd.Serial == r.Serial {
				return false
			}
		}
		return st.VirtualSlots == slots
	})
	if files, _ := filepath.Glob(filepath.Join(s.agentDir, "virtual", "*.card")); len(files) != 0 {
		t.Errorf("virtual card files after the destroy: %v", files)
	}
	if st, err := agent.QueryStatus(s.agentDir); err != nil || len(st.VirtualCards) != 0 {
		t.Errorf("agent status after the destroy: %+v, %v", st, err)
	}
	if err := s.hub.DestroyVirtual(ctx, s.ws, r.Serial); !errors.Is(err, agenthub.ErrNoReader) {
		t.Errorf("destroying it again: %v, want %v", err, agenthub.ErrNoReader)
	}
}
