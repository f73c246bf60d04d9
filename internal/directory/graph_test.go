package directory

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClosure(t *testing.T) {
	g := graph{
		"cn=admins":    {Parents: []string{"cn=engineers"}},
		"cn=engineers": {Parents: []string{"cn=staff"}},
		"cn=staff":     {},
		"cn=a":         {Parents: []string{"cn=b"}}, // a cycle, which AD allows
		"cn=b":         {Parents: []string{"cn=a"}},
	}
	for _, tc := range []struct {
		direct []string
		want   []string
	}{
		{nil, []string{}},
		{[]string{"cn=admins"}, []string{"cn=admins", "cn=engineers", "cn=staff"}},
		{[]string{"cn=engineers", "cn=staff"}, []string{"cn=engineers", "cn=staff"}},
		{[]string{"cn=a"}, []string{"cn=a", "cn=b"}},
		{[]string{"cn=elsewhere"}, []string{"cn=elsewhere"}},
	} {
		if got := g.closure(tc.direct); !slices.Equal(got, tc.want) {
			t.Errorf("closure(%v) = %v, want %v", tc.direct, got, tc.want)
		}
	}
}

func TestMembersUnder(t *testing.T) {
	before := graph{
		"cn=staff":     {Members: []string{"cn=engineers", "uid=eve"}},
		"cn=engineers": {Members: []string{"cn=admins", "uid=bob"}},
		"cn=admins":    {Members: []string{"uid=alice", "cn=staff"}}, // cycle
	}
	after := graph{
		"cn=staff":     {Members: []string{"cn=engineers", "uid=eve"}},
		"cn=engineers": {Members: []string{"uid=bob", "uid=dave"}},
	}
	users := map[string]bool{}
	membersUnder("cn=staff", users, map[string]bool{}, before, after)
	if got := sortedKeys(users); !slices.Equal(got, []string{"uid=alice", "uid=bob", "uid=dave", "uid=eve"}) {
		t.Errorf("membersUnder = %v", got)
	}
}

func TestDiff(t *testing.T) {
	if got := diff([]string{"a", "b", "d"}, []string{"b", "c", "d", "e"}); !slices.Equal(got, []string{"a", "c", "e"}) {
		t.Errorf("diff = %v", got)
	}
	if got := diff(nil, nil); len(got) != 0 {
		t.Errorf("diff(nil, nil) = %v", got)
	}
}

func TestDedupe(t *testing.T) {
	es := []Entry{
		{DN: "cn=a", ExternalID: "1", Login: "a", UPN: "x@example.com"},
		{DN: "cn=b", ExternalID: "2", Login: "b", UPN: "X@example.com"},
		{DN: "cn=c", ExternalID: "3", Login: "c", UPN: "c@example.com"},
	}
	probs := dedupe(es)
	if len(probs) != 2 || probs[0].DN != "cn=a" || probs[1].DN != "cn=b" || !strings.Contains(probs[0].Message, "UPN") {
		t.Fatalf("problems = %+v", probs)
	}
	if es[0].UPN != "" || es[1].UPN != "" || es[2].UPN != "c@example.com" {
		t.Errorf("UPNs after dedupe: %q %q %q", es[0].UPN, es[1].UPN, es[2].UPN)
	}
}

func TestStateJSON(t *testing.T) {
	st := State{s: &state{Version: stateVersion, Kind: KindAD, BaseDN: "dc=x", Mark: "42",
		Groups: map[string]*groupState{"cn=g,dc=x": {ID: "i", Parents: []string{"cn=p,dc=x"}, Members: []string{"cn=u,dc=x"}}}}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.IsZero() || back.s.Mark != "42" || back.s.Groups["cn=g,dc=x"].Members[0] != "cn=u,dc=x" {
		t.Errorf("round trip: %s → %+v", b, back.s)
	}
	var zero State
	if b, _ := json.Marshal(zero); string(b) != "null" {
		t.Errorf("zero State = %s", b)
	}
	if err := json.Unmarshal([]byte(`{"v":99}`), &back); !errors.Is(err, ErrStateKind) {
		t.Errorf("future version: %v", err)
	}
}

func TestOpenLDAPMark(t *testing.T) {
	seen := time.Date(2026, 12, 7, 22, 0, 10, 0, time.UTC)
	if m := openLDAPMark("", seen, 3*time.Second); m != "20261207220006Z" {
		t.Errorf("mark = %q", m)
	}
	// Never backwards.
	if m := openLDAPMark("20261207230000Z", seen, 0); m != "20261207230000Z" {
		t.Errorf("mark went back: %q", m)
	}
	if m := openLDAPMark("", time.Time{}, 0); m != "19700101000000Z" {
		t.Errorf("empty directory mark = %q", m)
	}
}

func TestValidate(t *testing.T) {
	good := func() Config {
		return Config{URL: "ldaps://dc1.example.com", BindDN: "cn=svc,dc=example,dc=com", BindPassword: "pw", BaseDN: "dc=example,dc=com", Kind: KindAD}
	}
	c := good()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PageSize != DefaultPageSize || c.Timeout != DefaultTimeout || c.Mapping.Login != "sAMAccountName" || c.UserFilter == "" || c.GroupFilter == "" {
		t.Errorf("defaults not filled: %+v", c)
	}
	o := good()
	o.Kind = KindOpenLDAP
	if err := o.Validate(); err != nil || o.Mapping.ExternalID != "entryUUID" {
		t.Errorf("openldap preset: %v %+v", err, o.Mapping)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"plain ldap to a remote host", func(c *Config) { c.URL = "ldap://dc1.example.com" }, "in clear"},
		{"StartTLS on ldaps", func(c *Config) { c.StartTLS = true }, "StartTLS"},
		{"scheme", func(c *Config) { c.URL = "http://dc1" }, "scheme"},
		{"no host", func(c *Config) { c.URL = "ldaps://" }, "no host"},
		{"path", func(c *Config) { c.URL = "ldaps://dc1/dc=x" }, "no path"},
		{"kind", func(c *Config) { c.Kind = "novell" }, "kind"},
		{"no password", func(c *Config) { c.BindPassword = "" }, "password"},
		{"base", func(c *Config) { c.BaseDN = "not a dn" }, "base DN"},
		{"filter", func(c *Config) { c.UserFilter = "(uid=a" }, "user filter"},
		{"CA", func(c *Config) { c.CAPEM = []byte("junk") }, "CA bundle"},
		{"page size", func(c *Config) { c.PageSize = -1 }, "page size"},
	} {
		c := good()
		tc.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	for _, u := range []string{"ldap://127.0.0.1:3389", "ldap://localhost", "ldap://[::1]:389"} {
		c := good()
		c.URL = u
		if err := c.Validate(); err != nil {
			t.Errorf("loopback %s refused: %v", u, err)
		}
	}
	if Preset(KindAD) != PresetAD() || Preset(KindOpenLDAP) != PresetOpenLDAP() || Preset("x") != (Mapping{}) {
		t.Error("Preset")
	}
	s := good()
	s.URL, s.StartTLS = "ldap://dc1.example.com", true
	if err := s.Validate(); err != nil {
		t.Errorf("StartTLS refused: %v", err)
	}
}

func TestSyncRemoved(t *testing.T) {
	known := []string{"a", "b", "c"}
	// Delete phase: the deleted IDs we knew.
	del := &syncResult{deleted: []string{"c", "x", "a"}, present: map[string]bool{}}
	if got := syncRemoved(del, known); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("delete phase: %v", got)
	}
	// Present phase: every known ID not reported.
	pre := &syncResult{presentPhase: true, present: map[string]bool{"b": true, "y": true}}
	if got := syncRemoved(pre, known); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("present phase: %v", got)
	}
}
