//go:build integration

package directory_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// adPassword is unicodePwd's value: the quoted password in UTF-16LE
// (MS-ADTS 3.1.1.3.1.5.1).
func adPassword(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

// TestSyncFromActiveDirectory: the capability with its real reader
// against the Samba AD DC of scripts/samba-test.sh (LANYARD_TEST_SAMBA;
// make test sets it), in an OU of this test's own: a full sync creates
// the users with UPN, manager, nested groups and a disabled account; a
// user signs in with their AD password; a user disabled in AD
// (userAccountControl ACCOUNTDISABLE) is disabled by the next sync, their
// card disabled and its certificate put on hold in that sync; enabled
// again in AD, the account comes back and the card stays disabled.
func TestSyncFromActiveDirectory(t *testing.T) {
	srv := openDirectory(t, "LANYARD_TEST_SAMBA", "samba-test.sh")
	tag := srv.tag
	ou := srv.add("OU=dirsync"+tag+","+srv.spec["base"], map[string][]string{"objectClass": {"organizationalUnit"}})
	pw := "Pw-" + tag + "-Aa1"
	user := func(name, manager string, uac string) string {
		a := map[string][]string{"objectClass": {"user"}, "sAMAccountName": {name + tag}, "userPrincipalName": {name + tag + "@lanyard.test"},
			"displayName": {strings.ToUpper(name[:1]) + name[1:] + " " + tag}, "mail": {name + "." + tag + "@lanyard.test"},
			"unicodePwd": {adPassword(pw)}, "userAccountControl": {uac}}
		if manager != "" {
			a["manager"] = []string{manager}
		}
		return srv.add("CN="+name+","+ou, a)
	}
	annDN := user("ann", "", "512")
	benDN := user("ben", annDN, "512")
	user("cat", "", "514")
	inner := srv.add("CN=inner"+tag+","+ou, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"inner" + tag}, "member": {annDN}})
	outer := srv.add("CN=outer"+tag+","+ou, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"outer" + tag}, "member": {inner, benDN}})

	stack := servicetest.New(t, servicetest.Options{})
	e := &env{stack: stack, dir: stack.Service.Directory, admin: stack.Admin}
	bindPW := srv.spec["password"]
	src, err := e.dir.CreateSource(t.Context(), e.admin, directory.SourceInput{Name: "samba", Kind: "ad", URL: srv.spec["url"], CAPEM: string(srv.ca),
		BindDN: srv.spec["bind"], BindPassword: &bindPW, BaseDN: ou, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	rep := e.sync(t, false)
	if !rep.Full || rep.Created != 3 || len(rep.Errors) != 0 {
		t.Fatalf("full sync: %+v", rep)
	}
	ann, ben, cat := e.user(t, "ann"+tag), e.user(t, "ben"+tag), e.user(t, "cat"+tag)
	if ann.UPN != "ann"+tag+"@lanyard.test" || ann.DisplayName != "Ann "+tag || ann.Email != "ann."+tag+"@lanyard.test" || len(ann.ExternalID) != 36 {
		t.Errorf("ann = %+v", ann)
	}
	if !slices.Contains(ann.Groups, directory.NormalizeDN(outer)) || !slices.Contains(ann.Groups, directory.NormalizeDN(inner)) {
		t.Errorf("ann's groups %v, want %s through %s", ann.Groups, outer, inner)
	}
	if ben.ManagerEmail != ann.Email || !cat.Disabled || ann.Disabled || ben.Disabled {
		t.Errorf("ben's manager %q (want %q), disabled ann %v ben %v cat %v", ben.ManagerEmail, ann.Email, ann.Disabled, ben.Disabled, cat.Disabled)
	}

	if _, err := stack.Service.Identity.Login(t.Context(), "ann"+tag, pw, "192.0.2.9"); err != nil {
		t.Fatalf("ann's AD sign-in: %v", err)
	}
	_, err = stack.Service.Identity.Login(t.Context(), "ann"+tag, pw+"x", "192.0.2.9")
	servicetest.WantErr(t, "wrong AD password", err, lanyard.EUnauthenticated, "")

	// ben leaves: disabled in AD; the next sync disables his card.
	card, cert := e.issued(t, ben, "7"+tag[:4])
	srv.replace(benDN, "userAccountControl", "514")
	rep = e.sync(t, false)
	if rep.Full || rep.Disabled != 1 || rep.CardsChanged != 1 {
		t.Errorf("incremental sync after the leaver: %+v", rep)
	}
	if !e.user(t, "ben"+tag).Disabled || e.card(t, card.ID).State != lanyard.CardDisabled || !e.cert(t, cert.ID).OnHold() {
		t.Error("the leaver, their card or its certificate is not disabled")
	}
	_, err = stack.Service.Identity.Login(t.Context(), "ben"+tag, pw, "192.0.2.9")
	servicetest.WantErr(t, "the leaver's sign-in", err, lanyard.EUnauthenticated, "")

	// Back in AD: enabled again; the card waits for an operator.
	srv.replace(benDN, "userAccountControl", "512")
	if rep = e.sync(t, false); rep.Enabled != 1 {
		t.Errorf("sync after the return: %+v", rep)
	}
	if e.user(t, "ben"+tag).Disabled || e.card(t, card.ID).State != lanyard.CardDisabled {
		t.Error("the returner is still disabled, or their card was enabled")
	}
	storetest.MustView(t, stack.Store, func(tx lanyard.Tx) error {
		m, err := tx.DirectoryUsers(src.ID)
		if len(m) != 3 {
			t.Errorf("%d directory users, want 3", len(m))
		}
		return err
	})
}

// TestADGroupPolicyDecidesIssue: a policy linked to an Active Directory
// group decides what its members can issue. The policy names the outer
// group in AD's own spelling; ann is in it through a nested group, ben
// directly, dan not at all. After a sync from the Samba AD DC, ann's and
// ben's Issue card dialogs offer the group policy's template and dan's
// the default policy's; ann's card, issued on an emulated card, holds
// exactly the group policy's certificate. Moving ann out of the nested
// group hands her the default policy at the next sync.
func TestADGroupPolicyDecidesIssue(t *testing.T) {
	srv := openDirectory(t, "LANYARD_TEST_SAMBA", "samba-test.sh")
	tag := srv.tag
	ou := srv.add("OU=adpolicy"+tag+","+srv.spec["base"], map[string][]string{"objectClass": {"organizationalUnit"}})
	user := func(name string) string {
		return srv.add("CN="+name+","+ou, map[string][]string{"objectClass": {"user"}, "sAMAccountName": {name + tag},
			"userPrincipalName": {name + tag + "@lanyard.test"}, "mail": {name + "." + tag + "@lanyard.test"}, "userAccountControl": {"512"},
			"unicodePwd": {adPassword("Pw-" + tag + "-Aa1")}})
	}
	annDN, benDN := user("ann"), user("ben")
	user("dan")
	inner := srv.add("CN=Card Inner "+tag+","+ou, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"cinner" + tag}, "member": {annDN}})
	outer := srv.add("CN=Card Users "+tag+","+ou, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"cusers" + tag}, "member": {inner, benDN}})

	access := cardtest.New()
	stack := servicetest.New(t, servicetest.Options{Cards: access})
	svc := stack.Service
	e := &env{stack: stack, dir: svc.Directory, admin: stack.Admin}
	bindPW := srv.spec["password"]
	src, err := e.dir.CreateSource(t.Context(), e.admin, directory.SourceInput{Name: "samba", Kind: "ad", URL: srv.spec["url"], CAPEM: string(srv.ca),
		BindDN: srv.spec["bind"], BindPassword: &bindPW, BaseDN: ou, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	if rep := e.sync(t, false); rep.Created != 3 || len(rep.Errors) != 0 {
		t.Fatalf("full sync: %+v", rep)
	}

	def, err := svc.Catalog.GetPolicy(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	pol := catalog.NewPolicyInput()
	pol.Name, pol.Priority = "card-users", 10
	pol.Settings = def.Settings
	pol.Settings.Certificates.Required, pol.Settings.Certificates.Optional = []string{"secure-email"}, []string{}
	pol.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignGroup, Name: outer}} // as AD spells it
	if _, err := svc.Catalog.CreatePolicy(t.Context(), e.admin, pol); err != nil {
		t.Fatal(err)
	}

	required := func(login string, ws int64) []string {
		t.Helper()
		u := e.user(t, login+tag)
		p := &lanyard.Principal{User: u, Roles: u.Roles, Session: true}
		access.Add(t, ws, u.ID, "Reader "+login)
		o, err := svc.Cards.IssueOptions(t.Context(), p, cardops.CardTarget{WorkstationID: ws, Reader: "Reader " + login})
		if err != nil {
			t.Fatalf("%s's issue options: %v", login, err)
		}
		var names []string
		for _, tpl := range o.Required {
			names = append(names, tpl.Name)
		}
		return names
	}
	for _, tc := range []struct {
		login string
		ws    int64
		want  string
	}{{"ann", 1, "secure-email"}, {"ben", 2, "secure-email"}, {"dan", 3, "smartcard-logon"}} {
		if got := required(tc.login, tc.ws); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s may issue %v, want [%s]", tc.login, got, tc.want)
		}
	}

	ann := e.user(t, "ann"+tag)
	res, err := svc.Cards.IssueCard(t.Context(), &lanyard.Principal{User: ann, Roles: ann.Roles, Session: true},
		cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: "Reader ann"}, UserPIN: "24681357"})
	if err != nil {
		t.Fatalf("ann's issue: %v", err)
	}
	var tpls []string
	storetest.MustView(t, stack.Store, func(tx lanyard.Tx) error {
		certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: res.Card.ID})
		for _, c := range certs {
			tpls = append(tpls, c.Template)
		}
		return err
	})
	if !slices.Equal(tpls, []string{"secure-email"}) {
		t.Errorf("ann's card holds %v, want the group policy's [secure-email]", tpls)
	}

	// ann leaves the nested group: the next sync gives her the default.
	srv.replace(inner, "member") // inner held only ann
	if rep := e.sync(t, false); rep.Updated != 1 {
		t.Errorf("sync after the move: %+v", rep)
	}
	p, err := svc.Catalog.EffectivePolicy(t.Context(), e.admin, "ann"+tag)
	if err != nil || p.Name != "default" {
		t.Errorf("ann's policy after the move: %v, %v", p, err)
	}
}
