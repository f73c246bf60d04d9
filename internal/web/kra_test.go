package web_test

import (
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestKRASettings: the server starts with KRA key version 1; an
// administrator rotates it to version 2 and sees both, the current one
// first; an operator does neither; no answer carries key material.
func TestKRASettings(t *testing.T) {
	e := mustEnv(t)
	var vs []apiv1.KRAVersion
	e.must(200, "GET", "/api/v1/settings/kra", e.admin, nil).json(&vs)
	if len(vs) != 1 || vs[0].Version != 1 || !vs[0].Current {
		t.Fatalf("KRA versions at start: %+v, want version 1 current", vs)
	}
	op := e.mustUser("op", lanyard.RoleOperator)
	e.must(403, "POST", "/api/v1/settings/kra/rotate", op, nil)
	e.must(403, "GET", "/api/v1/settings/kra", op, nil)
	var rot apiv1.KRARotation
	e.must(200, "POST", "/api/v1/settings/kra/rotate", e.admin, nil).json(&rot)
	if rot.Version != 2 {
		t.Fatalf("rotation: version %d, want 2", rot.Version)
	}
	r := e.must(200, "GET", "/api/v1/settings/kra", e.admin, nil)
	r.json(&vs)
	if len(vs) != 2 || vs[0].Version != 2 || !vs[0].Current || vs[1].Version != 1 || vs[1].Current {
		t.Fatalf("KRA versions after rotation: %+v, want 2 (current) then 1", vs)
	}
	if strings.Contains(string(r.body), "sealed") || strings.Contains(string(r.body), "key\"") {
		t.Errorf("KRA status answer %s names key material", r.body)
	}
}
