package cardops_test

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// TestRecoveredKeyDecryptsMailToTheCard is the whole path: Issue card
// archives the secure-email key and imports it into slot 9D; alice, with
// her password and authenticator app, recovers it as a PKCS #12 file;
// OpenSSL reads the file with her password, and a CMS message encrypted
// to the certificate read from the card decrypts with the recovered key.
func TestRecoveredKeyDecryptsMailToTheCard(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed (make test installs it: scripts/test-deps.sh)")
	}
	clock := servicetest.NewClock(time.Date(2026, 3, 1, 9, 0, 12, 0, time.UTC)) // 12 s into a TOTP step
	e := newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Now: clock.Now}})
	ctx := t.Context()
	archiveSecureEmail(t, e)
	setPUKBefore(t, e.card, "11223344")
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"},
		UserPIN: "24681357", AdminPIN: "11223344"})
	if err != nil {
		t.Fatal(err)
	}
	pw := "correct horse battery staple"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	setup, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		c, err := totp.GenerateCodeCustom(setup.Secret, clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := e.svc.Identity.ConfirmTOTP(ctx, e.alice, code()); err != nil {
		t.Fatal(err)
	}
	clock.Add(identity.TOTPPeriod)
	keys, err := e.svc.Archive.Keys(ctx, e.alice.User.ID, "secure-email")
	if err != nil || len(keys) == 0 || keys[0].CardID != res.Card.ID {
		t.Fatalf("archived keys %+v, %v", keys, err)
	}
	rec, err := e.svc.Archive.RecoverOwn(ctx, e.alice, archive.RecoverInput{KeyID: keys[0].ID, Password: "Recover-Me-2026", AccountPassword: pw, Code: code()})
	if err != nil {
		t.Fatal(err)
	}
	onCard, err := pivOf(t, e.card).Certificate(ctx, pivspec.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, b []byte) {
		if err := os.WriteFile(f(name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("key.p12", rec.PFX)
	write("card.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: onCard.Raw}))
	write("msg.txt", []byte("minutes of the board\n"))
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("pkcs12", "-in", f("key.p12"), "-passin", "pass:Recover-Me-2026", "-nodes", "-nocerts", "-out", f("key.pem"))
	run("cms", "-encrypt", "-binary", "-aes256", "-in", f("msg.txt"), "-out", f("msg.cms"), "-outform", "DER", f("card.pem"))
	run("cms", "-decrypt", "-in", f("msg.cms"), "-inform", "DER", "-inkey", f("key.pem"), "-recip", f("card.pem"), "-out", f("msg.out"))
	if out, _ := os.ReadFile(f("msg.out")); string(out) != "minutes of the board\n" {
		t.Fatalf("mail encrypted to the card's certificate decrypted to %q with the recovered key", out)
	}
}
