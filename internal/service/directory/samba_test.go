//go:build integration

package directory_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
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
