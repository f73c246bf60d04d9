package cardops_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/tpmkeys"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/tpm"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// Key archival on the card kinds other than PIV cards (issue 17, item 3):
// TPM virtual cards and platform credentials import the archived RSA key
// into their TPM, AirCards into their key store.

// archivedEmail is the archive-key template these tests require.
const archivedEmail = "archived-email"

// archiveEnv is a virtual-card env whose clock the test moves (for the
// authenticator codes of the step-ups), with alice enrolled in an
// authenticator app and the default policy requiring archived-email
// (RSA 2048, key encipherment, e-mail protection, slot 9D, archive key)
// next to smart card logon.
type archiveEnv struct {
	*issueEnv
	clock *servicetest.Clock
	totp  string // alice's authenticator app's secret
}

func newArchiveEnv(t *testing.T, keys emu.KeyStore) *archiveEnv {
	t.Helper()
	clock := servicetest.NewClock(time.Date(2026, 3, 1, 9, 0, 12, 0, time.UTC)) // 12 s into a TOTP step
	a := &archiveEnv{issueEnv: newVirtualEnvFrom(t, &issueEnv{opts: servicetest.Options{Now: clock.Now}}, keys), clock: clock}
	a.enableTPM(t)
	setup, err := a.svc.Identity.BeginTOTPEnrollment(t.Context(), a.alice)
	if err != nil {
		t.Fatal(err)
	}
	a.totp = setup.Secret
	if _, err := a.svc.Identity.ConfirmTOTP(t.Context(), a.alice, a.code(t)); err != nil {
		t.Fatal(err)
	}
	a.requireArchiveTemplate(t, archivedEmail, lanyard.RSA2048)
	return a
}

// code is alice's authenticator code of the next TOTP step: each step-up
// takes a code not used before.
func (a *archiveEnv) code(t *testing.T) string {
	t.Helper()
	a.clock.Add(identity.TOTPPeriod)
	c, err := totp.GenerateCodeCustom(a.totp, a.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requireArchiveTemplate creates encryption template name with archive
// key and algorithms algs in slot 9D, and makes the default policy
// require it next to smart card logon.
func (a *archiveEnv) requireArchiveTemplate(t *testing.T, name string, algs ...lanyard.KeyAlgorithm) {
	t.Helper()
	tpl := lanyard.Template{Name: name, DisplayName: "Archived e-mail", KeyAlgs: algs, ValidityDays: 365, Slot: "9d",
		KeyUsage: []string{lanyard.KUKeyEncipherment}, ExtKeyUsage: []string{lanyard.EKUEmailProtection},
		Subject: lanyard.SubjectSpec{CommonName: "{display_name}", SANEmail: true}, KeyArchival: true}
	if _, err := a.svc.Catalog.CreateTemplate(t.Context(), a.admin, tpl); err != nil {
		t.Fatal(err)
	}
	a.setPolicy(t, func(s *lanyard.PolicySettings) { s.Certificates.Required = []string{"smartcard-logon", name} })
}

// checkArchivedOnCard checks what an issue with archived-email must leave
// on card (recorded as cardID, User PIN pin): alice's one active archived
// key, RSA 2048, is the key imported into slot 9D and certified there for
// key encipherment and e-mail protection; the card decrypts, with the
// PIN, what is encrypted to that certificate; and alice's recovery as a
// PKCS #12 file (password and authenticator code) gives the same key,
// which decrypts it too.
func (a *archiveEnv) checkArchivedOnCard(t *testing.T, card *emu.Card, cardID int64, pin string) {
	t.Helper()
	ctx := t.Context()
	keys, err := a.svc.Archive.Keys(ctx, a.alice.User.ID, archivedEmail)
	if err != nil {
		t.Fatal(err)
	}
	var active []*lanyard.ArchivedKey
	for _, k := range keys {
		if k.State == lanyard.ArchivedKeyActive {
			active = append(active, k)
		}
	}
	if len(active) != 1 || active[0].CardID != cardID || active[0].Algorithm != lanyard.RSA2048 {
		t.Fatalf("active archived keys %+v of %d; want one RSA 2048 key of card %d", active, len(keys), cardID)
	}
	a.checkKeyOnCard(t, card, active[0], pin)
}

// checkKeyOnCard checks that archived key k is the key imported into
// card's slot 9D and certified there for key encipherment and e-mail
// protection; that the card decrypts, with User PIN pin, what is
// encrypted to that certificate; and that alice's recovery of k as a
// PKCS #12 file (password and authenticator code) gives the same key,
// which decrypts it too.
func (a *archiveEnv) checkKeyOnCard(t *testing.T, card *emu.Card, k *lanyard.ArchivedKey, pin string) {
	t.Helper()
	ctx := t.Context()
	pc := pivOf(t, card)
	cert, err := pc.Certificate(ctx, pivspec.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	if cert.SerialNumber.Text(16) != k.CertificateSerial || !bytes.Equal(cert.RawSubjectPublicKeyInfo, k.PublicKey) {
		t.Fatalf("slot 9D holds certificate %x; the archived key's is %s", cert.SerialNumber, k.CertificateSerial)
	}
	if cert.KeyUsage != x509.KeyUsageKeyEncipherment || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}) {
		t.Errorf("the certificate's key usage %v, extended %v; want key encipherment, e-mail protection", cert.KeyUsage, cert.ExtKeyUsage)
	}
	pub := cert.PublicKey.(*rsa.PublicKey)
	md, err := pc.Metadata(ctx, pivspec.SlotKeyManagement.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if onCard, ok := md.PublicKey.(*rsa.PublicKey); !ok || !onCard.Equal(pub) || md.Origin != pivspec.OriginImported {
		t.Fatalf("slot 9D's key: %T, origin %v; want the archived key, imported", md.PublicKey, md.Origin)
	}

	// Mail encrypted to the certificate (RSA-OAEP, as S/MIME may use):
	// the card's RSA operation under its PIN opens it, as a middleware
	// decrypting for a mail client asks the card to.
	msg := []byte("minutes of the board")
	sealed, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened := decryptUnderPIN(t, card, pivspec.SlotKeyManagement, pub, sealed, pin)
	// opened^e = sealed: the card applied the private key of the
	// certificate's public key.
	if new(big.Int).Exp(new(big.Int).SetBytes(opened), big.NewInt(int64(pub.E)), pub.N).Cmp(new(big.Int).SetBytes(sealed)) != 0 {
		t.Fatal("the card's RSA operation is not the inverse of the certificate's key")
	}

	rec, err := a.svc.Archive.RecoverOwn(ctx, a.alice, archive.RecoverInput{KeyID: k.ID, Password: "Recover-Me-2026", AccountPassword: alicePassword, Code: a.code(t)})
	if err != nil {
		t.Fatal(err)
	}
	key, recCert, _, err := pkcs12.DecodeChain(rec.PFX, "Recover-Me-2026")
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok || !priv.PublicKey.Equal(pub) || !bytes.Equal(recCert.Raw, cert.Raw) {
		t.Fatalf("the recovered file holds a %T and certificate %x; want the card's key and certificate %x", key, recCert.SerialNumber, cert.SerialNumber)
	}
	// The recovered key opens the mail to the message, and its RSA
	// operation gives what the card's gave.
	if got, err := rsa.DecryptOAEP(sha256.New(), nil, priv, sealed, nil); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("the recovered key decrypts to %q, %v", got, err)
	}
	if raw := new(big.Int).Exp(new(big.Int).SetBytes(sealed), priv.D, priv.N).FillBytes(make([]byte, pub.Size())); !bytes.Equal(raw, opened) {
		t.Fatal("the recovered key's RSA operation differs from the card's")
	}
}

// decryptUnderPIN has card apply the private key of slot to ciphertext
// (rawDecrypt), which it must refuse before User PIN pin is verified and
// do after.
func decryptUnderPIN(t *testing.T, card *emu.Card, slot pivspec.Slot, pub *rsa.PublicKey, ciphertext []byte, pin string) []byte {
	t.Helper()
	if _, err := rawDecrypt(t, card, slot, pub, ciphertext); !errors.Is(err, apdu.ErrSecurityStatus) {
		t.Fatalf("slot %s decrypted without the PIN: %v", slot, err)
	}
	if err := pivOf(t, card).VerifyPIN(t.Context(), pin); err != nil {
		t.Fatal(err)
	}
	opened, err := rawDecrypt(t, card, slot, pub, ciphertext)
	if err != nil {
		t.Fatalf("slot %s does not decrypt: %v", slot, err)
	}
	return opened
}

// rawDecrypt has the card apply the private key of slot to ciphertext: GENERAL
// AUTHENTICATE with 7C { 82 00, 81 ciphertext } (SP 800-73-4 part 2,
// appendix A.3: the card computes the raw RSA operation and leaves the
// padding to the middleware). It returns the result as pub.Size() bytes.
func rawDecrypt(t *testing.T, card *emu.Card, slot pivspec.Slot, pub *rsa.PublicKey, ciphertext []byte) ([]byte, error) {
	t.Helper()
	alg, _ := pivspec.AlgorithmOf(pub)
	inner := apdu.AppendTLV(apdu.AppendTLV(nil, pivspec.TagResponse, nil), pivspec.TagChallenge, ciphertext)
	c := apdu.Client{Transport: cardtest.Transport(card)}
	resp, err := c.Do(t.Context(), apdu.Command{INS: pivspec.InsGeneralAuth, P1: byte(alg), P2: byte(slot),
		Data: apdu.AppendTLV(nil, pivspec.TagDynamicAuth, inner), Le: apdu.MaxShortLe})
	if err != nil {
		return nil, err
	}
	outer, err := apdu.Unwrap(resp, pivspec.TagDynamicAuth)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := apdu.Unwrap(outer, pivspec.TagResponse)
	if err != nil || len(raw) > pub.Size() {
		t.Fatalf("the card's answer %x: %v", outer, err)
	}
	return new(big.Int).SetBytes(raw).FillBytes(make([]byte, pub.Size())), nil
}

// tpmStore is a TPM key store on tp, closed when the test ends.
func tpmStore(t *testing.T, tp *tpm.TPM) *tpmkeys.Store {
	t.Helper()
	store, err := tpmkeys.New(tp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// TestIssueTPMVirtualCardArchivesKey: on a TPM virtual card whose keys
// live in a TPM (the reference simulator), an archive-key template's key
// is made and archived on the server and imported into the TPM
// (TPM2_Import); the card decrypts with it under its PIN, and the
// owner's recovered PKCS #12 file holds the same key.
func TestIssueTPMVirtualCardArchivesKey(t *testing.T) {
	testIssueTPMVirtualCardArchivesKey(t, tpmStore(t, tpmtest.OpenSimulator(t, filepath.Join(t.TempDir(), "seed"))))
}

func testIssueTPMVirtualCardArchivesKey(t *testing.T, keys emu.KeyStore) {
	a := newArchiveEnv(t, keys)
	card, reader := issueTPMCard(t, a.issueEnv)
	a.checkArchivedOnCard(t, a.access.Card(1, reader), card.ID, "24681357")
}

// TestIssuePlatformCredentialArchivesKey: a platform credential (TPM
// simulator) gets the archived key at issue, before its user sets the
// PIN; after Set up PIN the key decrypts under the new PIN, and the
// recovered file holds it.
func TestIssuePlatformCredentialArchivesKey(t *testing.T) {
	testIssuePlatformCredentialArchivesKey(t, tpmStore(t, tpmtest.OpenSimulator(t, filepath.Join(t.TempDir(), "seed"))))
}

func testIssuePlatformCredentialArchivesKey(t *testing.T, keys emu.KeyStore) {
	a := newArchiveEnv(t, keys)
	ctx := t.Context()
	cc, err := a.svc.Cards.CreateVirtualCard(ctx, a.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindPlatformCredential, Name: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.svc.Cards.IssueCard(ctx, a.alice, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: cc.Reader}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.Cards.SetupPIN(ctx, a.alice, res.Card.ID, cardops.PINSetupInput{Password: alicePassword, Code: a.code(t), PIN: "13572468"}); err != nil {
		t.Fatal(err)
	}
	a.checkArchivedOnCard(t, a.access.Card(1, cc.Reader), res.Card.ID, "13572468")
}

// TestIssueAirCardArchivesKey: an AirCard takes the archived key into its
// key store like a PIV card.
func TestIssueAirCardArchivesKey(t *testing.T) {
	a := newArchiveEnv(t, nil)
	card, cardID, _ := a.issueAirCard(t)
	a.checkArchivedOnCard(t, card, cardID, "24681357")
}

// issueAirCard creates alice's AirCard from workstation 1 on the AirCard
// service (workstation 3) and issues it there with PIN 24681357; it
// returns the card, its ID and where it is.
func (a *archiveEnv) issueAirCard(t *testing.T) (*emu.Card, int64, cardops.CardTarget) {
	t.Helper()
	a.allowAirCards(t)
	a.storeWorkstations(t, "pc-1", "air:aircard-service")
	a.access.AddAirCardService(3)
	card, res, target := a.airCard(t, nil)
	return card, res.Card.ID, target
}

// airCard creates another AirCard of alice's (issueAirCard set the
// AirCard service up) and issues it with PIN 24681357 and recovery
// authority (nil: none).
func (a *archiveEnv) airCard(t *testing.T, recovery *cardops.HistoryAuthority) (*emu.Card, *cardops.IssueCardResult, cardops.CardTarget) {
	t.Helper()
	ctx := t.Context()
	cc, err := a.svc.Cards.CreateVirtualCard(ctx, a.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: "Air"})
	if err != nil {
		t.Fatal(err)
	}
	target := cardops.CardTarget{WorkstationID: 3, Reader: cc.Reader}
	res, err := a.svc.Cards.IssueCard(ctx, a.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357", Recovery: recovery})
	if err != nil {
		t.Fatal(err)
	}
	return a.access.Card(3, cc.Reader), res, target
}

// TestIssueTPMArchivalNeedsImportableRSA: an archive-key template whose
// algorithms a TPM card cannot import (EC; RSA 4096, which the TPM
// virtual card type holds but no TPM imports) is refused on TPM virtual
// cards and platform credentials when the dialog opens and at Issue,
// naming the template and saying to allow an RSA algorithm on it; nothing
// is written: no audit event, the card stays clean with no key or
// certificate, no archived key, no certificate record.
func TestIssueTPMArchivalNeedsImportableRSA(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind lanyard.CardKind
		alg  lanyard.KeyAlgorithm
	}{
		{"ec-archive", lanyard.KindTPMVirtualCard, lanyard.ECP256},
		{"rsa4096-archive", lanyard.KindTPMVirtualCard, lanyard.RSA4096},
		{"ec-archive", lanyard.KindPlatformCredential, lanyard.ECP384},
	} {
		t.Run(string(tc.kind)+"/"+string(tc.alg), func(t *testing.T) {
			a := newArchiveEnv(t, emu.SoftKeyStore{})
			ctx := t.Context()
			a.requireArchiveTemplate(t, tc.name, tc.alg)
			cc, err := a.svc.Cards.CreateVirtualCard(ctx, a.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: tc.kind})
			if err != nil {
				t.Fatal(err)
			}
			target := cardops.CardTarget{WorkstationID: 1, Reader: cc.Reader}
			before := auditCount(t, a.issueEnv)
			want := `template "` + tc.name + `" archives its key`
			_, err = a.svc.Cards.IssueOptions(ctx, a.alice, target)
			wantErr(t, "the Issue card dialog", err, lanyard.EInvalid, want)
			_, err = a.svc.Cards.IssueCard(ctx, a.alice, cardops.IssueCardInput{CardTarget: target})
			wantErr(t, "Issue", err, lanyard.EInvalid, want)
			if msg := lanyard.ErrorMessage(err); !strings.Contains(msg, "allow an RSA 2048 or RSA 3072 algorithm on the template") {
				t.Errorf("the refusal %q does not say to allow an RSA algorithm on the template", msg)
			}

			if n := auditCount(t, a.issueEnv); n != before {
				t.Errorf("the refused issue wrote %d audit events", n-before)
			}
			v, err := a.svc.Cards.GetCard(ctx, a.admin, cc.CardID)
			if err != nil {
				t.Fatal(err)
			}
			if v.State != lanyard.CardClean || len(v.Operations) != 1 || len(v.Certificates) != 0 {
				t.Errorf("after the refusal the card is %s with %d operations and %d certificates; want clean, its creation only, none", v.State, len(v.Operations), len(v.Certificates))
			}
			if keys, err := a.svc.Archive.Keys(ctx, a.alice.User.ID, tc.name); err != nil || len(keys) != 0 {
				t.Errorf("archived keys after the refusal: %d, %v", len(keys), err)
			}
			if err := a.st.View(ctx, func(tx lanyard.Tx) error {
				certs, err := tx.ListCertificates(lanyard.CertFilter{UserID: a.alice.User.ID})
				if err == nil && len(certs) != 0 {
					t.Errorf("%d certificates recorded for alice after the refusal", len(certs))
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			pc := pivOf(t, a.access.Card(1, cc.Reader))
			if certs, err := pc.Certificates(ctx); err != nil || len(certs) != 0 {
				t.Errorf("certificates on the card after the refusal: %d, %v", len(certs), err)
			}
			for _, slot := range []pivspec.Slot{pivspec.SlotAuthentication, pivspec.SlotKeyManagement} {
				if _, err := pc.Metadata(ctx, slot.Ref()); !errors.Is(err, piv.ErrNotFound) {
					t.Errorf("slot %v after the refusal: %v, want no key", slot, err)
				}
			}
		})
	}
}
