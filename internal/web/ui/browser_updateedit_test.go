//go:build integration

package ui_test

import (
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserUpdateEditors (issue 17): the policy page's Update card
// switch (the owner's permission, settings.workflow.issued_card_operations
// .update) and the template page's Renewal key edit the definition, keep
// the rest of it, and once saved the API answers them.
func TestBrowserUpdateEditors(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	if code, body := s.api("POST", "/api/v1/templates", map[string]any{
		"name": "mail", "display_name": "Mail encryption", "key_algorithms": []string{"ecp256"}, "validity_days": 365,
		"key_usage": []string{"digital_signature", "key_agreement"}, "ext_key_usage": []string{"email_protection"},
		"subject": map[string]any{"common_name": "{display_name}"},
	}); code != 201 {
		t.Fatalf("template: %d %s", code, body)
	}
	b := mustBrowser(t, s)
	b.Login("root", password)

	b.Visit("/console/policies/default")
	b.WaitFor("the switches", `document.querySelector('#obj-json').value.includes('"default"') && document.querySelector('#pol-update-optional').checked && !document.querySelector('#pol-update-user').disabled`)
	was := uitest.Eval[bool](b, `document.querySelector('#pol-update-user').checked`)
	b.Run("toggle Update card", chromedp.Click(chromedp.CSS("#pol-update-user")))
	want := !was
	wantJS := "false"
	if want {
		wantJS = "true"
	}
	b.WaitFor("the JSON follows", `(() => { const s = JSON.parse(document.querySelector('#obj-json').value).settings;
		return s.workflow.issued_card_operations.update === `+wantJS+` && s.workflow.issued_card_operations.change_pin === true && s.workflow.select_optional_on_update === true; })()`)
	b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
	b.WaitFor("saved", `document.querySelector('#obj-status').textContent.includes('Saved policy default')`)
	var pol struct {
		Settings struct {
			Workflow struct {
				Ops struct {
					Update    bool `json:"update"`
					ChangePIN bool `json:"change_pin"`
				} `json:"issued_card_operations"`
			} `json:"workflow"`
		} `json:"settings"`
	}
	if code, body := s.api("GET", "/api/v1/policies/default", nil); code != 200 || json.Unmarshal(body, &pol) != nil {
		t.Fatalf("GET the policy: %d %s", code, body)
	}
	if ops := pol.Settings.Workflow.Ops; ops.Update != want || !ops.ChangePIN {
		t.Fatalf("saved issued card operations: %+v, want update %v", ops, want)
	}

	b.Visit("/console/templates/mail")
	b.WaitFor("the renewal key", `document.querySelector('#obj-json').value.includes('"mail"') && document.querySelector('#tpl-renewal-key').value === 'new_key' && !document.querySelector('#tpl-renewal-key').disabled`)
	b.CheckAccessible("template editor with the renewal key")
	b.Run("reuse key", chromedp.SetValue(chromedp.CSS("#tpl-renewal-key"), "reuse_key"))
	uitest.Eval[bool](b, `document.querySelector('#tpl-renewal-key').dispatchEvent(new Event('change', {bubbles: true}))`)
	b.WaitFor("the JSON follows", `(() => { const t = JSON.parse(document.querySelector('#obj-json').value); return t.renewal_key === 'reuse_key' && t.display_name === 'Mail encryption'; })()`)
	b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
	b.WaitFor("saved", `document.querySelector('#obj-status').textContent.includes('Saved template mail')`)
	var tpl struct {
		RenewalKey string `json:"renewal_key"`
	}
	if code, body := s.api("GET", "/api/v1/templates/mail", nil); code != 200 || json.Unmarshal(body, &tpl) != nil || tpl.RenewalKey != "reuse_key" {
		t.Fatalf("GET the template: %d %s", code, body)
	}
	// Typed into the text, the select follows.
	uitest.Eval[bool](b, `(() => { const el = document.querySelector('#obj-json'); const t = JSON.parse(el.value); t.renewal_key = 'new_key';
		el.value = JSON.stringify(t, null, 2); return el.dispatchEvent(new Event('input', {bubbles: true})); })()`)
	b.WaitFor("the select follows", `document.querySelector('#tpl-renewal-key').value === 'new_key'`)
	b.Shot("template-renewal-key")
}
