//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

// The checks after an issue use independent clients on the card in the
// vpcd reader: OpenSC's PKCS#11 module (through pkcs11-tool) lists and
// reads the certificates and signs with the user's PIN, openssl verifies
// the signatures and chains the certificates to the built-in CA.

// pkcs11IDs are OpenSC's PKCS#11 object IDs of the PIV key slots.
var pkcs11IDs = map[string]string{"9a": "01", "9c": "02", "9d": "03", "9e": "04"}

// openscModule finds OpenSC's PKCS#11 module: Debian's multiarch path on
// any architecture, then the other usual places.
func openscModule(t testing.TB) string {
	t.Helper()
	var found []string
	for _, pat := range []string{
		"/usr/lib/*-linux-gnu*/opensc-pkcs11.so",
		"/usr/lib/*-linux-gnu*/pkcs11/opensc-pkcs11.so",
		"/usr/lib64/opensc-pkcs11.so",
		"/usr/lib64/pkcs11/opensc-pkcs11.so",
		"/usr/lib/opensc-pkcs11.so",
		"/usr/lib/pkcs11/opensc-pkcs11.so",
		"/usr/local/lib/opensc-pkcs11.so",
	} {
		m, _ := filepath.Glob(pat)
		found = append(found, m...)
	}
	if len(found) == 0 {
		t.Fatal("OpenSC's PKCS#11 module (opensc-pkcs11.so) not found: run scripts/card-deps.sh (make test does)")
	}
	return found[0]
}

// token is the card in the vpcd reader as PKCS#11 sees it. The card must
// be free: no relay session open on it (stop the agent, or let its
// session end).
type token struct {
	t      *testing.T
	module string
	slot   string
	env    []string
	dir    string
}

// openToken finds the PKCS#11 slot of reader. OpenSC's file cache is off,
// so that what is read is what the card holds now.
func openToken(t *testing.T, reader string) *token {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "opensc.conf")
	if err := os.WriteFile(conf, []byte("app default {\n\tframework pkcs15 {\n\t\tuse_file_caching = no;\n\t}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tk := &token{t: t, module: openscModule(t), env: append(os.Environ(), "OPENSC_CONF="+conf), dir: dir}
	re := regexp.MustCompile(`Slot \d+ \((0x[0-9a-f]+)\): ` + regexp.QuoteMeta(reader))
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := tk.try("-L")
		m := re.FindStringSubmatch(out)
		if err == nil && m != nil && strings.Contains(out[strings.Index(out, m[0]):], "token label") {
			tk.slot = m[1]
			return tk
		}
		if time.Now().After(deadline) {
			t.Fatalf("pkcs11-tool -L shows no token in %q: %v\n%s", reader, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (tk *token) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := append([]string{"--module", tk.module}, args...)
	if tk.slot != "" {
		all = append([]string{"--module", tk.module, "--slot", tk.slot}, args...)
	}
	cmd := exec.CommandContext(ctx, "pkcs11-tool", all...)
	cmd.Env = tk.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (tk *token) run(args ...string) string {
	tk.t.Helper()
	out, err := tk.try(args...)
	if err != nil {
		tk.t.Fatalf("pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// certs reads every certificate on the card, by PIV slot.
func (tk *token) certs() map[string]*x509.Certificate {
	tk.t.Helper()
	out := tk.run("--list-objects", "--type", "cert")
	ids := regexp.MustCompile(`(?m)^\s*ID:\s+([0-9a-f]+)\s*$`).FindAllStringSubmatch(out, -1)
	got := map[string]*x509.Certificate{}
	for _, m := range ids {
		slot := ""
		for s, id := range pkcs11IDs {
			if id == m[1] {
				slot = s
			}
		}
		if slot == "" {
			tk.t.Fatalf("pkcs11-tool lists a certificate with unexpected ID %s:\n%s", m[1], out)
		}
		der := filepath.Join(tk.dir, "cert-"+slot+".der")
		tk.run("--read-object", "--type", "cert", "--id", m[1], "-o", der)
		b, err := os.ReadFile(der)
		if err != nil {
			tk.t.Fatal(err)
		}
		c, err := x509.ParseCertificate(b)
		if err != nil {
			tk.t.Fatalf("certificate in slot %s does not parse: %v", slot, err)
		}
		got[slot] = c
	}
	return got
}

// sign has the card sign a message with the key of slot after a login
// with pin, and openssl verify the signature with the public key of
// cert.
func (tk *token) sign(slot, pin string, cert *x509.Certificate) {
	tk.t.Helper()
	msg := filepath.Join(tk.dir, "msg-"+slot)
	if err := os.WriteFile(msg, []byte("signed by the card Lanyard issued, slot "+slot), 0o600); err != nil {
		tk.t.Fatal(err)
	}
	sig := filepath.Join(tk.dir, "sig-"+slot)
	args := []string{"--login", "--pin", pin, "--sign", "--id", pkcs11IDs[slot], "-i", msg, "-o", sig}
	switch cert.PublicKeyAlgorithm {
	case x509.ECDSA:
		args = append(args, "-m", "ECDSA-SHA256", "--signature-format", "openssl")
	case x509.RSA:
		args = append(args, "-m", "SHA256-RSA-PKCS")
	default:
		tk.t.Fatalf("slot %s: unexpected key algorithm %v", slot, cert.PublicKeyAlgorithm)
	}
	tk.run(args...)
	certFile := filepath.Join(tk.dir, "signer-"+slot+".pem")
	writePEM(tk.t, certFile, cert.Raw)
	pub := filepath.Join(tk.dir, "pub-"+slot+".pem")
	runTool(tk.t, "openssl", "x509", "-in", certFile, "-noout", "-pubkey", "-out", pub)
	if out := runTool(tk.t, "openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, msg); !strings.Contains(out, "Verified OK") {
		tk.t.Fatalf("openssl dgst -verify: %s", out)
	}
}

// signFails checks that a wrong PIN does not sign.
func (tk *token) signFails(slot, pin string) {
	tk.t.Helper()
	out, err := tk.try("--login", "--pin", pin, "--sign", "--id", pkcs11IDs[slot], "-m", "ECDSA-SHA256",
		"-i", "/dev/null", "-o", filepath.Join(tk.dir, "nope"))
	if err == nil || !strings.Contains(out, "CKR_PIN_INCORRECT") {
		tk.t.Fatalf("signing with PIN %q: %v\n%s", pin, err, out)
	}
}

// checkIssued checks the card against the server after an issue: the
// certificates on it are exactly the card's records (status written), one
// per slot wanted; the user's PIN signs with each (only with slot 9a when
// signAll is false); and openssl chains each to the built-in CA.
func (s *stack) checkIssued(tk *token, cardID int64, pin string, slots ...string) map[string]*x509.Certificate {
	s.t.Helper()
	certs := tk.certs()
	var have []string
	for sl := range certs {
		have = append(have, sl)
	}
	slices.Sort(have)
	want := slices.Clone(slots)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		s.t.Fatalf("the card holds certificates in slots %v, want %v", have, want)
	}
	v := s.cardView(cardID)
	if v.State != "issued" {
		s.t.Errorf("card %d is %s, want issued", cardID, v.State)
	}
	for sl, c := range certs {
		var rec *apiv1.CardCertificate
		for _, r := range v.Certificates {
			if r.Slot == sl {
				rec = r
			}
		}
		if rec == nil || !strings.EqualFold(rec.Serial, c.SerialNumber.Text(16)) {
			s.t.Errorf("slot %s holds certificate %x; the server records %+v", sl, c.SerialNumber, rec)
			continue
		}
		if rec.Status != "written" {
			s.t.Errorf("certificate in slot %s is %s on the server, want written", sl, rec.Status)
		}
	}
	if len(v.Certificates) != len(slots) {
		s.t.Errorf("the server records %d certificates for the card, want %d", len(v.Certificates), len(slots))
	}
	s.verifyChain(certs)
	if c := certs["9a"]; c != nil {
		tk.sign("9a", pin, c)
	}
	return certs
}

// verifyChain has openssl verify each certificate against the built-in
// CA's root, with its issuing certificate as untrusted intermediate.
func (s *stack) verifyChain(certs map[string]*x509.Certificate) {
	s.t.Helper()
	dir := s.t.TempDir()
	root, inter := s.caFiles(dir)
	for sl, c := range certs {
		f := filepath.Join(dir, sl+".pem")
		writePEM(s.t, f, c.Raw)
		out := runTool(s.t, "openssl", "verify", "-CAfile", root, "-untrusted", inter, f)
		if !strings.HasSuffix(strings.TrimSpace(out), ": OK") {
			s.t.Errorf("openssl verify of the slot %s certificate: %s", sl, out)
		}
	}
}

// caFiles writes the built-in CA's root and issuing certificates (PEM)
// into dir and returns their paths.
func (s *stack) caFiles(dir string) (root, issuing string) {
	s.t.Helper()
	var cas []*apiv1.CAInfo
	if err := s.admin.Get(context.Background(), "/api/v1/cas", &cas); err != nil || len(cas) == 0 {
		s.t.Fatalf("GET /cas: %v %v", cas, err)
	}
	var chain [][]byte
	rest := []byte(cas[0].Chain)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		chain = append(chain, b.Bytes)
	}
	if len(chain) < 2 {
		s.t.Fatalf("the CA chain has %d certificates, want issuing and root", len(chain))
	}
	root, issuing = filepath.Join(dir, "root.pem"), filepath.Join(dir, "issuing.pem")
	writePEM(s.t, root, chain[len(chain)-1])
	writePEM(s.t, issuing, chain[:len(chain)-1]...)
	return root, issuing
}

func writePEM(t *testing.T, path string, ders ...[]byte) {
	t.Helper()
	var buf bytes.Buffer
	for _, d := range ders {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: d})
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runTool runs a program and returns its combined output.
func runTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
