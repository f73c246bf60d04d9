package cardops_test

import (
	"context"
	"crypto/rsa"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

const alicePassword = "correct horse battery staple"

// newVirtualEnv is an issue env whose policy allows both TPM kinds, with
// alice's password set and her workstation 1 reporting no TPM yet.
func newVirtualEnv(t *testing.T, keys emu.KeyStore) *issueEnv {
	t.Helper()
	return newVirtualEnvFrom(t, &issueEnv{}, keys)
}

// newVirtualEnvFrom is newVirtualEnv from base (its service options: a
// clock the test controls).
func newVirtualEnvFrom(t *testing.T, base *issueEnv, keys emu.KeyStore) *issueEnv {
	t.Helper()
	e := newIssueEnvFrom(t, base)
	ctx := context.Background()
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{Password: ptr(alicePassword)}); err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.Identity.GetUser(ctx, e.admin, "alice")
	if err != nil {
		t.Fatal(err)
	}
	e.alice = &lanyard.Principal{User: u, Roles: u.Roles}
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "tpm-virtual-card", "platform-credential"}
	})
	ws := e.access.Workstation(1)
	ws.VirtualKeys = keys
	return e
}

func (e *issueEnv) options(t *testing.T, p *lanyard.Principal) map[lanyard.CardKind]cardops.VirtualOption {
	t.Helper()
	opts, err := e.svc.Cards.VirtualOptions(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[lanyard.CardKind]cardops.VirtualOption{}
	for _, o := range opts {
		out[o.Kind] = o
	}
	return out
}

func wantReason(t *testing.T, what string, o cardops.VirtualOption, part string) {
	t.Helper()
	if o.Available || !strings.Contains(o.Reason, part) {
		t.Errorf("%s: available %v, reason %q; want unavailable with %q", what, o.Available, o.Reason, part)
	}
}

// enrollTOTP enrolls and confirms alice's authenticator app and returns
// its secret.
func (e *issueEnv) enrollTOTP(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	setup, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Identity.ConfirmTOTP(ctx, e.alice, totpCode(t, setup.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	return setup.Secret
}

// totpCode is the authenticator app's code d from now. The service's
// clock is the real one here, so a second use within one 30 s step takes
// the next step's code, which the ±1 step window accepts.
func totpCode(t *testing.T, secret string, d time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Now().Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVirtualCardRules(t *testing.T) {
	e := newVirtualEnv(t, emu.SoftKeyStore{})
	ctx := context.Background()
	ws := e.access.Workstation(1)

	o := e.options(t, e.alice)
	wantReason(t, "switched off", o[lanyard.KindTPMVirtualCard], "turned off")
	wantReason(t, "switched off", o[lanyard.KindPlatformCredential], "turned off")
	if _, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("create while switched off: %v", err)
	}
	if _, err := e.svc.Catalog.PutFeatures(ctx, e.alice, lanyard.Features{TPMVirtualCard: true}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("a user switched features: %v", err)
	}
	if _, err := e.svc.Catalog.PutFeatures(ctx, e.admin, lanyard.Features{TPMVirtualCard: true, PlatformCredential: true}); err != nil {
		t.Fatal(err)
	}

	o = e.options(t, e.alice)
	wantReason(t, "TPM not reported", o[lanyard.KindTPMVirtualCard], "has not reported its TPM")
	ws.TPM = &lanyard.TPMState{Reason: "no TPM 2.0 device (/dev/tpmrm0 is missing)"}
	o = e.options(t, e.alice)
	wantReason(t, "no TPM", o[lanyard.KindTPMVirtualCard], "no usable TPM 2.0: no TPM 2.0 device")
	_, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard})
	if !lanyard.IsCode(err, lanyard.EUnavailable) || !strings.Contains(err.Error(), "no usable TPM") {
		t.Fatalf("create without a TPM: %v", err)
	}
	ws.TPM = &lanyard.TPMState{Usable: true, Manufacturer: "IBM", Kind: "simulator"}
	o = e.options(t, e.alice)
	wantReason(t, "no slot", o[lanyard.KindTPMVirtualCard], "no free reader slot")
	ws.VirtualSlots = 4
	o = e.options(t, e.alice)
	if !o[lanyard.KindTPMVirtualCard].Available || o[lanyard.KindTPMVirtualCard].CardType != "tpm-virtual-card" {
		t.Errorf("TPM option %+v, want available as tpm-virtual-card", o[lanyard.KindTPMVirtualCard])
	}
	wantReason(t, "no authenticator", o[lanyard.KindPlatformCredential], "enroll one in Self-Service")

	// A policy without the kind's card type.
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.AllowedCards = []string{"piv", "platform-credential"} })
	wantReason(t, "policy", e.options(t, e.alice)[lanyard.KindTPMVirtualCard], "allows no card type of kind TPM virtual smart card")
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "tpm-virtual-card", "platform-credential"}
	})

	// Another user cannot create on alice's workstation.
	bob := e.newUser(t, "bob")
	if _, err := e.svc.Cards.CreateVirtualCard(ctx, bob, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard}); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("bob created on alice's workstation: %v", err)
	}
	if _, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: "yubikey"}); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Fatalf("unknown kind: %v", err)
	}
}

func (e *issueEnv) newUser(t *testing.T, login string) *lanyard.Principal {
	t.Helper()
	u, err := e.svc.Identity.CreateUser(context.Background(), e.admin, identity.UserInput{Login: login, DisplayName: ptr(login), UPN: ptr(login + "@example.test")})
	if err != nil {
		t.Fatal(err)
	}
	return &lanyard.Principal{User: u, Roles: u.Roles}
}

func (e *issueEnv) enableTPM(t *testing.T) {
	t.Helper()
	ws := e.access.Workstation(1)
	ws.TPM, ws.VirtualSlots = &lanyard.TPMState{Usable: true, Kind: "simulator"}, 12
	if _, err := e.svc.Catalog.PutFeatures(context.Background(), e.admin, lanyard.Features{TPMVirtualCard: true, PlatformCredential: true}); err != nil {
		t.Fatal(err)
	}
}

// TestIssueTPMVirtualCard: Issue card → name → Create a TPM → Issue; the
// card holds an RSA key (the default template offers EC first; the card
// type holds RSA only), is never initialized, and an EC-only template is
// refused with a clear message before anything is written.
func TestIssueTPMVirtualCard(t *testing.T) {
	testIssueTPMVirtualCard(t, emu.SoftKeyStore{})
}

func testIssueTPMVirtualCard(t *testing.T, keys emu.KeyStore) {
	e := newVirtualEnv(t, keys)
	e.enableTPM(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.InitializeCard = true })

	cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard, Name: "Laptop TPM"})
	if err != nil {
		t.Fatal(err)
	}
	if cc.CardType != "tpm-virtual-card" || cc.Kind != lanyard.KindTPMVirtualCard || cc.State != lanyard.CardClean || cc.Owner != "alice" {
		t.Fatalf("created %+v", cc)
	}
	// The creation is the card's first operation, recorded done.
	if v, err := e.svc.Cards.GetCard(ctx, e.alice, cc.CardID); err != nil || len(v.Operations) != 1 ||
		v.Operations[0].Kind != lanyard.OpCreateVirtual || v.Operations[0].State != lanyard.OpDone {
		t.Fatalf("the new card's operations: %v %+v", err, v)
	}
	target := cardops.CardTarget{WorkstationID: 1, Reader: cc.Reader}
	opts, err := e.svc.Cards.IssueOptions(ctx, e.alice, target)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Initialize {
		t.Error("a TPM virtual smart card is offered initialization")
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357", Name: "Laptop TPM"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Card.State != lanyard.CardIssued || res.Card.ID != cc.CardID || res.Card.Name != "Laptop TPM" {
		t.Fatalf("issued %+v", res.Card)
	}
	card := e.access.Card(1, cc.Reader)
	pc := pivOf(t, card)
	cert, err := pc.Certificate(ctx, pivspec.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() != 2048 {
		t.Fatalf("slot 9a holds a %T, want RSA 2048", cert.PublicKey)
	}
	if err := pc.VerifyPIN(ctx, "24681357"); err != nil {
		t.Fatal(err)
	}
	// Its own random PUK, sealed on the server (issue 13, item 5).
	e.checkOwnPUK(t, card, res.Card.ID)

	// An EC-only required template: refused, nothing written.
	ec := lanyard.Template{Name: "ec-only", DisplayName: "EC only", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, ValidityDays: 30, Slot: "9c",
		KeyUsage: []string{lanyard.KUDigitalSignature}, Subject: lanyard.SubjectSpec{CommonName: "{display_name}"}}
	if _, err := e.svc.Catalog.CreateTemplate(ctx, e.admin, ec); err != nil {
		t.Fatal(err)
	}
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Certificates.Required = []string{"ec-only"} })
	cc2, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard})
	if err != nil {
		t.Fatal(err)
	}
	before := auditCount(t, e)
	_, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: cc2.Reader}})
	if !lanyard.IsCode(err, lanyard.EInvalid) || !strings.Contains(err.Error(), "cannot hold") {
		t.Fatalf("EC template on a TPM card: %v", err)
	}
	if n := auditCount(t, e); n != before {
		t.Errorf("a refused issue wrote %d audit events", n-before)
	}
}

func auditCount(t *testing.T, e *issueEnv) int {
	t.Helper()
	var n int
	err := e.st.View(context.Background(), func(tx lanyard.Tx) error {
		evs, err := tx.ListAudit(lanyard.AuditFilter{Limit: 100000})
		n = len(evs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newPlatformCredential is a virtual-card env where alice, enrolled in an
// authenticator app (secret), created platform credential "Hello" in
// target, not issued yet.
func newPlatformCredential(t *testing.T) (e *issueEnv, secret string, target cardops.CardTarget) {
	t.Helper()
	e = newVirtualEnv(t, emu.SoftKeyStore{})
	e.enableTPM(t)
	secret = e.enrollTOTP(t)
	cc, err := e.svc.Cards.CreateVirtualCard(context.Background(), e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindPlatformCredential, Name: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	return e, secret, cardops.CardTarget{WorkstationID: 1, Reader: cc.Reader}
}

// TestIssuePlatformCredential: Issue card → name → Create platform
// credential → Issue → Set up PIN (password + authenticator code), with
// the guide's limits: one per user per workstation, ten per computer.
func TestIssuePlatformCredential(t *testing.T) {
	e, secret, target := newPlatformCredential(t)
	ctx := context.Background()
	opts, err := e.svc.Cards.IssueOptions(ctx, e.alice, target)
	if err != nil {
		t.Fatal(err)
	}
	if !opts.PINSetup || opts.ShowUserPIN || opts.ShowAdminPIN {
		t.Fatalf("platform credential options %+v: want PIN setup and no PIN fields", opts.Options)
	}
	if _, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: "12345678"}); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Fatalf("a PIN chosen in the Issue dialog: %v", err)
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target})
	if err != nil {
		t.Fatal(err)
	}
	if res.Card.State != lanyard.CardPINSetup || res.RandomPIN != "" {
		t.Fatalf("after issue: state %s, random PIN shown %v; want pin_setup and none", res.Card.State, res.RandomPIN != "")
	}
	card := e.access.Card(1, target.Reader)
	if err := pivOf(t, card).VerifyPIN(ctx, "123456"); err == nil {
		t.Fatal("the factory PIN works on a platform credential before Set up PIN")
	}
	// The credential has its own random PUK, sealed on the server, which
	// Set up PIN uses below: the card type's default PUK is refused
	// (issue 13, item 5).
	e.checkOwnPUK(t, card, res.Card.ID)

	// Refusals change nothing.
	id := res.Card.ID
	for _, tc := range []struct {
		name string
		in   cardops.PINSetupInput
		code string
	}{
		{"wrong password", cardops.PINSetupInput{Password: "nope", Code: totpCode(t, secret, 0), PIN: "13572468"}, lanyard.EStepUpFailed},
		{"wrong code", cardops.PINSetupInput{Password: alicePassword, Code: "000000", PIN: "13572468"}, lanyard.EStepUpFailed},
		{"short PIN", cardops.PINSetupInput{Password: alicePassword, Code: totpCode(t, secret, 0), PIN: "123"}, lanyard.EInvalid},
	} {
		if _, err := e.svc.Cards.SetupPIN(ctx, e.alice, id, tc.in); !lanyard.IsCode(err, tc.code) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
		if v, _ := e.svc.Cards.GetCard(ctx, e.alice, id); v.State != lanyard.CardPINSetup {
			t.Fatalf("%s: state %s", tc.name, v.State)
		}
	}
	bob := e.newUser(t, "bob")
	if _, err := e.svc.Cards.SetupPIN(ctx, bob, id, cardops.PINSetupInput{Password: "x", Code: "123456", PIN: "13572468"}); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Errorf("bob set up alice's PIN: %v", err)
	}
	e.clearThrottle(t)
	v, err := e.svc.Cards.SetupPIN(ctx, e.alice, id, cardops.PINSetupInput{Password: alicePassword, Code: totpCode(t, secret, 30*time.Second), PIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardIssued {
		t.Fatalf("after Set up PIN: %s", v.State)
	}
	pc := pivOf(t, card)
	if err := pc.VerifyPIN(ctx, "13572468"); err != nil {
		t.Fatalf("the new PIN: %v", err)
	}
	if _, err := e.svc.Cards.SetupPIN(ctx, e.alice, id, cardops.PINSetupInput{Password: alicePassword, Code: totpCode(t, secret, 0), PIN: "11112222"}); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("a second Set up PIN: %v", err)
	}

	// One per user per workstation.
	_, err = e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindPlatformCredential})
	if !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "only one per workstation") {
		t.Fatalf("second platform credential: %v", err)
	}
	// Ten per computer: nine more users' credentials on workstation 1.
	err = e.st.Update(ctx, func(tx lanyard.Tx) error {
		for i := range 9 {
			u := &lanyard.User{Login: fmt.Sprintf("user%d", i), CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := tx.CreateUser(u); err != nil {
				return err
			}
			c := &lanyard.Card{Serial: fmt.Sprint(900 + i), CardType: "platform-credential", OwnerID: u.ID, State: lanyard.CardIssued,
				WorkstationID: 1, CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	carol := e.newUser(t, "carol")
	e.access.Workstation(1).OwnerID = carol.User.ID
	_, err = e.svc.Cards.CreateVirtualCard(ctx, carol, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindPlatformCredential})
	if !lanyard.IsCode(err, lanyard.EConflict) && !strings.Contains(err.Error(), "enroll") {
		t.Fatalf("eleventh platform credential: %v", err)
	}
	o := e.options(t, carol)[lanyard.KindPlatformCredential]
	wantReason(t, "ten per computer", o, "already has 10 platform credentials")
}

// clearThrottle lets the step-up try again after the refusals above.
func (e *issueEnv) clearThrottle(t *testing.T) {
	t.Helper()
	for _, k := range identity.LoginThrottleKeys("alice", "") {
		e.svc.Identity.LoginThrottle().Success(t.Context(), k)
	}
}
