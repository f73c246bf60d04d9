//go:build integration

package ui_test

import (
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPolicyUpdateSwitches (issue 17): the policy page's Update
// card contents switches show the policy's values (a new policy lets users
// pick optional certificates on update and does not update on connect),
// edit the definition, and once saved the API answers them; a renewal
// window the server refuses is reported with the field's name.
func TestBrowserPolicyUpdateSwitches(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	b := mustBrowser(t, s)
	b.Login("root", password)

	b.Visit("/console/policies/default")
	b.WaitFor("the switches", `document.querySelector('#obj-json').value.includes('"default"') && document.querySelector('#pol-update-optional').checked && !document.querySelector('#pol-update-auto').checked && document.querySelector('#pol-renewal-window').value === ''`)
	b.CheckAccessible("policy editor with the update switches")
	b.Run("update on connect", chromedp.Click(chromedp.CSS("#pol-update-auto")))
	b.Run("a 45 day window", chromedp.SendKeys(chromedp.CSS(`#pol-renewal-window`), "45"))
	b.WaitFor("the JSON follows", `(() => { const s = JSON.parse(document.querySelector('#obj-json').value).settings;
		return s.workflow.auto_update_on_connect === true && s.certificates.renewal_window_days === 45 && s.notifications.notify_user === true; })()`)
	b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
	b.WaitFor("saved", `document.querySelector('#obj-status').textContent.includes('Saved policy default')`)
	var pol struct {
		Settings struct {
			Workflow struct {
				Auto     bool `json:"auto_update_on_connect"`
				Optional bool `json:"select_optional_on_update"`
			} `json:"workflow"`
			Certificates struct {
				Window int `json:"renewal_window_days"`
			} `json:"certificates"`
		} `json:"settings"`
	}
	if code, body := s.api("GET", "/api/v1/policies/default", nil); code != 200 || json.Unmarshal(body, &pol) != nil {
		t.Fatalf("GET the policy: %d %s", code, body)
	}
	if w := pol.Settings.Workflow; !w.Auto || !w.Optional || pol.Settings.Certificates.Window != 45 {
		t.Fatalf("saved: %+v", pol.Settings)
	}
	b.Run("a window of 400 days", chromedp.SetValue(chromedp.CSS(`#pol-renewal-window`), ""), chromedp.SendKeys(chromedp.CSS(`#pol-renewal-window`), "400"))
	b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
	b.WaitFor("refused", `document.querySelector('#obj-error').textContent.includes('Certificates → Renew certificates expiring within (days): must be 1–365')`)
	b.Shot("policy-update-refused")
}
