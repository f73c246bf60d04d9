//go:build integration

package ui_test

import (
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserPolicyNotificationSwitches (issue 16, item 11): the policy
// page has switches for Notifications → notify user and notify manager;
// they show the policy's values, edit the definition, and once saved the
// API answers the new values. Editing the JSON moves the switches.
func TestBrowserPolicyNotificationSwitches(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	b := mustBrowser(t, s)
	b.Login("root", password)

	b.Visit("/console/policies/default")
	b.WaitFor("the switches", `document.querySelector('#obj-json').value.includes('"default"') && document.querySelector('#pol-notify-user').checked && !document.querySelector('#pol-notify-manager').checked`)
	b.CheckAccessible("policy editor with the notification switches")
	b.Run("manager in copy", chromedp.Click(chromedp.CSS("#pol-notify-manager")))
	b.WaitFor("the JSON follows", `JSON.parse(document.querySelector('#obj-json').value).settings.notifications.notify_manager === true`)
	b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
	b.WaitFor("saved", `document.querySelector('#obj-status').textContent.includes('Saved policy default')`)
	b.Shot("policy-notify-manager")
	notif := func() map[string]any { // booleans, and the Card Monitor's numbers
		var pol struct {
			Settings struct {
				Notifications map[string]any `json:"notifications"`
			} `json:"settings"`
		}
		if code, body := s.api("GET", "/api/v1/policies/default", nil); code != 200 || json.Unmarshal(body, &pol) != nil {
			t.Fatalf("GET the policy: %d %s", code, body)
		}
		return pol.Settings.Notifications
	}
	if n := notif(); n["notify_manager"] != true || n["notify_user"] != true {
		t.Fatalf("after saving with the manager in copy: %v", n)
	}
	b.Visit("/console/policies/default")
	b.WaitFor("loaded as saved", `document.querySelector('#pol-notify-manager').checked`)
	// The text and the switches stay one: an edit of the JSON moves them.
	uitest.Eval[bool](b, `(() => { const ta = document.querySelector('#obj-json'); const o = JSON.parse(ta.value);
		o.settings.notifications.notify_user = false; ta.value = JSON.stringify(o, null, 2); ta.dispatchEvent(new Event('input')); return true; })()`)
	b.WaitFor("the switch follows", `!document.querySelector('#pol-notify-user').checked`)
	b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
	b.WaitFor("saved", `document.querySelector('#obj-status').textContent.includes('Saved policy default')`)
	if n := notif(); n["notify_user"] != false || n["notify_manager"] != true {
		t.Fatalf("after saving without notify user: %v", n)
	}
}
