package catalog_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestTemplateEventsNameArchivalAndUsages: template.create and
// template.update record archive key and the key usages, so that the
// audit log shows when a template started archiving keys and for what.
func TestTemplateEventsNameArchivalAndUsages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tpl := *logonTemplate("mail")
	tpl.KeyUsage, tpl.ExtKeyUsage = []string{lanyard.KUKeyEncipherment}, []string{lanyard.EKUEmailProtection}
	if _, err := e.cat.CreateTemplate(ctx, e.admin, tpl); err != nil {
		t.Fatal(err)
	}
	tpl.KeyArchival = true
	if _, err := e.cat.UpdateTemplate(ctx, e.admin, "mail", tpl); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"template.create": false, "template.update": true}
	for _, ev := range storetest.CheckAuditChain(t, e.store) {
		archival, ok := want[ev.Action]
		if !ok {
			continue
		}
		delete(want, ev.Action)
		var d struct {
			KeyArchival *bool    `json:"key_archival"`
			KeyUsage    []string `json:"key_usage"`
			ExtKeyUsage []string `json:"ext_key_usage"`
		}
		if err := json.Unmarshal(ev.Details, &d); err != nil {
			t.Fatal(err)
		}
		if d.KeyArchival == nil || *d.KeyArchival != archival || len(d.KeyUsage) != 1 || d.KeyUsage[0] != lanyard.KUKeyEncipherment ||
			len(d.ExtKeyUsage) != 1 || d.ExtKeyUsage[0] != lanyard.EKUEmailProtection {
			t.Errorf("%s details %s: want key_archival %v, key_usage and ext_key_usage", ev.Action, ev.Details, archival)
		}
	}
	if len(want) != 0 {
		t.Errorf("missing events %v", want)
	}
}
