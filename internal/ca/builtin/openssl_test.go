package builtin_test

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/ca/catest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestOpenSSL has an independent implementation judge the CA's output:
// the chain verifies, the UPN otherName and the URLs are where Windows and
// OpenSSL look for them, the CRL and OCSP responses verify and say what
// they should. OpenSSL is a required test dependency: this test fails
// rather than skips without it.
func TestOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is required for this test (apt-get install openssl): %v", err)
	}
	for _, tc := range []struct {
		caAlg   string
		leafAlg lanyard.KeyAlgorithm
	}{{"ecp256", lanyard.RSA2048}, {"rsa2048", lanyard.ECP256}} {
		t.Run("ca="+tc.caAlg, func(t *testing.T) {
			c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), time.Now, map[string]string{"key_algorithm": tc.caAlg}))
			issuing, root := mustChain(t, c)
			leaf := mustSign(t, c, logonTemplate(), leafKey(t, tc.leafAlg).Public())
			revoked := mustSign(t, c, logonTemplate(), leafKey(t, tc.leafAlg).Public())
			now := time.Now()
			crl, err := c.CreateCRL(t.Context(), 7, []ca.RevokedEntry{{Serial: revoked.SerialNumber, RevokedAt: now.Add(-time.Minute), Reason: lanyard.ReasonKeyCompromise}}, now.Add(-time.Minute), now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			good, err := c.SignOCSP(t.Context(), ca.OCSPStatus{Serial: leaf.SerialNumber, Good: true, NextUpdate: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			bad, err := c.SignOCSP(t.Context(), ca.OCSPStatus{Serial: revoked.SerialNumber, RevokedAt: now.Add(-time.Minute), Reason: lanyard.ReasonKeyCompromise, NextUpdate: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			f := func(name string, data []byte) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			rootF, issuingF := f("root.pem", pemCert(root)), f("issuing.pem", pemCert(issuing))
			leafF, revokedF := f("leaf.pem", pemCert(leaf)), f("revoked.pem", pemCert(revoked))
			crlF := f("crl.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}))
			goodF, badF := f("good.der", good), f("bad.der", bad)
			openssl := func(wantOK bool, args ...string) string {
				t.Helper()
				out, err := exec.Command(bin, args...).CombinedOutput()
				if (err == nil) != wantOK {
					t.Fatalf("openssl %s: err=%v, want success=%v\n%s", strings.Join(args, " "), err, wantOK, out)
				}
				return string(out)
			}
			mustContain := func(out string, wants ...string) {
				t.Helper()
				for _, w := range wants {
					if !strings.Contains(out, w) {
						t.Errorf("openssl output lacks %q:\n%s", w, out)
					}
				}
			}

			out := openssl(true, "verify", "-purpose", "sslclient", "-CAfile", rootF, "-untrusted", issuingF, leafF)
			mustContain(out, leafF+": OK")

			out = openssl(true, "x509", "-text", "-noout", "-in", leafF)
			mustContain(out,
				"email:alice@corp.example",
				"Microsoft Smartcard Login", "TLS Web Client Authentication", "CA:FALSE",
				"URI:"+baseURL+"/crl/builtin.crl",
				"OCSP - URI:"+baseURL+"/ocsp",
				"CA Issuers - URI:"+baseURL+"/ca/builtin.crt",
				"Subject: O = Corp, CN = Alice Example",
			)

			// OpenSSL 3.0 prints "UPN::name", later releases "UPN:name".
			if !regexp.MustCompile(`othername: ?UPN::?alice@ad\.corp\.example`).MatchString(out) {
				t.Errorf("openssl does not show the UPN otherName:\n%s", out)
			}

			out = openssl(true, "crl", "-noout", "-in", crlF, "-CAfile", issuingF)
			mustContain(out, "verify OK")
			out = openssl(true, "verify", "-crl_check", "-CRLfile", crlF, "-CAfile", rootF, "-untrusted", issuingF, leafF)
			mustContain(out, leafF+": OK")
			out = openssl(false, "verify", "-crl_check", "-CRLfile", crlF, "-CAfile", rootF, "-untrusted", issuingF, revokedF)
			mustContain(out, "certificate revoked")

			out = openssl(true, "ocsp", "-respin", goodF, "-issuer", issuingF, "-CAfile", rootF, "-cert", leafF)
			mustContain(out, "Response verify OK", leafF+": good")
			out = openssl(true, "ocsp", "-respin", badF, "-issuer", issuingF, "-CAfile", rootF, "-cert", revokedF)
			mustContain(out, "Response verify OK", revokedF+": revoked", "Reason: keyCompromise")

			// And the request side: OpenSSL's request, with its nonce,
			// parses and is recognised as being about this CA.
			reqF := filepath.Join(dir, "req.der")
			openssl(true, "ocsp", "-issuer", issuingF, "-cert", leafF, "-reqout", reqF)
			reqDER, err := os.ReadFile(reqF)
			if err != nil {
				t.Fatal(err)
			}
			req, ok, err := c.ParseOCSPRequest(reqDER)
			if err != nil || !ok || req.Serial.Cmp(leaf.SerialNumber) != 0 {
				t.Fatalf("OpenSSL's OCSP request: ok=%v err=%v", ok, err)
			}
			if _, err := ocsp.ParseResponseForCert(good, leaf, issuing); err != nil {
				t.Fatal(err)
			}
		})
	}
}
