//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
)

// TestArchivedKeyRecoveredOntoReplacementCard is key archival's promise
// end to end, through pcscd, vpcd, OpenSC and OpenSSL: gus's card is
// issued with an encryption template that archives its key (RSA 2048,
// key encipherment, e-mail protection); a message is S/MIME-encrypted to
// the certificate read from the card (openssl cms -encrypt); the card is
// lost and the help desk replaces it for good. The new card has a new
// key in 9D and the old card's key in retired slot 82, which OpenSC
// lists (the Key History Object counts it); OpenSC decrypts the
// message's content-encryption key with it (pkcs11-tool --decrypt,
// RSA-PKCS) and openssl decrypts the content with that key: the text is
// the one sent. Gus is told by e-mail that his earlier key was put on
// the new card.
func TestArchivedKeyRecoveredOntoReplacementCard(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	gus, _ := s.user("gus")
	olga, _ := s.user("olga", lanyard.RoleOperator)
	carl, _ := s.user("carl", lanyard.RoleCAManager)
	m := s.startMail()
	s.archiveSecureEmail()
	s.pair("gus")

	lost := newVCard(t)
	s.insert(lost)
	var res apiv1.IssueCardResult
	if _, err := gus.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), Templates: []string{"secure-email"}, UserPIN: "24682468"}, &res); err != nil {
		t.Fatal(err)
	}
	s.agent.stop(t)
	oldCert := openToken(t, s.reader).cert("03")
	if oldCert.PublicKeyAlgorithm != x509.RSA {
		t.Fatalf("the secure-email certificate has a %v key, want RSA", oldCert.PublicKeyAlgorithm)
	}
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	const text = "minutes of the board, encrypted to gus's first card\n"
	if err := os.WriteFile(f("msg.txt"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	writePEM(t, f("old.pem"), oldCert.Raw)
	runTool(t, "openssl", "cms", "-encrypt", "-binary", "-aes256", "-in", f("msg.txt"), "-outform", "DER", "-out", f("msg.cms"), f("old.pem"))

	// Lost: the help desk requests the recovery of gus's key and an
	// administrator approves it with his step-up (dual control); the
	// help desk replaces the card for good with that request; a CA
	// manager approves the new card's certificates (four eyes), the help
	// desk continues.
	var keys []apiv1.ArchivedKey
	if err := olga.Get(ctx, "/api/v1/users/gus/archived-keys", &keys); err != nil || len(keys) != 1 {
		t.Fatalf("gus's archived keys %+v, %v", keys, err)
	}
	var req apiv1.KeyRecoveryRequest
	if _, err := olga.Post(ctx, "/api/v1/key-recoveries", apiv1.KeyRecoveryRequestInput{ArchivedKeyID: keys[0].ID, Reason: "gus lost his card"}, &req); err != nil {
		t.Fatal(err)
	}
	adam, _ := s.user("adam", lanyard.RoleAdministrator)
	adamSecret := enrollAuthenticator(t, adam)
	if _, err := adam.Post(ctx, "/api/v1/key-recoveries/"+itoa(req.ID)+"/approve", apiv1.KeyRecoveryDecision{Comment: "checked with gus", AccountPassword: password, Code: codeAt(t, adamSecret, 30*time.Second)}, nil); err != nil {
		t.Fatal(err)
	}
	s.restartAgent()
	s.pull(lost)
	second := newVCard(t)
	s.insert(second)
	const pin = "13571357"
	var rep apiv1.ReplaceCardResult
	if _, err := olga.Post(ctx, "/api/v1/cards/"+itoa(res.Card.ID)+"/replace", apiv1.ReplaceCardInput{Reason: "lost", WorkstationID: s.ws, Reader: s.reader, UserPIN: pin,
		Recovery: &apiv1.HistoryAuthority{Requests: []int64{req.ID}}}, &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Card.Certificates {
		if c.RequestID != 0 {
			if _, err := carl.Post(ctx, "/api/v1/requests/"+itoa(c.RequestID)+"/approve", apiv1.Decision{Comment: "lost card"}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	var done apiv1.IssueCardResult
	if _, err := olga.Post(ctx, "/api/v1/cards/"+itoa(rep.Card.ID)+"/continue", apiv1.ContinueInput{CardTarget: s.target(), UserPIN: pin}, &done); err != nil {
		t.Fatal(err)
	}
	if done.State != string(lanyard.CardIssued) {
		t.Fatalf("the replacement card is %s, want issued", done.State)
	}

	s.agent.stop(t)
	tk := openToken(t, s.reader)
	out := tk.run("--login", "--pin", pin, "--list-objects")
	for _, want := range []string{"Retired Certificate for Key Management 1", "Retired KEY MAN 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("OpenSC does not list %q on the replacement card:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Retired Certificate for Key Management 2") {
		t.Errorf("OpenSC lists a second retired key:\n%s", out)
	}
	if got := tk.cert("05"); !bytes.Equal(got.Raw, oldCert.Raw) {
		t.Fatalf("retired slot 82 holds %s, want the lost card's certificate", got.Subject)
	}
	if got := tk.cert("03"); bytes.Equal(got.Raw, oldCert.Raw) || bytes.Equal(got.RawSubjectPublicKeyInfo, oldCert.RawSubjectPublicKeyInfo) {
		t.Fatal("slot 9D of the replacement card holds the old key: it must get a new one")
	}

	// The old mail opens with the new card.
	env := parseEnveloped(t, f("msg.cms"))
	if err := os.WriteFile(f("ek"), env.encryptedKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f("content"), env.content, 0o600); err != nil {
		t.Fatal(err)
	}
	tk.run("--login", "--pin", pin, "--decrypt", "--id", "05", "-m", "RSA-PKCS", "-i", f("ek"), "-o", f("cek"))
	cek, err := os.ReadFile(f("cek"))
	if err != nil || len(cek) != 32 {
		t.Fatalf("pkcs11-tool gave a %d-byte content-encryption key (%v), want AES-256's 32", len(cek), err)
	}
	runTool(t, "openssl", "enc", "-d", "-aes-256-cbc", "-K", hex.EncodeToString(cek), "-iv", hex.EncodeToString(env.iv), "-in", f("content"), "-out", f("msg.out"))
	if got, _ := os.ReadFile(f("msg.out")); string(got) != text {
		t.Fatalf("the mail encrypted to the lost card decrypted with the replacement card to %q, want %q", got, text)
	}

	s.deliver()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found bool
		for _, msg := range mailpittest.Find(t, m.api, "gus@example.com") {
			found = found || msg.Subject == "Your earlier encryption keys were put on your card" && strings.Contains(msg.Text, oldCert.SerialNumber.Text(16))
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gus was not told that his earlier key was put on the replacement card")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// archiveSecureEmail makes the secure-email template an encryption
// template that archives its key: RSA 2048, key encipherment, e-mail
// protection.
func (s *stack) archiveSecureEmail() {
	s.t.Helper()
	ctx := context.Background()
	var tpl lanyard.Template
	if err := s.admin.Get(ctx, "/api/v1/templates/secure-email", &tpl); err != nil {
		s.t.Fatal(err)
	}
	tpl.KeyAlgs, tpl.KeyUsage, tpl.ExtKeyUsage, tpl.KeyArchival = []lanyard.KeyAlgorithm{lanyard.RSA2048}, []string{lanyard.KUKeyEncipherment},
		[]string{lanyard.EKUEmailProtection}, true
	if _, err := s.admin.Do(ctx, http.MethodPut, "/api/v1/templates/secure-email", &tpl, nil); err != nil {
		s.t.Fatal(err)
	}
}

// cert reads the certificate with PKCS #11 id from the token.
func (tk *token) cert(id string) *x509.Certificate {
	tk.t.Helper()
	der := filepath.Join(tk.dir, "cert-"+id+".der")
	tk.run("--read-object", "--type", "cert", "--id", id, "-o", der)
	b, err := os.ReadFile(der)
	if err != nil {
		tk.t.Fatal(err)
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		tk.t.Fatalf("certificate %s does not parse: %v", id, err)
	}
	return c
}

// enveloped is what decrypting a CMS EnvelopedData (RFC 5652, 6.1) with
// one key transport recipient takes: the encrypted content-encryption
// key, and the AES-256-CBC content with its IV.
type enveloped struct {
	encryptedKey, iv, content []byte
}

// parseEnveloped reads the DER CMS message at path (openssl cms -encrypt
// -outform DER) into its parts. Only the structure is read here; the
// decryption is OpenSC's and OpenSSL's.
func parseEnveloped(t *testing.T, path string) enveloped {
	t.Helper()
	type algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	type keyTrans struct {
		Version      int
		Recipient    asn1.RawValue
		KeyAlgorithm algorithm
		EncryptedKey []byte
	}
	type contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	type envelopedData struct {
		Version    int
		Recipients []keyTrans `asn1:"set"`
		Encrypted  struct {
			ContentType asn1.ObjectIdentifier
			Algorithm   algorithm
			Content     []byte `asn1:"optional,tag:0"`
		}
	}
	der, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ci contentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil || !ci.ContentType.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}) {
		t.Fatalf("the CMS message is not EnvelopedData: %v %v", ci.ContentType, err)
	}
	var ed envelopedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
		t.Fatalf("EnvelopedData: %v", err)
	}
	if len(ed.Recipients) != 1 || !ed.Recipients[0].KeyAlgorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}) {
		t.Fatalf("want one RSA key transport recipient: %+v", ed.Recipients)
	}
	if !ed.Encrypted.Algorithm.Algorithm.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}) {
		t.Fatalf("content encrypted with %v, want AES-256-CBC", ed.Encrypted.Algorithm.Algorithm)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(ed.Encrypted.Algorithm.Parameters.FullBytes, &iv); err != nil || len(iv) != 16 {
		t.Fatalf("AES-256-CBC IV: %x %v", iv, err)
	}
	return enveloped{encryptedKey: ed.Recipients[0].EncryptedKey, iv: iv, content: ed.Encrypted.Content}
}
