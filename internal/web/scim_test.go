package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func (e *env) scimToken(name string) string {
	e.t.Helper()
	var nt apiv1.NewSCIMToken
	e.must(201, "POST", "/api/v1/scim/tokens", e.admin, map[string]string{"name": name}).json(&nt)
	if !strings.HasSuffix(nt.Endpoint, "/scim/v2") || nt.Token.Name != name {
		e.t.Fatalf("new SCIM token %+v", nt)
	}
	return nt.Secret
}

// scim sends a SCIM request as Entra ID does (application/scim+json).
func (e *env) scim(want int, method, path, token, body string) map[string]any {
	e.t.Helper()
	var b any
	if body != "" {
		b = body
	}
	r := e.do(method, "/scim/v2"+path, token, b, "Content-Type", "application/scim+json")
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if want == http.StatusNoContent {
		return nil
	}
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		e.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var m map[string]any
	r.json(&m)
	return m
}

func (e *env) scimFail(want int, scimType, method, path, token, body string) {
	e.t.Helper()
	m := e.scim(want, method, path, token, body)
	if m["status"] != fmt.Sprint(want) || m["scimType"] != nilIfEmpty(scimType) || !slices.Equal(anyStrings(m["schemas"]), []string{"urn:ietf:params:scim:api:messages:2.0:Error"}) {
		e.t.Fatalf("%s %s: error %v, want %d %q", method, path, m, want, scimType)
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestSCIMProvisioning(t *testing.T) {
	e := mustEnv(t)
	tok := e.scimToken("entra")

	// Discovery.
	spc := e.scim(200, "GET", "/ServiceProviderConfig", tok, "")
	if spc["patch"].(map[string]any)["supported"] != true || spc["etag"].(map[string]any)["supported"] != false {
		t.Fatalf("ServiceProviderConfig %v", spc)
	}
	if rts := e.scim(200, "GET", "/ResourceTypes", tok, ""); rts["totalResults"] != 2.0 {
		t.Fatalf("ResourceTypes %v", rts)
	}
	e.scim(200, "GET", "/ResourceTypes/User", tok, "")
	if ss := e.scim(200, "GET", "/Schemas", tok, ""); ss["totalResults"] != 3.0 {
		t.Fatalf("Schemas %v", ss)
	}
	e.scim(200, "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", tok, "")

	// Entra ID's first cycle: look the user up, then create it.
	if lr := e.scim(200, "GET", `/Users?filter=userName+eq+%22Jo.Park%40example.com%22`, tok, ""); lr["totalResults"] != 0.0 {
		t.Fatalf("lookup %v", lr)
	}
	u := e.scim(201, "POST", "/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId":"jo","userName":"Jo.Park@example.com","active":true,"displayName":"Jo Park",
		"emails":[{"primary":true,"type":"work","value":"jo.park@example.com"}],"name":{"givenName":"Jo","familyName":"Park"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42"},"nickName":"JP"}`)
	id := u["id"].(string)
	if u["userName"] != "Jo.Park@example.com" || u["active"] != true || u["nickName"] != nil {
		t.Fatalf("created %v", u)
	}
	var lu lanyard.User
	e.must(200, "GET", "/api/v1/users/Jo.Park@example.com", e.admin, nil).json(&lu)
	if lu.Source != lanyard.SourceSCIM || lu.ExternalID != id || lu.UPN != "Jo.Park@example.com" || lu.Email != "jo.park@example.com" {
		t.Fatalf("account %+v", lu)
	}
	if lr := e.scim(200, "GET", `/Users?filter=userName+eq+%22jo.park%40example.com%22`, tok, ""); lr["totalResults"] != 1.0 {
		t.Fatalf("lookup after create %v", lr)
	}

	// The user signs in with an API token of their own; deactivation
	// (Entra ID: active as the string "False") ends it.
	var nt apiv1.NewToken
	e.must(201, "POST", "/api/v1/tokens", e.admin, map[string]string{"user": "Jo.Park@example.com"}).json(&nt)
	utok := nt.Secret
	e.must(200, "GET", "/api/v1/session", utok, nil)
	p := e.scim(200, "PATCH", "/Users/"+id, tok, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"jo@example.com"},
		{"op":"Replace","path":"active","value":"False"}]}`)
	if p["active"] != false {
		t.Fatalf("patched %v", p)
	}
	e.must(200, "GET", "/api/v1/users/Jo.Park@example.com", e.admin, nil).json(&lu)
	if !lu.Disabled || lu.Email != "jo@example.com" {
		t.Fatalf("after deactivate %+v", lu)
	}
	e.must(401, "GET", "/api/v1/session", utok, nil)
	// Reactivated by PUT.
	e.scim(200, "PUT", "/Users/"+id, tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Jo.Park@example.com","active":true,"displayName":"Jo P."}`)
	e.must(200, "GET", "/api/v1/users/Jo.Park@example.com", e.admin, nil).json(&lu)
	if lu.Disabled || lu.DisplayName != "Jo P." {
		t.Fatalf("after PUT %+v", lu)
	}

	// Groups: create with a member, add and remove members.
	v := e.scim(201, "POST", "/Users", tok, `{"userName":"vic@example.com"}`)
	g := e.scim(201, "POST", "/Groups", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Badge Holders","members":[{"value":"`+id+`"}]}`)
	gid := g["id"].(string)
	e.scim(200, "PATCH", "/Groups/"+gid, tok, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Add","path":"members","value":[{"value":"`+v["id"].(string)+`"}]},
		{"op":"Remove","path":"members","value":[{"value":"`+id+`"}]}]}`)
	var vu lanyard.User
	e.must(200, "GET", "/api/v1/users/vic@example.com", e.admin, nil).json(&vu)
	e.must(200, "GET", "/api/v1/users/Jo.Park@example.com", e.admin, nil).json(&lu)
	if !slices.Equal(vu.Groups, []string{"Badge Holders"}) || len(lu.Groups) != 0 {
		t.Fatalf("groups: vic %v, jo %v", vu.Groups, lu.Groups)
	}
	if gg := e.scim(200, "GET", "/Groups/"+gid+"?excludedAttributes=members", tok, ""); gg["members"] != nil {
		t.Fatalf("excludedAttributes=members: %v", gg)
	}
	if lr := e.scim(200, "GET", `/Groups?filter=displayName+eq+%22badge+holders%22`, tok, ""); lr["totalResults"] != 1.0 {
		t.Fatalf("group lookup %v", lr)
	}
	e.scimFail(409, "uniqueness", "POST", "/Groups", tok, `{"displayName":"BADGE HOLDERS"}`)
	e.scim(204, "DELETE", "/Groups/"+gid, tok, "")
	e.scimFail(404, "", "GET", "/Groups/"+gid, tok, "")

	// DELETE keeps the account, disabled; the endpoint forgets it.
	e.scim(204, "DELETE", "/Users/"+v["id"].(string), tok, "")
	e.scimFail(404, "", "GET", "/Users/"+v["id"].(string), tok, "")
	e.must(200, "GET", "/api/v1/users/vic@example.com", e.admin, nil).json(&vu)
	if !vu.Disabled {
		t.Fatalf("deleted user %+v", vu)
	}

	// Audit: one event per change, the token's name as actor.
	var evs []*lanyard.AuditEvent
	e.must(200, "GET", "/api/v1/audit?limit=1000", e.admin, nil).json(&evs)
	var got []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "scim.") && ev.Actor == "scim:entra" {
			got = append(got, ev.Action)
		}
		if strings.Contains(string(ev.Details), tok[12:]) {
			t.Fatalf("audit event %s holds the SCIM secret", ev.Action)
		}
	}
	want := []string{"scim.user.create", "scim.user.deactivate", "scim.user.reactivate", "scim.user.create", "scim.group.create", "scim.group.update", "scim.group.delete", "scim.user.delete"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestSCIMRefusals(t *testing.T) {
	e := mustEnv(t)
	tok := e.scimToken("okta")
	// No token, an API token, a session-less garbage token, a revoked one.
	e.scimFail(401, "", "GET", "/Users", "", "")
	e.scimFail(401, "", "GET", "/Users", e.admin, "")
	e.scimFail(401, "", "GET", "/Users", "lys_nope", "")
	if r := e.do("GET", "/scim/v2/Users", "", nil); r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	// A SCIM token opens nothing in the API.
	e.must(401, "GET", "/api/v1/session", tok, nil)
	e.must(401, "GET", "/api/v1/users", tok, nil)

	// Malformed JSON, bad filters, bad patches, unknown resources.
	e.scimFail(400, "invalidSyntax", "POST", "/Users", tok, `{"userName":`)
	e.scimFail(400, "invalidSyntax", "POST", "/Users", tok, `["x"]`)
	e.scimFail(400, "invalidValue", "POST", "/Users", tok, `{"userName":17}`)
	e.scimFail(400, "invalidValue", "POST", "/Users", tok, `{"displayName":"no userName"}`)
	e.scimFail(400, "invalidFilter", "GET", `/Users?filter=userName+eq`, tok, "")
	e.scimFail(404, "", "GET", "/Users/unknown", tok, "")
	e.scimFail(404, "", "GET", "/Bulk", tok, "")
	u := e.scim(201, "POST", "/Users", tok, `{"userName":"kim@example.com","title":"Ignored","urn:example:ext:1.0:User":{"x":1}}`)
	id := u["id"].(string)
	e.scimFail(400, "invalidPath", "PATCH", "/Users/"+id, tok, `{"Operations":[{"op":"replace","path":"emails[type eq","value":"x"}]}`)
	e.scimFail(400, "mutability", "PATCH", "/Users/"+id, tok, `{"Operations":[{"op":"replace","path":"id","value":"x"}]}`)
	e.scimFail(400, "invalidSyntax", "PATCH", "/Users/"+id, tok, `{"Operations":[{"op":"merge","path":"displayName","value":"x"}]}`)
	e.scimFail(400, "noTarget", "PATCH", "/Users/"+id, tok, `{"Operations":[{"op":"remove"}]}`)
	// Unknown attributes are ignored, in POST and PATCH alike.
	e.scim(200, "PATCH", "/Users/"+id, tok, `{"Operations":[{"op":"replace","path":"title","value":"Boss"}]}`)
	r := e.do("POST", "/scim/v2/Users", tok, `{"userName":"x@example.com"}`, "Content-Type", "text/plain")
	if r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain body: %d", r.status)
	}

	// A userName of a local account: 409 uniqueness, never merged.
	e.mustUser("lee")
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "max@example.com"})
	e.scimFail(409, "uniqueness", "POST", "/Users", tok, `{"userName":"max@example.com"}`)
	e.scimFail(409, "uniqueness", "POST", "/Users", tok, `{"userName":"lee@example.com"}`) // the UPN of local "lee"
	var lu lanyard.User
	e.must(200, "GET", "/api/v1/users/max@example.com", e.admin, nil).json(&lu)
	if lu.Source != lanyard.SourceLocal {
		t.Fatalf("local account changed: %+v", lu)
	}

	// Token administration: administrators only; a revoked token stops.
	op := e.mustUser("opal", lanyard.RoleOperator)
	e.must(403, "GET", "/api/v1/scim/tokens", op, nil)
	e.must(403, "POST", "/api/v1/scim/tokens", op, map[string]string{"name": "x"})
	var list []*lanyard.SCIMToken
	e.must(200, "GET", "/api/v1/scim/tokens", e.admin, nil).json(&list)
	if len(list) != 1 || list[0].Name != "okta" {
		t.Fatalf("tokens %+v", list)
	}
	b, _ := json.Marshal(list)
	if strings.Contains(string(b), "hash") || strings.Contains(string(b), tok[12:]) {
		t.Fatalf("listing shows the secret: %s", b)
	}
	e.must(200, "DELETE", fmt.Sprintf("/api/v1/scim/tokens/%d", list[0].ID), e.admin, nil)
	e.scimFail(401, "", "GET", "/Users", tok, "")
}
