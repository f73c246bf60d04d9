package cardops_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// Recovery of earlier archived keys onto the card kinds other than PIV
// cards (issue 17, item 3): an AirCard and a TPM virtual card take them
// into their retired slots 82 up with the key history, as a PIV card
// does; a TPM card skips the keys it cannot import (not RSA 2048 or 3072).

// stepUp is alice's step-up (account password, authenticator code).
func (a *archiveEnv) stepUp(t *testing.T) *cardops.HistoryAuthority {
	t.Helper()
	return &cardops.HistoryAuthority{AccountPassword: alicePassword, Code: a.code(t)}
}

// activeKey returns alice's active archived key of template tpl that
// card cardID got.
func (a *archiveEnv) activeKey(t *testing.T, tpl string, cardID int64) *lanyard.ArchivedKey {
	t.Helper()
	keys, err := a.svc.Archive.Keys(t.Context(), a.alice.User.ID, tpl)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.CardID == cardID && k.State == lanyard.ArchivedKeyActive {
			return k
		}
	}
	t.Fatalf("card %d has no active archived key of %s: %+v", cardID, tpl, keys)
	return nil
}

// checkEarlierKey checks that card holds RSA archived key k in retired
// slot 82 with its certificate, the Key History Object counting one key
// on the card, and that the card opens, under User PIN pin only, a
// message encrypted to k's certificate.
func (a *archiveEnv) checkEarlierKey(t *testing.T, card *emu.Card, pin string, k *lanyard.ArchivedKey) {
	t.Helper()
	ctx := t.Context()
	pc := pivOf(t, card)
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 1 || h.OffCard != 0 {
		t.Fatalf("key history %+v (%v), want one key on the card", h, err)
	}
	cert, err := pc.Certificate(ctx, pivspec.SlotRetiredFirst)
	if err != nil || cert.SerialNumber.Text(16) != k.CertificateSerial || !bytes.Equal(cert.RawSubjectPublicKeyInfo, k.PublicKey) {
		t.Fatalf("slot 82 holds %v (%v), want the certificate %s of archived key %d", cert, err, k.CertificateSerial, k.ID)
	}
	pub := cert.PublicKey.(*rsa.PublicKey)
	msg := []byte("last year's minutes")
	sealed, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened := decryptUnderPIN(t, card, pivspec.SlotRetiredFirst, pub, sealed, pin)
	// opened^e = sealed: slot 82 applied the private key of the old
	// certificate, which the middleware's OAEP decoding then opens.
	if new(big.Int).Exp(new(big.Int).SetBytes(opened), big.NewInt(int64(pub.E)), pub.N).Cmp(new(big.Int).SetBytes(sealed)) != 0 {
		t.Fatal("slot 82's RSA operation is not the inverse of the old certificate's key")
	}
}

// archiveECOnPIV issues alice's PIV card (first reader) with secure-email
// archiving its EC key, then puts the policy back to requiring
// archived-email; it returns the EC key.
func (a *archiveEnv) archiveECOnPIV(t *testing.T) *lanyard.ArchivedKey {
	t.Helper()
	archiveSecureEmail(t, a.issueEnv)
	a.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Issuance.MaxCardsPerUser = 0
		s.Certificates.Required = []string{"smartcard-logon"}
	})
	setPUKBefore(t, a.card, "11223344")
	piv, err := a.svc.Cards.IssueCard(t.Context(), a.alice, cardops.IssueCardInput{CardTarget: a.target(), Templates: []string{"secure-email"}, UserPIN: "13572468", AdminPIN: "11223344"})
	if err != nil {
		t.Fatal(err)
	}
	ec := a.activeKey(t, "secure-email", piv.Card.ID)
	if !strings.HasPrefix(string(ec.Algorithm), "ec") {
		t.Fatalf("the PIV card's archived key is %s, want an EC key", ec.Algorithm)
	}
	a.setPolicy(t, func(s *lanyard.PolicySettings) { s.Certificates.Required = []string{"smartcard-logon", archivedEmail} })
	return ec
}

// recoveryEvents returns the details of the key.recover events of card id.
func (a *archiveEnv) recoveryEvents(t *testing.T, id int64) []string {
	t.Helper()
	var out []string
	for _, ev := range a.recoveries(t, id) {
		out = append(out, string(ev.Details))
	}
	return out
}

// TestAirCardRecoversEarlierKeys: alice's second AirCard, issued with her
// step-up, gets her first AirCard's archived key in retired slot 82 with
// the key history, and opens mail encrypted to its certificate under her
// PIN; one key.recover event names it. A third AirCard issued without the
// step-up gets none and offers Recover keys onto card, which, with the
// step-up, puts the key in slot 82. Revoke and clear leaves the third
// card without it.
func TestAirCardRecoversEarlierKeys(t *testing.T) {
	a := newArchiveEnv(t, nil)
	ctx := t.Context()
	_, firstID, _ := a.issueAirCard(t)
	earlier := a.activeKey(t, archivedEmail, firstID)

	second, res, _ := a.airCard(t, a.stepUp(t))
	a.checkEarlierKey(t, second, "24681357", earlier)
	if evs := a.recoveryEvents(t, res.Card.ID); len(evs) != 1 || !strings.Contains(evs[0], fmt.Sprintf(`"archived_keys":[%d]`, earlier.ID)) ||
		!strings.Contains(evs[0], `"slot":"82"`) || !strings.Contains(evs[0], `"step_up":"owner"`) || strings.Contains(evs[0], "skipped") {
		t.Fatalf("key.recover events of the second AirCard: %v", evs)
	}

	third, res, target := a.airCard(t, nil)
	noRetiredKeys(t, third)
	if res.RecoverableKeys != 2 {
		// The first card's key and the second card's.
		t.Fatalf("the third AirCard's result says %d recoverable keys (%q), want 2", res.RecoverableKeys, res.RecoveryNote)
	}
	if !slices.Contains(res.Card.AllowedOperations, cardperm.RecoverKeys) {
		t.Fatalf("the third AirCard does not offer Recover keys onto card: %v", res.Card.AllowedOperations)
	}
	rec, err := a.svc.Cards.RecoverKeysOntoCard(ctx, a.alice, res.Card.ID, cardops.RecoverKeysInput{CardTarget: target, AccountPassword: alicePassword, Code: a.code(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Keys) != 2 || rec.Note != "" {
		t.Fatalf("Recover keys onto card put %d keys (%q), want 2", len(rec.Keys), rec.Note)
	}
	newer := a.activeKey(t, archivedEmail, rec.Keys[0].CardID)
	if rec.Keys[1].ID != earlier.ID || newer.CardID == firstID {
		t.Fatalf("recovered keys %d, %d; want the second card's, then the first's", rec.Keys[0].ID, rec.Keys[1].ID)
	}
	pc := pivOf(t, third)
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 2 {
		t.Fatalf("key history %+v (%v), want two keys", h, err)
	}
	if cert, err := pc.Certificate(ctx, pivspec.SlotRetiredFirst+1); err != nil || cert.SerialNumber.Text(16) != earlier.CertificateSerial {
		t.Fatalf("slot 83 holds %v (%v), want the first card's key", cert, err)
	}

	if _, err := a.svc.Cards.RevokeAndClearCard(ctx, a.alice, res.Card.ID, cardops.ClearInput{CardTarget: target}); err != nil {
		t.Fatal(err)
	}
	noRetiredKeys(t, third)
	if _, err := pc.Metadata(ctx, (pivspec.SlotRetiredFirst + 1).Ref()); err == nil {
		t.Fatal("slot 83 still holds a key after the clear")
	}
}

// TestTPMVirtualCardRecoversEarlierKeys: alice has an RSA 2048 key
// archived from her TPM virtual card and an EC P-256 key archived from
// her PIV card. Her second TPM virtual card (the TPM simulator), issued
// with her step-up, imports the RSA key into retired slot 82 (TPM2_Import)
// with the key history counting it, and opens mail to its certificate
// under the PIN; the EC key, which the TPM cannot import, is skipped:
// the key.recover event names it with the reason and the result's note
// says so, as Recover keys onto card on it does. Revoke and clear leaves
// the card without the key.
func TestTPMVirtualCardRecoversEarlierKeys(t *testing.T) {
	testTPMVirtualCardRecoversEarlierKeys(t, tpmStore(t, tpmtest.OpenSimulator(t, filepath.Join(t.TempDir(), "seed"))))
}

func testTPMVirtualCardRecoversEarlierKeys(t *testing.T, keys emu.KeyStore) {
	a := newArchiveEnv(t, keys)
	ctx := t.Context()
	first, _ := issueTPMCard(t, a.issueEnv)
	earlier := a.activeKey(t, archivedEmail, first.ID)

	ec := a.archiveECOnPIV(t)

	cc, err := a.svc.Cards.CreateVirtualCard(ctx, a.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard, Name: "Second TPM"})
	if err != nil {
		t.Fatal(err)
	}
	target := cardops.CardTarget{WorkstationID: 1, Reader: cc.Reader}
	res, err := a.svc.Cards.IssueCard(ctx, a.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357", Recovery: a.stepUp(t)})
	if err != nil {
		t.Fatal(err)
	}
	card := a.access.Card(1, cc.Reader)
	a.checkEarlierKey(t, card, "24681357", earlier)
	evs := a.recoveryEvents(t, res.Card.ID)
	if len(evs) != 1 || !strings.Contains(evs[0], fmt.Sprintf(`"archived_keys":[%d]`, earlier.ID)) ||
		!strings.Contains(evs[0], fmt.Sprintf(`"skipped":[{"archived_key":%d,"key_algorithm":%q`, ec.ID, ec.Algorithm)) ||
		!strings.Contains(evs[0], "imports only RSA 2048 and RSA 3072 keys") {
		t.Fatalf("key.recover events of the second TPM card: %v", evs)
	}
	if !strings.Contains(res.RecoveryNote, "1 earlier encryption key is not an RSA 2048 or RSA 3072 key") {
		t.Fatalf("the result's note %q does not tell of the skipped EC key", res.RecoveryNote)
	}

	// Recover keys onto card, with the step-up, writes the RSA key again
	// and skips the EC key again, saying so.
	if !slices.Contains(res.Card.AllowedOperations, cardperm.RecoverKeys) {
		t.Fatalf("the TPM card does not offer Recover keys onto card: %v", res.Card.AllowedOperations)
	}
	rec, err := a.svc.Cards.RecoverKeysOntoCard(ctx, a.alice, res.Card.ID, cardops.RecoverKeysInput{CardTarget: target, AccountPassword: alicePassword, Code: a.code(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Keys) != 1 || rec.Keys[0].ID != earlier.ID || !strings.Contains(rec.Note, "which a tpm_virtual_card card cannot import") {
		t.Fatalf("Recover keys onto card put %d keys (%q), want the RSA key, the EC key skipped", len(rec.Keys), rec.Note)
	}
	if evs := a.recoveryEvents(t, res.Card.ID); len(evs) != 2 || !strings.Contains(evs[1], fmt.Sprintf(`"skipped":[{"archived_key":%d,`, ec.ID)) {
		t.Fatalf("key.recover events of the TPM card: %v", evs)
	}
	a.checkEarlierKey(t, card, "24681357", earlier)

	if _, err := a.svc.Cards.RevokeAndClearCard(ctx, a.alice, res.Card.ID, cardops.ClearInput{CardTarget: target}); err != nil {
		t.Fatal(err)
	}
	pc := pivOf(t, card)
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 0 {
		t.Fatalf("key history after the clear: %+v, %v", h, err)
	}
	if _, err := pc.Certificate(ctx, pivspec.SlotRetiredFirst); err == nil {
		t.Fatal("slot 82 still holds the earlier certificate after the clear")
	}
	pub, err := x509.ParsePKIXPublicKey(earlier.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := pc.Metadata(ctx, pivspec.SlotRetiredFirst.Ref()); err == nil && personalize.PublicKeysEqual(m.PublicKey, pub) {
		t.Fatal("slot 82 still holds the earlier key after the clear")
	}
}

// TestAirCardReplacementRecoversEarlierKey: alice replaces her
// damaged AirCard by a temporary AirCard with her step-up: the new card
// gets a new archived key in 9D and the replaced card's key in retired
// slot 82 with the key history, and opens mail to the old certificate
// under the PIN.
func TestAirCardReplacementRecoversEarlierKey(t *testing.T) {
	a := newArchiveEnv(t, nil)
	_, firstID, first := a.issueAirCard(t)
	earlier := a.activeKey(t, archivedEmail, firstID)
	a.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
	res, err := a.svc.Cards.ReplaceCard(t.Context(), a.alice, firstID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, AirCard: true,
		CardTarget: cardops.CardTarget{WorkstationID: 1}, UserPIN: "24681357", Recovery: a.stepUp(t)})
	if err != nil {
		t.Fatal(err)
	}
	var card *emu.Card
	for name, c := range a.access.Workstation(3).Readers {
		if name != first.Reader {
			card = c
		}
	}
	if card == nil || res.State != string(lanyard.CardIssued) {
		t.Fatalf("the replacement is %s; no new AirCard found", res.State)
	}
	a.checkEarlierKey(t, card, "24681357", earlier)
	if current := a.activeKey(t, archivedEmail, res.Card.ID); current.ID == earlier.ID {
		t.Fatal("the new AirCard has no archived key of its own")
	}
	if evs := a.recoveryEvents(t, res.Card.ID); len(evs) != 1 || !strings.Contains(evs[0], `"step_up":"owner"`) {
		t.Fatalf("key.recover events of the new AirCard: %v", evs)
	}
}

// TestAirCardReplacementWithoutServiceKeepsStepUp: with no AirCard
// service online, Replace card with a new AirCard is refused before the
// step-up spends alice's code: once the service is back, the same code
// still works.
func TestAirCardReplacementWithoutServiceKeepsStepUp(t *testing.T) {
	a := newArchiveEnv(t, nil)
	_, firstID, _ := a.issueAirCard(t)
	a.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
	stepUp := a.stepUp(t)
	in := cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, AirCard: true,
		CardTarget: cardops.CardTarget{WorkstationID: 1}, UserPIN: "24681357", Recovery: stepUp}
	a.access.Workstation(3).Offline = true
	if _, err := a.svc.Cards.ReplaceCard(t.Context(), a.alice, firstID, in); !lanyard.IsCode(err, lanyard.EUnavailable) {
		t.Fatalf("replacing with the AirCard service offline: %v, want unavailable", err)
	}
	a.access.Workstation(3).Offline = false
	if _, err := a.svc.Cards.ReplaceCard(t.Context(), a.alice, firstID, in); err != nil {
		t.Fatalf("replacing once the service is back, with the same step-up: %v", err)
	}
}

// TestTPMCardRecoverOnlyUnimportableKeysRefused: alice's only earlier
// archived key is an EC key (from her PIV card): her TPM virtual card
// counts no recoverable key, and Recover keys onto card on it is refused
// (conflict, saying why) before the step-up spends her code and before
// anything is written: no key.recover event, no key history.
func TestTPMCardRecoverOnlyUnimportableKeysRefused(t *testing.T) {
	a := newArchiveEnv(t, emu.SoftKeyStore{})
	ctx := t.Context()
	a.archiveECOnPIV(t)
	card, reader := issueTPMCard(t, a.issueEnv)
	v, err := a.svc.Cards.GetCard(ctx, a.alice, card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.RecoverableKeys != 0 {
		t.Fatalf("the TPM card counts %d recoverable keys, want 0", v.RecoverableKeys)
	}
	_, err = a.svc.Cards.RecoverKeysOntoCard(ctx, a.alice, card.ID, cardops.RecoverKeysInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: reader},
		AccountPassword: alicePassword, Code: "000000"})
	wantErr(t, "Recover keys onto card", err, lanyard.EConflict, "not RSA 2048 or RSA 3072 keys")
	if evs := a.recoveryEvents(t, card.ID); len(evs) != 0 {
		t.Fatalf("key.recover events after the refusal: %v", evs)
	}
	noRetiredKeys(t, a.access.Card(1, reader))
}

// TestTPMCardRecoverRequestForUnimportableKeyRefused: operator olga's
// approved key recovery request names alice's EC key (from her PIV card);
// Recover keys onto card of alice's TPM virtual card with it is refused
// (invalid, naming the key) before anything is written, and the request
// stays unused: it still serves a PKCS #12 recovery.
func TestTPMCardRecoverRequestForUnimportableKeyRefused(t *testing.T) {
	a := newArchiveEnv(t, emu.SoftKeyStore{})
	ctx := t.Context()
	ec := a.archiveECOnPIV(t)
	issueTPMCard(t, a.issueEnv) // an earlier RSA key the card could take
	card, reader := issueTPMCard(t, a.issueEnv)
	olga := a.operator(t, "olga")
	req, err := a.svc.Archive.RequestRecovery(ctx, olga, ec.ID, "alice's mail")
	if err != nil {
		t.Fatal(err)
	}
	a.newUser(t, "adam")
	u, err := a.svc.Identity.UpdateUser(ctx, a.admin, "adam", identity.UserInput{Roles: &lanyard.Roles{lanyard.RoleUser, lanyard.RoleAdministrator}, Password: ptr(alicePassword)})
	if err != nil {
		t.Fatal(err)
	}
	adam := &lanyard.Principal{User: u, Roles: u.Roles}
	setup, err := a.svc.Identity.BeginTOTPEnrollment(ctx, adam)
	if err != nil {
		t.Fatal(err)
	}
	adamCode := func() string {
		a.clock.Add(identity.TOTPPeriod)
		c, err := totp.GenerateCodeCustom(setup.Secret, a.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := a.svc.Identity.ConfirmTOTP(ctx, adam, adamCode()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.Archive.DecideRecovery(ctx, adam, req.ID, archive.Decision{Approve: true, Comment: "checked", AccountPassword: alicePassword, Code: adamCode()}); err != nil {
		t.Fatal(err)
	}
	_, err = a.svc.Cards.RecoverKeysOntoCard(ctx, olga, card.ID, cardops.RecoverKeysInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: reader}, Requests: []int64{req.ID}})
	wantErr(t, "Recover keys onto card", err, lanyard.EInvalid, fmt.Sprintf("archived key %d is a %s key", ec.ID, ec.Algorithm))
	if evs := a.recoveryEvents(t, card.ID); len(evs) != 0 {
		t.Fatalf("key.recover events after the refusal: %v", evs)
	}
	noRetiredKeys(t, a.access.Card(1, reader))
	approved, err := a.svc.Archive.RecoveryRequests(ctx, olga, lanyard.KeyRecoveryApproved)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(approved, func(r *lanyard.KeyRecoveryRequest) bool { return r.ID == req.ID }) {
		t.Fatalf("request %d is no longer approved and unused after the refusal: %+v", req.ID, approved)
	}
}
