package cardops_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

const reader = "Lanyard test reader 00"

// issueEnv is a set-up server (default policy: smartcard-logon required,
// secure-email and document-signing optional) with user alice at her
// workstation 1, which holds a factory-fresh emulated card.
type issueEnv struct {
	svc    *service.Service
	st     lanyard.Store
	alice  *lanyard.Principal
	admin  *lanyard.Principal
	access *cardtest.Access
	card   *emu.Card
	// opts builds the service (servicetest): its notifier, log, clock
	// and store wrapper; start keeps its data directory and master key in
	// it for a restart.
	opts servicetest.Options
	// logFile holds what opts.Log wrote, when set.
	logFile string
	// cardOpts make alice's card (emu.WithoutLanyardExtensions: a
	// standard PIV card).
	cardOpts []emu.Option
	// afterIssue, when set, checks more after testIssueInterruptedAnywhere
	// checked a finished issue (card ID, User PIN).
	afterIssue func(t *testing.T, cardID int64, pin string)
}

func newIssueEnv(t *testing.T) *issueEnv {
	t.Helper()
	return newIssueEnvFrom(t, &issueEnv{})
}

func newIssueEnvFrom(t *testing.T, e *issueEnv) *issueEnv {
	t.Helper()
	e.access = cardtest.New()
	e.start(t)
	name := "Alice Example"
	u, err := e.svc.Identity.CreateUser(context.Background(), e.admin, identity.UserInput{Login: "alice", DisplayName: &name, UPN: ptr("alice@example.test"), Email: ptr("alice@example.test")})
	if err != nil {
		t.Fatal(err)
	}
	e.alice = &lanyard.Principal{User: u, Roles: u.Roles, Session: true} // her browser session
	e.card = e.access.AddWith(t, 1, u.ID, reader, e.cardOpts...)
	return e
}

// start opens the service on the env's data directory: a first start
// (with Setup), or again after a "restart" (without).
func (e *issueEnv) start(t *testing.T) {
	t.Helper()
	o := e.opts
	o.Cards, o.NoSetup = e.access, e.svc != nil
	s := servicetest.New(t, o)
	e.opts.Dir, e.opts.Key = s.Dir, s.Key
	e.svc, e.st = s.Service, s.Store
	if s.Admin != nil {
		e.admin = s.Admin
	}
}

func ptr[T any](v T) *T { return &v }

func (e *issueEnv) target() cardops.CardTarget {
	return cardops.CardTarget{WorkstationID: 1, Reader: reader}
}

func (e *issueEnv) setPolicy(t *testing.T, change func(*lanyard.PolicySettings)) {
	t.Helper()
	ctx := context.Background()
	p, err := e.svc.Catalog.GetPolicy(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	change(&p.Settings)
	if _, err := e.svc.Catalog.UpdatePolicy(ctx, e.admin, "default", p); err != nil {
		t.Fatal(err)
	}
}

// pivOf is a client on the card straight through the emulator, as a
// middleware on the workstation would see it after the issue.
func pivOf(t *testing.T, c *emu.Card) *piv.Card {
	t.Helper()
	pc, err := piv.New(cardtest.Transport(c), piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	return pc
}

// checkIssued verifies what an issue must leave: every certificate of the
// card recorded as written is on the card in its slot, matches the slot's
// key, chains to the built-in CA and signs under the PIN; nothing the
// server does not know of is on the card; the audit chain verifies.
func (e *issueEnv) checkIssued(t *testing.T, cardID int64, pin string, wantTemplates ...string) {
	t.Helper()
	ctx := context.Background()
	v, err := e.svc.Cards.GetCard(ctx, e.alice, cardID)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardIssued {
		t.Fatalf("card state %s, want issued", v.State)
	}
	cas, err := e.svc.PKI.ListCAs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	inter := x509.NewCertPool()
	for rest := []byte(cas[0].Chain); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, _ := x509.ParseCertificate(b.Bytes)
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	pc := pivOf(t, e.card)
	if err := pc.VerifyPIN(ctx, pin); err != nil {
		t.Fatalf("the card refuses PIN %q: %v", pin, err)
	}
	var got []string
	for _, cc := range v.Certificates {
		if cc.Source != lanyard.SourceManaged || cc.Status == lanyard.CertRevoked {
			continue // tracked, or left from an earlier issue of the card
		}
		if cc.Status != lanyard.CertWritten {
			t.Fatalf("certificate %s (%s) is %s, want written", cc.Serial, cc.Template, cc.Status)
		}
		got = append(got, cc.Template)
		slot, _ := personalize.ParseSlot(cc.Slot)
		onCard, err := pc.Certificate(ctx, slot)
		if err != nil {
			t.Fatalf("slot %s: %v", cc.Slot, err)
		}
		if onCard.SerialNumber.Text(16) != cc.Serial {
			t.Fatalf("slot %s holds certificate %s, the server recorded %s", cc.Slot, onCard.SerialNumber.Text(16), cc.Serial)
		}
		if _, err := onCard.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("certificate in slot %s does not chain to the built-in CA: %v", cc.Slot, err)
		}
		if err := pc.VerifyPIN(ctx, pin); err != nil { // 9C asks for the PIN before every signature
			t.Fatal(err)
		}
		digest := sha256.Sum256([]byte("lanyard"))
		sig, err := pc.Sign(ctx, slot, onCard.PublicKey, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("slot %s does not sign: %v", cc.Slot, err)
		}
		if err := onCard.CheckSignature(sigAlg(onCard), []byte("lanyard"), sig); err != nil {
			t.Fatalf("slot %s signature does not verify: %v", cc.Slot, err)
		}
	}
	if len(got) != len(wantTemplates) {
		t.Fatalf("written templates %v, want %v", got, wantTemplates)
	}
	for i := range got {
		if got[i] != wantTemplates[i] {
			t.Fatalf("written templates %v, want %v", got, wantTemplates)
		}
	}
	// Every certificate on the card is one the server knows.
	all, err := pc.Certificates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		if _, _, err := e.svc.PKI.GetCertificate(ctx, e.admin, "", sc.Certificate.SerialNumber.Text(16)); err != nil && !isTracked(v, sc.Certificate) {
			t.Fatalf("slot %s holds certificate %x that the server does not know", sc.Slot, sc.Certificate.SerialNumber)
		}
	}
	storetest.CheckAuditChain(t, e.st)
}

func isTracked(v *cardops.CardView, c *x509.Certificate) bool {
	for _, cc := range v.Certificates {
		if cc.Source == lanyard.SourceTracked && cc.Serial == c.SerialNumber.Text(16) {
			return true
		}
	}
	return false
}

func sigAlg(c *x509.Certificate) x509.SignatureAlgorithm {
	if c.PublicKeyAlgorithm == x509.RSA {
		return x509.SHA256WithRSA
	}
	return x509.ECDSAWithSHA256
}

// The guide's "Not initialized" variant on a card Lanyard does not know:
// User PIN and the card's current Admin PIN entered (it is not the card
// type's default), an optional template chosen.
func TestIssueCardNotInitialized(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	setPUKBefore(t, e.card, "11223344")
	o, err := e.svc.Cards.IssueOptions(ctx, e.alice, e.target())
	if err != nil {
		t.Fatal(err)
	}
	if o.Initialize || !o.ShowUserPIN || !o.ShowAdminPIN || o.Registered || len(o.Required) != 1 || o.Required[0].Name != "smartcard-logon" || !o.OptionalSelectable {
		t.Fatalf("dialog options %+v", o.Options)
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"},
		UserPIN: "24681357", AdminPIN: "11223344", Name: "My card"})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "issued" || res.RandomPIN != "" || !res.SecretQuestionsNeeded || res.Card.Name != "My card" {
		t.Fatalf("result %+v", res)
	}
	e.checkIssued(t, res.Card.ID, "24681357", "smartcard-logon", "secure-email")

	// The card's management key is now its diversified key, and only the
	// server can derive it, from the identifier the store knows the card
	// by; the PUK is the card's own, not the Admin PIN entered.
	pc := pivOf(t, e.card)
	if _, err := pc.Authenticate(ctx, pivspec.AlgAES192, bytes.Repeat([]byte{1}, 24)); err == nil {
		t.Fatal("the card accepts an arbitrary management key")
	}
	_, secret, _ := e.svc.Cards.AdminMaster(ctx)
	id, _ := personalize.Identify(ctx, pc)
	k, _ := personalize.Diversified(personalize.Master{Version: 1, Secret: secret}, lanyard.AdminKeyAES192, id.KeyIdent())
	if _, err := personalize.Authenticate(ctx, pc, k); err != nil {
		t.Fatalf("the diversified key does not open the card: %v", err)
	}
	e.checkOwnPUK(t, e.card, res.Card.ID, "11223344")
	// Your cards lists it; the card is not issued twice.
	cards, err := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{})
	if err != nil || len(cards) != 1 || cards[0].Owner != "alice" || len(cards[0].Certificates) != 2 {
		t.Fatalf("ListCards: %v %+v", err, cards)
	}
	_, err = e.svc.Cards.IssueOptions(ctx, e.alice, e.target())
	wantCode(t, err, lanyard.EConflict)
}

// The "Initialized" variant with a random user PIN shown once: the card's
// earlier contents are gone.
func TestIssueCardInitializedRandomPIN(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Issuance.InitializeCard = true
		s.Issuance.RandomUserPIN = true
	})
	useCardBefore(t, e) // other PIN, a key in 9E
	o, err := e.svc.Cards.IssueOptions(ctx, e.alice, e.target())
	if err != nil {
		t.Fatal(err)
	}
	if !o.Initialize || o.Caution != issuance.InitializeCaution || o.ShowUserPIN || !o.RandomPIN {
		t.Fatalf("dialog options %+v", o.Options)
	}
	_, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "12345678"})
	wantCode(t, err, lanyard.EInvalid)
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"document-signing"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RandomPIN) != 8 {
		t.Fatalf("random PIN %q, want 8 digits shown once", res.RandomPIN)
	}
	e.checkIssued(t, res.Card.ID, res.RandomPIN, "smartcard-logon", "document-signing")
	if _, err := pivOf(t, e.card).Metadata(ctx, pivspec.SlotCardAuthentication.Ref()); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("slot 9E after initialization: %v, want empty", err)
	}
	// The PIN is shown once: the card record and the audit log do not hold it.
	for _, ev := range storetest.CheckAuditChain(t, e.st) {
		if bytes.Contains(ev.Details, []byte(res.RandomPIN)) {
			t.Fatalf("audit event %s holds the random PIN", ev.Action)
		}
	}
}

// A card pulled at any point of the issue — after every possible number
// of APDUs — leaves the operation interrupted with everything issued known
// to the server; Continue card issue then finishes it, with exactly the
// planned certificates.
func TestIssueCardPulledAnywhereThenContinued(t *testing.T) {
	testIssueInterruptedAnywhere(t, func(a *cardtest.Access, n int) { a.FailAfter(1, reader, n) }, nil)
}

// The same with "Initialize card": the card, used before, is reset first.
func TestIssueCardInitializedInterruptedAnywhereThenContinued(t *testing.T) {
	usedBefore := func(t *testing.T, e *issueEnv) {
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.InitializeCard = true })
		useCardBefore(t, e)
	}
	t.Run("pulled", func(t *testing.T) {
		testIssueInterruptedAnywhere(t, func(a *cardtest.Access, n int) { a.FailAfter(1, reader, n) }, usedBefore)
	})
	t.Run("reply lost", func(t *testing.T) {
		testIssueInterruptedAnywhere(t, func(a *cardtest.Access, n int) { a.LoseReplyAfter(1, reader, n) }, usedBefore)
	})
}

// The same with the reply lost instead: the card carried out the command
// (changed the Admin PIN, wrote a certificate, generated a key) and only
// the server did not hear it. Continue must not depend on knowing.
func TestIssueCardReplyLostAnywhereThenContinued(t *testing.T) {
	testIssueInterruptedAnywhere(t, func(a *cardtest.Access, n int) { a.LoseReplyAfter(1, reader, n) }, nil)
}

// The same with a random User PIN: Continue draws another, which it
// cannot guess is on the card; it sets it with the Admin PIN instead.
func TestIssueCardRandomPINReplyLostAnywhereThenContinued(t *testing.T) {
	testIssueInterruptedAnywhere(t, func(a *cardtest.Access, n int) { a.LoseReplyAfter(1, reader, n) }, func(t *testing.T, e *issueEnv) {
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.RandomUserPIN = true })
	})
}

func testIssueInterruptedAnywhere(t *testing.T, interrupt func(a *cardtest.Access, afterAPDUs int), setup func(*testing.T, *issueEnv)) {
	const adminPIN = "11223344" // the card's PUK before the issue, entered as its current Admin PIN
	userPIN, wantPIN := "13572468", "13572468"
	completed := false
	for after := 1; !completed && after < 200; after++ {
		t.Run(fmt.Sprintf("after-%d-APDUs", after), func(t *testing.T) {
			e := newLoggedIssueEnv(t) // the PUK must not reach the log of an interrupted run either
			ctx := context.Background()
			if setup != nil {
				setup(t, e)
				p, err := e.svc.Catalog.GetPolicy(ctx, "default")
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case p.Settings.Issuance.RandomUserPIN:
					userPIN, wantPIN = "", "" // the one shown at the end
				case p.Settings.Issuance.InitializeCard:
					userPIN, wantPIN = "", pivspec.DefaultPIN // the card type's
				}
			}
			setPUKBefore(t, e.card, adminPIN)
			interrupt(e.access, after)
			_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: userPIN, AdminPIN: adminPIN})
			if err == nil {
				completed = true // the whole issue takes fewer APDUs: every point was covered
				return
			}
			cards, _ := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{})
			if len(cards) == 0 {
				// Pulled before the card was recorded: nothing to continue,
				// nothing issued; a new issue starts afresh.
				res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: userPIN, AdminPIN: adminPIN})
				if err != nil {
					t.Fatal(err)
				}
				e.checkIssued(t, res.Card.ID, cmp.Or(wantPIN, res.RandomPIN), "smartcard-logon", "secure-email")
				e.checkOwnPUK(t, e.card, res.Card.ID, adminPIN)
				if e.afterIssue != nil {
					e.afterIssue(t, res.Card.ID, cmp.Or(wantPIN, res.RandomPIN))
				}
				return
			}
			if cards[0].State != lanyard.CardAssigned {
				t.Fatalf("card state %s after a pulled card, want assigned", cards[0].State)
			}
			v, _ := e.svc.Cards.GetCard(ctx, e.alice, cards[0].ID)
			if len(v.Operations) == 0 || v.Operations[0].State != lanyard.OpInterrupted {
				t.Fatalf("operations %+v, want the last interrupted", v.Operations)
			}
			_, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: userPIN})
			wantCode(t, err, lanyard.EConflict)
			res, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, cards[0].ID, cardops.ContinueInput{CardTarget: e.target(), UserPIN: userPIN, AdminPIN: adminPIN})
			if err != nil {
				t.Fatal(err)
			}
			e.checkIssued(t, res.Card.ID, cmp.Or(wantPIN, res.RandomPIN), "smartcard-logon", "secure-email")
			e.checkOwnPUK(t, e.card, res.Card.ID, adminPIN)
			if e.afterIssue != nil {
				e.afterIssue(t, res.Card.ID, cmp.Or(wantPIN, res.RandomPIN))
			}
		})
	}
}

// useCardBefore has someone use alice's card before the issue: another
// PIN, and a key in slot 9E.
func useCardBefore(t *testing.T, e *issueEnv) {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, e.card)
	if err := pc.ChangePIN(ctx, "123456", "999999"); err != nil {
		t.Fatal(err)
	}
	adm, err := pc.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.GenerateKey(ctx, pivspec.SlotCardAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{}); err != nil {
		t.Fatal(err)
	}
}

// checkPUK checks that the card's PUK is puk, with all its tries left.
func checkPUK(t *testing.T, c *emu.Card, puk string) {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, c)
	if err := pc.ChangePUK(ctx, puk, puk); err != nil {
		t.Fatal("the card's Admin PIN is not the expected one:", err) // never the PUK itself
	}
}

// setPUKBefore gives a factory-fresh card another PUK, as a card used
// before Lanyard has.
func setPUKBefore(t *testing.T, c *emu.Card, puk string) {
	t.Helper()
	if err := pivOf(t, c).ChangePUK(context.Background(), pivspec.DefaultPUK, puk); err != nil {
		t.Fatal(err)
	}
}

// checkOwnPUK checks that card id left the issue with its own random PUK,
// sealed by the server: the card refuses the card type's default PUK and
// the shared ones given, and accepts the sealed one (tried last, which
// restores the tries). The PUK is never printed, and neither the audit
// log nor the operation records hold it.
func (e *issueEnv) checkOwnPUK(t *testing.T, c *emu.Card, id int64, shared ...string) {
	t.Helper()
	ctx := context.Background()
	puk, err := e.svc.Cards.CardPUK(ctx, id)
	if err != nil || len(puk) != 8 {
		t.Fatalf("card %d has no sealed PUK of 8 characters: %v", id, err)
	}
	v, err := e.svc.Cards.GetCard(ctx, e.admin, id)
	if err != nil || v.PUKState != lanyard.PUKRandom {
		t.Fatalf("card %d PUK state: %v %+v", id, err, v)
	}
	pc := pivOf(t, c)
	for _, s := range append([]string{pivspec.DefaultPUK}, shared...) {
		if err := pc.ChangePUK(ctx, s, s); err == nil {
			t.Fatal("the card still accepts a shared PUK after the issue")
		}
	}
	checkPUK(t, c, puk)
	if e.logFile != "" {
		if b, err := os.ReadFile(e.logFile); err != nil || bytes.Contains(b, []byte(puk)) {
			t.Fatalf("the server's log holds the card's PUK (or cannot be read: %v)", err)
		}
	}
	for _, ev := range storetest.CheckAuditChain(t, e.st) {
		if bytes.Contains(ev.Details, []byte(puk)) {
			t.Fatalf("audit event %s holds the card's PUK", ev.Action)
		}
	}
	for _, op := range v.Operations {
		if bytes.Contains(op.Data, []byte(puk)) {
			t.Fatalf("operation %d's record holds the card's PUK in clear", op.ID)
		}
	}
}

// A server that stops mid-issue leaves a running operation; the next start
// marks it interrupted and the user continues it.
func TestIssueCardServerRestart(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.access.FailAfter(1, reader, 10)
	if _, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "13572468"}); err == nil {
		t.Fatal("the issue survived the card leaving")
	}
	cards, _ := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{})
	// Make it look like the server died in the middle: the operation is
	// still running when the next server starts.
	storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error {
		ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cards[0].ID})
		if err != nil {
			return err
		}
		prev := ops[0].UpdatedAt
		ops[0].State, ops[0].Error = lanyard.OpRunning, ""
		return tx.UpdateOperation(ops[0], prev)
	})
	e.svc.Close()
	e.st.Close()
	e.start(t)
	n, err := e.svc.Cards.RecoverOperations(ctx, 0)
	if err != nil || n != 1 {
		t.Fatalf("RecoverOperations: %d %v, want 1", n, err)
	}
	res, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, cards[0].ID, cardops.ContinueInput{CardTarget: e.target(), UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkIssued(t, res.Card.ID, "13572468", "smartcard-logon")
}

// Policy rules the dialog enforces, end to end through the service.
func TestIssueCardPolicyRules(t *testing.T) {
	ctx := context.Background()
	t.Run("registered card: no Admin PIN field", func(t *testing.T) {
		e := newIssueEnv(t)
		serial, _ := cardtest.Serial(e.card)
		if _, err := e.svc.Cards.RegisterCard(ctx, e.admin, cardops.RegisterCardInput{Serial: serial, CardType: "piv"}); err != nil {
			t.Fatal(err)
		}
		o, err := e.svc.Cards.IssueOptions(ctx, e.alice, e.target())
		if err != nil {
			t.Fatal(err)
		}
		if o.ShowAdminPIN || !o.Registered {
			t.Fatalf("registered card shows the Admin PIN: %+v", o.Options)
		}
		_, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), AdminPIN: "12345678"})
		wantCode(t, err, lanyard.EInvalid)
	})
	t.Run("users may not add cards", func(t *testing.T) {
		e := newIssueEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.AllowUserAddCards = false })
		_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target()})
		wantCode(t, err, lanyard.EForbidden)
	})
	t.Run("no Issue card permission", func(t *testing.T) {
		e := newIssueEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssueCard = false })
		_, err := e.svc.Cards.IssueOptions(ctx, e.alice, e.target())
		wantCode(t, err, lanyard.EForbidden)
	})
	t.Run("optional templates not selectable", func(t *testing.T) {
		e := newIssueEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.SelectOptionalCertificates = false })
		_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}})
		wantCode(t, err, lanyard.EForbidden)
	})
	t.Run("maximum cards per user", func(t *testing.T) {
		e := newIssueEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.MaxCardsPerUser = 1 })
		if _, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target()}); err != nil {
			t.Fatal(err)
		}
		e.access.Add(t, 2, e.alice.User.ID, "second reader")
		_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 2, Reader: "second reader"}})
		wantCode(t, err, lanyard.EConflict)
	})
	t.Run("another user's workstation", func(t *testing.T) {
		e := newIssueEnv(t)
		bob, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Cards.IssueOptions(ctx, &lanyard.Principal{User: bob, Roles: bob.Roles}, e.target())
		wantCode(t, err, lanyard.ENotFound)
	})
	t.Run("PIN of the wrong length changes nothing", func(t *testing.T) {
		e := newIssueEnv(t)
		_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "123"})
		wantCode(t, err, lanyard.EInvalid)
		if cards, _ := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{}); len(cards) != 0 {
			t.Fatalf("a refused issue registered the card: %+v", cards)
		}
	})
	t.Run("tracked third-party certificates", func(t *testing.T) {
		e := newIssueEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) {
			s.Workflow.SearchTrackedCertificates, s.Workflow.AllowUserSelectTracked = true, true
		})
		third := putThirdParty(t, e.card, pivspec.SlotCardAuthentication)
		o, err := e.svc.Cards.IssueOptions(ctx, e.alice, e.target())
		if err != nil {
			t.Fatal(err)
		}
		if !o.TrackedSelectable || len(o.Tracked) != 1 || o.Tracked[0].Slot != "9e" {
			t.Fatalf("tracked offered: %+v", o.Tracked)
		}
		res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Tracked: []string{"9e"}})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := e.svc.Cards.GetCard(ctx, e.alice, res.Card.ID)
		if !isTracked(v, third) {
			t.Fatalf("the third-party certificate is not tracked: %+v", v.Certificates)
		}
	})
	// RFC 5280 4.1.2.2: a serial number is unique per issuer only. Two
	// third-party certificates with one serial from two issuers are two
	// certificates, and both are tracked.
	t.Run("tracked certificates of two issuers with one serial", func(t *testing.T) {
		e := newIssueEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) {
			s.Workflow.SearchTrackedCertificates, s.Workflow.AllowUserSelectTracked = true, true
		})
		first := putThirdPartyFrom(t, e.card, pivspec.SlotCardAuthentication, "Other system")
		second := putThirdPartyFrom(t, e.card, pivspec.SlotKeyManagement, "Yet another system")
		res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Tracked: []string{"9e", "9d"}})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := e.svc.Cards.GetCard(ctx, e.alice, res.Card.ID)
		tracked := 0
		for _, cc := range v.Certificates {
			if cc.Source == lanyard.SourceTracked {
				tracked++
			}
		}
		if !isTracked(v, first) || !isTracked(v, second) || tracked != 2 {
			t.Fatalf("tracked %d of the two issuers' certificates: %+v", tracked, v.Certificates)
		}
	})
	// A certificate is public: bob copies alice's tracked certificate
	// onto his card. His issue does not take it over; its audit event
	// names the conflict, and the record stays alice's.
	t.Run("a copy of another card's tracked certificate", func(t *testing.T) {
		e := newIssueEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) {
			s.Workflow.SearchTrackedCertificates, s.Workflow.AllowUserSelectTracked = true, true
		})
		third := putThirdParty(t, e.card, pivspec.SlotCardAuthentication)
		res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Tracked: []string{"9e"}})
		if err != nil {
			t.Fatal(err)
		}
		bob, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "bob", UPN: ptr("bob@example.test"), Email: ptr("bob@example.test")})
		if err != nil {
			t.Fatal(err)
		}
		bobsCard := e.access.Add(t, 2, bob.ID, "bob's reader")
		adm, err := pivOf(t, bobsCard).Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
		if err != nil {
			t.Fatal(err)
		}
		if err := adm.PutCertificate(ctx, pivspec.SlotCardAuthentication, third); err != nil {
			t.Fatal(err)
		}
		bobP := &lanyard.Principal{User: bob, Roles: bob.Roles}
		if _, err := e.svc.Cards.IssueCard(ctx, bobP, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 2, Reader: "bob's reader"}, Tracked: []string{"9e"}}); err != nil {
			t.Fatal(err)
		}
		var rec *lanyard.Certificate
		var evs []*lanyard.AuditEvent
		if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) {
			if rec, err = tx.CertificateBySerial("external:CN=Other system", third.SerialNumber.Text(16)); err != nil {
				return err
			}
			evs, err = tx.ListAudit(lanyard.AuditFilter{Action: "card.track"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if rec.CardID != res.Card.ID || rec.UserID != e.alice.User.ID {
			t.Fatalf("the tracked record moved to card %d of user %d", rec.CardID, rec.UserID)
		}
		if len(evs) != 2 || !strings.Contains(string(evs[1].Details), `"recorded_for_another_card":["`+third.SerialNumber.Text(16)+`"]`) {
			t.Fatalf("card.track events: %+v", evs)
		}
	})
}

// putThirdParty writes a self-signed certificate for a new key in slot, as
// another system would have.
func putThirdParty(t *testing.T, c *emu.Card, slot piv.Slot) *x509.Certificate {
	t.Helper()
	return putThirdPartyFrom(t, c, slot, "Other system")
}

// putThirdPartyFrom is putThirdParty with the issuer's common name.
func putThirdPartyFrom(t *testing.T, c *emu.Card, slot piv.Slot, issuer string) *x509.Certificate {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, c)
	adm, err := pc.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := adm.GenerateKey(ctx, slot, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	signer, err := pc.Signer(ctx, slot, pub)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSignedAs(t, signer, issuer)
	if err := adm.PutCertificate(ctx, slot, cert); err != nil {
		t.Fatal(err)
	}
	return cert
}

// selfSignedAs is a self-signed certificate of cn, always with serial
// 424242: two of them differ only in their issuer.
func selfSignedAs(t *testing.T, signer crypto.Signer, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(424242), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !lanyard.IsCode(err, code) {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// pinMail records what the random-PIN hook hands over; the SMTP outbox
// that implements it comes with the documents issue.
type pinMail struct {
	to    []string
	pin   string
	calls int
	err   error // the outbox's refusal, when set
}

func (m *pinMail) RandomPIN(_ context.Context, to []string, _ *lanyard.User, _ *lanyard.Card, pin string) error {
	if m.err != nil {
		return m.err
	}
	m.to, m.pin = to, pin
	m.calls++
	return nil
}

func (m *pinMail) QueueRandomPIN(_ lanyard.Tx, to []string, u *lanyard.User, c *lanyard.Card, pin string) (int64, error) {
	if err := m.RandomPIN(context.Background(), to, u, c, pin); err != nil {
		return 0, err
	}
	return int64(m.calls), nil
}

func (m *pinMail) Wake() {}

func (m *pinMail) CardIssue(context.Context, []string, cardops.CardIssueEvent) error { return nil }
func (m *pinMail) CardState(context.Context, []string, cardops.CardStateEvent) error { return nil }
func (m *pinMail) Document(context.Context, []string, documents.DocumentEvent) error { return nil }
func (m *pinMail) AirCardCode(context.Context, []string, *lanyard.User, *lanyard.Card, string) error {
	return nil
}

// "Set random user PIN" with e-mail to the user and the manager: the PIN
// goes to the notifier for both addresses; without a notifier the user is
// told it was not sent.
func TestIssueCardRandomPINMail(t *testing.T) {
	ctx := context.Background()
	for _, withMail := range []bool{true, false} {
		e := &issueEnv{}
		m := &pinMail{}
		if withMail {
			e.opts.Notifier = m
		}
		e2 := newIssueEnvFrom(t, e)
		if _, err := e2.svc.Identity.UpdateUser(ctx, e2.admin, "alice", identity.UserInput{ManagerEmail: ptr("boss@example.test")}); err != nil {
			t.Fatal(err)
		}
		e2.setPolicy(t, func(s *lanyard.PolicySettings) {
			s.Issuance.RandomUserPIN = true
			s.Issuance.RandomPIN.MailTo = lanyard.PINMailBoth
		})
		res, err := e2.svc.Cards.IssueCard(ctx, e2.alice, cardops.IssueCardInput{CardTarget: e2.target()})
		if err != nil {
			t.Fatal(err)
		}
		if !withMail {
			if len(res.PINMailedTo) != 0 || !strings.Contains(res.PINMailNote, "not configured") {
				t.Fatalf("without a notifier: %v %q", res.PINMailedTo, res.PINMailNote)
			}
			continue
		}
		if m.pin != res.RandomPIN || len(m.to) != 2 || m.to[0] != "alice@example.test" || m.to[1] != "boss@example.test" {
			t.Fatalf("mailed %v %q, shown %q", m.to, m.pin, res.RandomPIN)
		}
	}
}

// Documents check "certificate request": the card issue goes pending with
// both requests in the CA's queue (Contents: pending); after the CA
// manager approves, the certificates are approved and Continue card issue
// writes them — the keys generated at the first stage stay on the card.
func TestIssueCardPendingCAApproval(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsCARequest })
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "pending" || res.Card.State != lanyard.CardPending {
		t.Fatalf("state %s / card %s, want pending", res.State, res.Card.State)
	}
	var reqs []int64
	for _, cc := range res.Card.Certificates {
		if cc.Status != lanyard.CertPending || cc.RequestID == 0 {
			t.Fatalf("contents %+v, want pending requests", cc)
		}
		reqs = append(reqs, cc.RequestID)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d pending lines, want 2", len(reqs))
	}
	// Not yet: Continue leaves it pending.
	again, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, res.Card.ID, cardops.ContinueInput{CardTarget: e.target()})
	if err != nil || again.State != "pending" {
		t.Fatalf("continue before approval: %v %+v", err, again)
	}
	e.signRequests(t, res)
	for _, id := range reqs {
		if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, id, "documents checked"); err != nil {
			t.Fatal(err)
		}
	}
	v, _ := e.svc.Cards.GetCard(ctx, e.alice, res.Card.ID)
	for _, cc := range v.Certificates {
		if cc.Status != lanyard.CertApproved {
			t.Fatalf("after CA approval: %+v, want approved", cc)
		}
	}
	done, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, res.Card.ID, cardops.ContinueInput{CardTarget: e.target()})
	if err != nil {
		t.Fatal(err)
	}
	if done.State != "issued" {
		t.Fatalf("continue after approval: %s", done.State)
	}
	e.checkIssued(t, res.Card.ID, "24681357", "smartcard-logon", "secure-email")
}

// A random PIN under a documents check reaches the card at the first
// stage: it is shown and mailed then, and Continue card issue shows and
// mails no other (it would never be the card's).
func TestIssueCardPendingRandomPIN(t *testing.T) {
	ctx := context.Background()
	e := &issueEnv{}
	m := &pinMail{}
	e.opts.Notifier = m
	e = newIssueEnvFrom(t, e)
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Documents.Check = lanyard.DocsCARequest
		s.Issuance.RandomUserPIN = true
		s.Issuance.RandomPIN.ShowToUser = true
		s.Issuance.RandomPIN.MailTo = lanyard.PINMailUser
	})
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target()})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "pending" || len(res.RandomPIN) != 8 || m.calls != 1 || m.pin != res.RandomPIN {
		t.Fatalf("pending issue: %s, PIN %q; mailed %d times, %q", res.State, res.RandomPIN, m.calls, m.pin)
	}
	e.signRequests(t, res)
	for _, cc := range res.Card.Certificates {
		if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, cc.RequestID, ""); err != nil {
			t.Fatal(err)
		}
	}
	done, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, res.Card.ID, cardops.ContinueInput{CardTarget: e.target()})
	if err != nil || done.State != "issued" {
		t.Fatalf("continue: %v %+v", err, done)
	}
	if done.RandomPIN != "" || len(done.PINMailedTo) != 0 || m.calls != 1 {
		t.Fatalf("continue shows PIN %q, mails it to %v (%d mails in all); the card's PIN is %s", done.RandomPIN, done.PINMailedTo, m.calls, res.RandomPIN)
	}
	e.checkIssued(t, res.Card.ID, res.RandomPIN, "smartcard-logon")
}

// A request the CA rejects stops the issue: Continue says so, Revoke and
// clear card revokes what was issued, withdraws the rest, empties the
// card's certificates and leaves it clean; a second issue then succeeds.
func TestIssueCardRejectedRevokeAndClear(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsCARequest })
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	e.signRequests(t, res)
	approved, err := e.svc.PKI.ApproveRequest(ctx, e.admin, res.Card.Certificates[0].RequestID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PKI.RejectRequest(ctx, e.admin, res.Card.Certificates[1].RequestID, "identity not proven"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Cards.ContinueCardIssue(ctx, e.alice, res.Card.ID, cardops.ContinueInput{CardTarget: e.target()})
	if !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "identity not proven") {
		t.Fatalf("continue after a rejection: %v", err)
	}
	v, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, res.Card.ID, cardops.ClearInput{CardTarget: e.target()})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardClean || v.OwnerID != 0 {
		t.Fatalf("after revoke and clear: %s owner %d", v.State, v.OwnerID)
	}
	c, _, err := e.svc.PKI.GetCertificate(ctx, e.admin, "", approved.Certificate.Serial)
	if err != nil || c.Status != lanyard.CertRevoked || c.Reason != lanyard.ReasonCessationOfOperation {
		t.Fatalf("the approved certificate after revoke and clear: %v %+v", err, c)
	}
	if all, _ := pivOf(t, e.card).Certificates(ctx); len(all) != 0 {
		t.Fatalf("the card still holds %d certificates", len(all))
	}
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsNone })
	again, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkIssued(t, again.Card.ID, "13572468", "smartcard-logon")
}

// A certificate revoked while its card issue waited is never written, and
// a failed issue withdraws its requests still waiting in the CA, so none
// is approved later into a certificate bound to no card.
func TestIssueCardPendingRevokedAndWithdrawn(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsCARequest })
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	e.signRequests(t, res)
	approved, err := e.svc.PKI.ApproveRequest(ctx, e.admin, res.Card.Certificates[0].RequestID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PKI.Revoke(ctx, e.admin, "", approved.Certificate.Serial, lanyard.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Cards.ContinueCardIssue(ctx, e.alice, res.Card.ID, cardops.ContinueInput{CardTarget: e.target()})
	if !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("continue with a revoked certificate: %v", err)
	}
	c, _, _ := e.svc.PKI.GetCertificate(ctx, e.admin, "", approved.Certificate.Serial)
	if c.Status != lanyard.CertRevoked {
		t.Fatalf("the revoked certificate is %s after Continue", c.Status)
	}
	if all, _ := pivOf(t, e.card).Certificates(ctx); len(all) != 0 {
		t.Fatalf("the card holds %d certificates", len(all))
	}
	other := res.Card.Certificates[1].RequestID
	reqs, err := e.svc.PKI.ListRequests(ctx, lanyard.RequestRejected)
	if err != nil {
		t.Fatal(err)
	}
	withdrawn := false
	for _, r := range reqs {
		withdrawn = withdrawn || (r.ID == other && strings.Contains(r.Comment, "withdrawn"))
	}
	if !withdrawn {
		t.Fatalf("request %d still waits after the issue failed", other)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, other, ""); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("approving the withdrawn request: %v", err)
	}
}

// issueMail records the card issue notifications.
type issueMail struct {
	pinMail
	kinds []string
}

func (m *issueMail) CardIssue(_ context.Context, _ []string, ev cardops.CardIssueEvent) error {
	m.kinds = append(m.kinds, ev.Kind)
	return nil
}

// Both documents, the certificate form approved before the CA decides:
// the CA's approval is then the last one, so the owner is told the issue
// is approved (guide: "Card issue approved") and can continue it.
func TestIssueCardBothFormFirstThenCA(t *testing.T) {
	ctx := context.Background()
	e := &issueEnv{}
	m := &issueMail{}
	e.opts.Notifier = m
	e = newIssueEnvFrom(t, e)
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsRequestForm })
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil || res.State != "pending" || len(res.Card.Certificates) != 1 {
		t.Fatalf("issue: %v %+v", err, res)
	}
	docs, err := e.svc.Documents.CardDocuments(ctx, e.alice, res.Card.ID)
	if err != nil {
		t.Fatal(err)
	}
	officer := &lanyard.Principal{User: e.admin.User, Roles: lanyard.Roles{lanyard.RoleDocumentOfficer}}
	for _, d := range docs {
		if d.Kind != lanyard.DocCertificateForm {
			continue
		}
		if _, err := e.svc.Documents.UploadDocument(ctx, e.alice, d.ID, documents.UploadInput{FileName: "form.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4\n%%EOF\n")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Documents.DecideDocument(ctx, officer, d.ID, true, ""); err != nil {
			t.Fatal(err)
		}
	}
	e.signRequests(t, res)
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, res.Card.Certificates[0].RequestID, ""); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.kinds, []string{"pending", "approved"}) {
		t.Errorf("card issue notifications %v, want pending, approved", m.kinds)
	}
	done, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, res.Card.ID, cardops.ContinueInput{CardTarget: e.target()})
	if err != nil || done.State != "issued" {
		t.Fatalf("continue: %v %+v", err, done)
	}
	e.checkIssued(t, res.Card.ID, "24681357", "smartcard-logon")
}

// TestCAManagerDoesNoCardWork: a CA manager decides certificate requests
// and may read a user's card, but issuing at her workstation, continuing
// or clearing her card is the help desk's, not the CA manager's: each is
// refused as if the card or workstation were not there, and the card is
// left as it was.
func TestCAManagerDoesNoCardWork(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	roles := lanyard.Roles{lanyard.RoleCAManager}
	u, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "carol", DisplayName: ptr("Carol"), Roles: &roles})
	if err != nil {
		t.Fatal(err)
	}
	carol := &lanyard.Principal{User: u, Roles: u.Roles}

	_, err = e.svc.Cards.IssueOptions(ctx, carol, e.target())
	wantCode(t, err, lanyard.ENotFound)
	_, err = e.svc.Cards.IssueCard(ctx, carol, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357", AdminPIN: "11223344"})
	wantCode(t, err, lanyard.ENotFound)

	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.svc.Cards.GetCard(ctx, carol, res.Card.ID); err != nil || v.Owner != "alice" {
		t.Fatalf("the CA manager reading alice's card: %v %+v", err, v)
	}
	_, err = e.svc.Cards.RevokeAndClearCard(ctx, carol, res.Card.ID, cardops.ClearInput{CardTarget: e.target()})
	wantCode(t, err, lanyard.ENotFound)
	_, err = e.svc.Cards.ContinueCardIssue(ctx, carol, res.Card.ID, cardops.ContinueInput{CardTarget: e.target()})
	wantCode(t, err, lanyard.ENotFound)
	if v, err := e.svc.Cards.GetCard(ctx, e.alice, res.Card.ID); err != nil || v.State != lanyard.CardIssued {
		t.Fatalf("alice's card after the CA manager's attempts: %v %+v", err, v)
	}
	e.checkIssued(t, res.Card.ID, "24681357", "smartcard-logon")
}

// TestClearAfterTemplateSlotChanged: the slot a certificate was written to
// is recorded with it. After an administrator moves the template to
// another slot (or deletes it), the card still shows, and Revoke and clear
// still deletes, the slot the certificate is really in.
func TestClearAfterTemplateSlotChanged(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	slots := map[string]string{} // template → slot at issue
	for _, c := range res.Card.Certificates {
		slots[c.Template] = c.Slot
	}
	logon := slots["smartcard-logon"]
	if logon == "" || slots["secure-email"] == "" || logon == slots["secure-email"] {
		t.Fatalf("slots at issue %v", slots)
	}
	tpl, err := e.svc.Catalog.GetTemplate(ctx, "smartcard-logon")
	if err != nil {
		t.Fatal(err)
	}
	moved := *tpl
	moved.Slot = "9e"
	if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, moved.Name, moved); err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Cards.GetCard(ctx, e.alice, res.Card.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Certificates {
		if c.Slot != slots[c.Template] {
			t.Errorf("after the template moved, the card shows %s in slot %s, want %s", c.Template, c.Slot, slots[c.Template])
		}
	}
	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, res.Card.ID, cardops.ClearInput{CardTarget: e.target()}); err != nil {
		t.Fatal(err)
	}
	if all, _ := pivOf(t, e.card).Certificates(ctx); len(all) != 0 {
		t.Fatalf("the card still holds %d certificates after Revoke and clear", len(all))
	}
}

// Staff issuing a card for someone (console "Issue a card") hold it at
// their own workstation: with own, the connected cards are only those of
// the caller's workstations, though staff may see every workstation's.
func TestConnectedCardsOwnWorkstations(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.access.Add(t, 2, e.admin.User.ID, "operator's reader")
	workstations := func(own bool) []int64 {
		t.Helper()
		cards, err := e.svc.Cards.ConnectedCards(ctx, e.admin, own)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, c := range cards {
			ids = append(ids, c.WorkstationID)
		}
		slices.Sort(ids)
		return ids
	}
	if got := workstations(false); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("every workstation's cards: %v, want [1 2]", got)
	}
	if got := workstations(true); !slices.Equal(got, []int64{2}) {
		t.Errorf("the operator's own cards: %v, want [2]", got)
	}
}
