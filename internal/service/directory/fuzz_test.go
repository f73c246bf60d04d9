package directory

import (
	"net/url"
	"testing"

	ldapdir "github.com/lanyard-cms/lanyard/internal/directory"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// FuzzSourceSettings: the URL and mapping checks never panic, and a URL
// they accept never sends a bind password in the clear (ldaps://, or
// ldap:// with StartTLS, or ldap:// to a loopback address).
func FuzzSourceSettings(f *testing.F) {
	f.Add("ldaps://dc.example.com:636", false, `{"login":"uid"}`)
	f.Add("ldap://dc.example.com", true, "")
	f.Add("ldap://127.0.0.1:389", false, `{"BinaryGUID":true}`)
	f.Add("ldap://[::1]", false, `[]`)
	f.Add("ldap://dc.example.com", false, `{"shoe":"x"}`)
	f.Fuzz(func(t *testing.T, raw string, startTLS bool, mapping string) {
		if checkURL(raw, startTLS) == nil {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("accepted %q, which does not parse", raw)
			}
			if u.Scheme == "ldap" && !startTLS && !loopback(u.Hostname()) {
				t.Fatalf("accepted %q in the clear", raw)
			}
			if u.Scheme != "ldap" && u.Scheme != "ldaps" {
				t.Fatalf("accepted scheme %q", u.Scheme)
			}
		}
		var m ldapdir.Mapping
		if err := parseMapping("ad", mapping, &m); err != nil && !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Fatalf("mapping %q: %v", mapping, err)
		}
	})
}
