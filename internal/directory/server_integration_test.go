//go:build integration

package directory_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"

	"github.com/lanyard-cms/lanyard/internal/directory"
)

// server is one real directory the tests read: the Samba AD DC of
// scripts/samba-test.sh or the slapd of scripts/slapd-test.sh.
type server struct {
	kind  string
	spec  map[string]string
	cfg   directory.Config // the service account's, base DN = the whole tree
	admin *ldap.Conn
}

// servers returns both servers; a missing variable fails the test (make
// test sets them).
func servers(t *testing.T) []*server {
	t.Helper()
	var out []*server
	for _, s := range []struct{ env, kind string }{{"LANYARD_TEST_SAMBA", directory.KindAD}, {"LANYARD_TEST_SLAPD", directory.KindOpenLDAP}} {
		out = append(out, openServer(t, s.env, s.kind))
	}
	return out
}

func parseSpec(t testing.TB, env string) map[string]string {
	v := os.Getenv(env)
	if v == "" {
		t.Fatalf("%s is not set: run scripts/%s-test.sh (make test sets it)", env, map[string]string{"LANYARD_TEST_SAMBA": "samba", "LANYARD_TEST_SLAPD": "slapd"}[env])
	}
	spec := map[string]string{}
	for _, f := range strings.Fields(v) {
		k, val, _ := strings.Cut(f, "=")
		spec[k] = val
	}
	return spec
}

func openServer(t testing.TB, env, kind string) *server {
	t.Helper()
	spec := parseSpec(t, env)
	ca, err := os.ReadFile(spec["ca"])
	if err != nil {
		t.Fatal(err)
	}
	s := &server{kind: kind, spec: spec, cfg: directory.Config{
		URL: spec["url"], CAPEM: ca, BindDN: spec["bind"], BindPassword: spec["password"],
		BaseDN: spec["base"], Kind: kind, PageSize: 100,
	}}
	s.admin = s.dialAdmin(t, spec["bind"])
	return s
}

func (s *server) dialAdmin(t testing.TB, bind string) *ldap.Conn {
	t.Helper()
	cfg := s.cfg
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	l, err := ldap.DialURL(cfg.URL, ldap.DialWithTLSConfig(tlsFor(t, cfg)))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(bind, s.spec["password"]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// unique is a short random name part, so runs repeat on one server.
func unique() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// fixture is one test's own subtree: OU=People, OU=Moved, OU=Groups.
type fixture struct {
	s      *server
	t      testing.TB
	ou     string // the subtree's DN, the Config's base DN
	tag    string
	pw     string // every user's password
	cfg    directory.Config
	people string
	groups string
}

func (s *server) fixture(t testing.TB) *fixture {
	t.Helper()
	tag := unique()
	f := &fixture{s: s, t: t, tag: tag, pw: "Pw-" + unique() + "-Aa1"}
	rdn := "OU=t" + tag
	if s.kind == directory.KindOpenLDAP {
		rdn = "ou=t" + tag
	}
	f.ou = rdn + "," + s.spec["base"]
	f.add(f.ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	for _, sub := range []string{"People", "Moved", "Groups"} {
		f.add("OU="+sub+","+f.ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	}
	f.people, f.groups = "OU=People,"+f.ou, "OU=Groups,"+f.ou
	f.cfg = s.cfg
	f.cfg.BaseDN = f.ou
	return f
}

func (f *fixture) add(dn string, attrs map[string][]string) {
	f.t.Helper()
	req := ldap.NewAddRequest(dn, nil)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		req.Attribute(k, attrs[k])
	}
	if err := f.s.admin.Add(req); err != nil {
		f.t.Fatalf("add %s: %v", dn, err)
	}
}

func (f *fixture) modify(dn string, edit func(*ldap.ModifyRequest)) {
	f.t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	edit(req)
	if err := f.s.admin.Modify(req); err != nil {
		f.t.Fatalf("modify %s: %v", dn, err)
	}
}

// login is the user's login in this fixture (AD's sAMAccountName is
// domain-wide, at most 20 characters).
func (f *fixture) login(name string) string { return name + f.tag }

func (f *fixture) mail(name string) string { return name + "." + f.tag + "@lanyard.test" }

// userDN is where user name lives (in People).
func (f *fixture) userDN(name string) string {
	if f.s.kind == directory.KindAD {
		return "CN=" + name + "," + f.people
	}
	return "uid=" + f.login(name) + "," + f.people
}

func (f *fixture) groupDN(name string) string { return "CN=" + name + "," + f.groups }

// user adds a user with the fixture's password; manager is a user name.
func (f *fixture) user(name, manager string, disabled bool) string {
	dn := f.userDN(name)
	a := map[string][]string{"mail": {f.mail(name)}}
	if manager != "" {
		a["manager"] = []string{f.userDN(manager)}
	}
	if f.s.kind == directory.KindAD {
		a["objectClass"] = []string{"user"}
		a["sAMAccountName"] = []string{f.login(name)}
		a["userPrincipalName"] = []string{f.login(name) + "@lanyard.test"}
		a["displayName"] = []string{strings.ToUpper(name[:1]) + name[1:] + " " + f.tag}
		a["unicodePwd"] = []string{adPassword(f.pw)}
		uac := "512"
		if disabled {
			uac = "514"
		}
		a["userAccountControl"] = []string{uac}
	} else {
		a["objectClass"] = []string{"inetOrgPerson"}
		a["uid"] = []string{f.login(name)}
		a["cn"] = []string{strings.ToUpper(name[:1]) + name[1:] + " " + f.tag}
		a["sn"] = []string{f.tag}
		a["userPassword"] = []string{f.pw}
		if disabled {
			a["pwdAccountLockedTime"] = []string{"000001010000Z"}
		}
	}
	f.add(dn, a)
	return dn
}

// group adds a group with the given member DNs.
func (f *fixture) group(name string, members ...string) string {
	dn := f.groupDN(name)
	a := map[string][]string{"member": members}
	if f.s.kind == directory.KindAD {
		a["objectClass"] = []string{"group"}
		a["sAMAccountName"] = []string{name + f.tag}
		if len(members) == 0 {
			delete(a, "member")
		}
	} else {
		a["objectClass"] = []string{"groupOfNames"}
		a["cn"] = []string{name}
	}
	f.add(dn, a)
	return dn
}

// adPassword encodes unicodePwd: the quoted password in UTF-16LE
// (MS-ADTS 3.1.1.3.1.5.1).
func adPassword(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

func norm(t testing.TB, dns ...string) []string {
	t.Helper()
	out := []string{}
	for _, d := range dns {
		n, err := directory.NormalizeDN(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func byLogin(entries []directory.Entry) map[string]directory.Entry {
	m := map[string]directory.Entry{}
	for _, e := range entries {
		m[e.Login] = e
	}
	return m
}

func byID(entries []directory.Entry) map[string]directory.Entry {
	m := map[string]directory.Entry{}
	for _, e := range entries {
		m[e.ExternalID] = e
	}
	return m
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func equalEntry(a, b directory.Entry) bool {
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

func tlsFor(t testing.TB, cfg directory.Config) *tls.Config {
	t.Helper()
	u, err := url.Parse(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cfg.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: u.Hostname()}
}

// otherCA is a CA certificate that signed nothing the servers hold.
func otherCA(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the directory's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
