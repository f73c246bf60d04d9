//go:build integration

package ui_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserDirectory: an administrator adds a directory source in the
// console (the bind password is not shown back), a Dry run against a
// directory that cannot be reached says so, the last sync's report is
// shown with its error lines, and the source is changed and deleted.
func TestBrowserDirectory(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	b := mustBrowser(t, s)
	b.Login("root", password)
	b.Visit("/console/directory")
	b.WaitFor("loaded", `document.querySelector('#dir-status').textContent.includes('0 sources')`)
	b.CheckAccessible("directory")
	b.Run("add a source",
		chromedp.SendKeys(chromedp.CSS("#dir-name"), "corp"),
		chromedp.SetValue(chromedp.CSS("#dir-kind"), "openldap"),
		chromedp.SendKeys(chromedp.CSS("#dir-url"), "ldap://127.0.0.1:1"),
		chromedp.SendKeys(chromedp.CSS("#dir-binddn"), "cn=admin,dc=example,dc=test"),
		chromedp.SendKeys(chromedp.CSS("#dir-password"), "bind-secret"),
		chromedp.SendKeys(chromedp.CSS("#dir-basedn"), "dc=example,dc=test"),
		chromedp.Click(chromedp.CSS("#dir-save")),
	)
	b.WaitFor("added", `document.querySelector('#dir-status').textContent.includes('corp was added')`)
	if strings.Contains(b.Text("main"), "bind-secret") {
		t.Error("the page shows the bind password")
	}
	b.Run("dry run", chromedp.Click(chromedp.CSS(`#sources button[aria-label="Dry run of corp"]`)))
	b.WaitFor("unreachable", `document.querySelector('#dir-status').textContent.includes('unreachable')`)
	b.Run("sync now", chromedp.Click(chromedp.CSS(`#sources button[aria-label="Sync corp now"]`)))
	b.WaitFor("the failure stays with the source", `document.querySelector('#sources').textContent.includes('Failed') && document.querySelector('#sources').textContent.includes('unreachable')`)
	b.Shot("directory-unreachable")

	// A report as a sync leaves it: shown with its error lines.
	var src *lanyard.DirectorySource
	rep := directory.Report{Source: "corp", Full: true, FinishedAt: time.Now(), Read: 3, Created: 2, Errors: []directory.LineError{
		{DN: "CN=lou,DC=example,DC=test", Message: `the login "lou" belongs to the local user lou; the entry was not synced`}},
		Changes: []directory.Change{{Action: "create", Login: "ada"}, {Action: "create", Login: "bob"}}}
	raw, _ := json.Marshal(rep)
	if err := s.srv.Store.Update(context.Background(), func(tx lanyard.Tx) (err error) {
		if src, err = tx.DirectorySourceByName("corp"); err != nil {
			return err
		}
		return tx.SetDirectorySync(src.ID, "", string(raw), time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	b.Visit("/console/directory")
	b.WaitFor("listed", `document.querySelector('#sources').textContent.includes('2 created')`)
	b.Run("report", chromedp.Click(chromedp.CSS(`#sources button[aria-label="Last report of corp"]`)))
	b.WaitFor("report shown", `!document.querySelector('#dir-report-section').hidden && document.querySelector('#dir-report').textContent.includes('belongs to the local user lou')`)
	b.CheckAccessible("directory report")
	b.Shot("directory-report")

	b.Run("change", chromedp.Click(chromedp.CSS(`#sources button[aria-label="Change corp"]`)))
	b.WaitFor("form filled", `document.querySelector('#dir-id').value !== '' && document.querySelector('#dir-password').value === ''`)
	b.Run("leaver revoke", chromedp.SetValue(chromedp.CSS("#dir-leaver"), "revoke"), chromedp.Click(chromedp.CSS("#dir-save")))
	b.WaitFor("saved", `document.querySelector('#dir-status').textContent.includes('corp was saved')`)
	if err := s.srv.Store.View(context.Background(), func(tx lanyard.Tx) (err error) { src, err = tx.DirectorySourceByID(src.ID); return }); err != nil {
		t.Fatal(err)
	}
	if src.LeaverAction != lanyard.LeaverRevoke || len(src.SealedBindPassword) == 0 {
		t.Errorf("after the change: leaver %q, password kept %v", src.LeaverAction, len(src.SealedBindPassword) > 0)
	}
	b.Run("delete", chromedp.Click(chromedp.CSS(`#sources button[aria-label="Delete corp"]`)))
	b.Run("confirm", chromedp.Click(chromedp.CSS(`dialog button.danger`)))
	b.WaitFor("deleted", `document.querySelector('#dir-status').textContent.includes('corp was deleted')`)

	// The policy says what a leaver's cards get.
	b.Visit("/console/policies/default")
	b.WaitFor("the leaver switch", `document.querySelector('#obj-json').value.includes('"default"') && document.querySelector('#pol-leaver').value === '' && !document.querySelector('#pol-leaver').disabled`)
	b.CheckAccessible("policy editor with the leaver switch")
	b.Run("revoke", chromedp.SetValue(chromedp.CSS("#pol-leaver"), "revoke"))
	uitest.Eval[bool](b, `document.querySelector('#pol-leaver').dispatchEvent(new Event('change', {bubbles: true}))`)
	b.WaitFor("the JSON follows", `JSON.parse(document.querySelector('#obj-json').value).settings.workflow.leaver_action === 'revoke'`)
	b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
	b.WaitFor("saved", `document.querySelector('#obj-status').textContent.includes('Saved policy default')`)
	if code, body := s.api("GET", "/api/v1/policies/default", nil); code != 200 || !strings.Contains(string(body), `"leaver_action":"revoke"`) {
		t.Fatalf("the saved policy: %d %s", code, body)
	}
}
