package scim

import (
	"encoding/json"
	"reflect"
	"testing"
)

func baseUser() map[string]any {
	return ToMap(&User{
		Schemas: []string{UserSchema, EnterpriseUserSchema}, ID: "u1", UserName: "ann@example.com", DisplayName: "Ann",
		Name:   &Name{GivenName: "Ann", FamilyName: "Lee"},
		Emails: []Email{{Value: "ann@example.com", Type: "work", Primary: true}, {Value: "ann@home.example", Type: "home"}},
	})
}

func decodeUser(t *testing.T, m map[string]any) User {
	t.Helper()
	var u User
	if err := Users.Decode(m, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

func ops(t *testing.T, s string) []PatchOp {
	t.Helper()
	var req PatchRequest
	if err := json.Unmarshal([]byte(s), &req); err != nil {
		t.Fatal(err)
	}
	return req.Operations
}

func TestPatchUser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   string
		check func(u User) bool
	}{
		{"Entra replace active as string False",
			`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			func(u User) bool { return u.Active != nil && !*u.Active }},
		{"Entra replace active as string True",
			`{"Operations":[{"op":"Replace","path":"active","value":"True"}]}`,
			func(u User) bool { return u.Active != nil && *u.Active }},
		{"Okta path-less replace",
			`{"Operations":[{"op":"replace","value":{"active":false}}]}`,
			func(u User) bool { return u.Active != nil && !*u.Active }},
		{"path-less with path keys",
			`{"Operations":[{"op":"Add","value":{"name.givenName":"Anna","displayName":"Anna Lee"}}]}`,
			func(u User) bool {
				return u.Name.GivenName == "Anna" && u.Name.FamilyName == "Lee" && u.DisplayName == "Anna Lee"
			}},
		{"replace the work e-mail by filter",
			`{"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"ann.lee@example.com"}]}`,
			func(u User) bool {
				return len(u.Emails) == 2 && u.Emails[0].Value == "ann.lee@example.com" && u.Emails[0].Primary && u.Emails[1].Value == "ann@home.example"
			}},
		{"add an e-mail by filter that matches none",
			`{"Operations":[{"op":"Add","path":"emails[type eq \"other\"].value","value":"x@example.com"}]}`,
			func(u User) bool {
				return len(u.Emails) == 3 && u.Emails[2] == Email{Value: "x@example.com", Type: "other"}
			}},
		{"remove by filter",
			`{"Operations":[{"op":"remove","path":"emails[type eq \"home\"]"}]}`,
			func(u User) bool { return len(u.Emails) == 1 && u.Emails[0].Type == "work" }},
		{"remove an attribute",
			`{"Operations":[{"op":"remove","path":"name.familyName"},{"op":"remove","path":"displayName"}]}`,
			func(u User) bool { return u.Name.FamilyName == "" && u.Name.GivenName == "Ann" && u.DisplayName == "" }},
		{"manager as a bare id (Entra)",
			`{"Operations":[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m1"}]}`,
			func(u User) bool { return u.Enterprise != nil && u.Enterprise.Manager.Value == "m1" }},
		{"manager as an object, path-less extension object",
			`{"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m2"},"employeeNumber":"7"}}}]}`,
			func(u User) bool { return u.Enterprise != nil && u.Enterprise.Manager.Value == "m2" }},
		{"path-less key that is an extension attribute path",
			`{"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"m3"}}]}`,
			func(u User) bool { return u.Enterprise != nil && u.Enterprise.Manager.Value == "m3" }},
		{"unknown attributes ignored",
			`{"Operations":[{"op":"replace","path":"title","value":"Boss"},{"op":"add","value":{"nickName":"A","urn:example:ext:1.0:User:x":"y"}},{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"9"}]}`,
			func(u User) bool { return u.UserName == "ann@example.com" && u.Enterprise == nil }},
		{"case-insensitive names",
			`{"Operations":[{"op":"REPLACE","path":"USERNAME","value":"ann2@example.com"},{"op":"replace","path":"Name.GivenName","value":"A"}]}`,
			func(u User) bool { return u.UserName == "ann2@example.com" && u.Name.GivenName == "A" }},
		{"replace with null unassigns",
			`{"Operations":[{"op":"replace","path":"displayName","value":null}]}`,
			func(u User) bool { return u.DisplayName == "" }},
		{"replace emails whole",
			`{"Operations":[{"op":"replace","path":"emails","value":[{"value":"z@example.com","primary":"true"}]}]}`,
			func(u User) bool {
				return len(u.Emails) == 1 && u.Emails[0].Primary && u.PrimaryEmail() == "z@example.com"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := baseUser()
			if err := Users.Apply(m, ops(t, tc.ops)); err != nil {
				t.Fatal(err)
			}
			u := decodeUser(t, m)
			if !tc.check(u) {
				b, _ := json.Marshal(u)
				t.Fatalf("after %s: %s", tc.ops, b)
			}
		})
	}
}

func TestPatchErrors(t *testing.T) {
	for _, tc := range []struct {
		ops, typ string
	}{
		{`{"Operations":[]}`, TypeInvalidValue},
		{`{"Operations":[{"op":"move","path":"displayName","value":"x"}]}`, TypeInvalidSyntax},
		{`{"Operations":[{"op":"remove"}]}`, TypeNoTarget},
		{`{"Operations":[{"op":"replace","value":"x"}]}`, TypeInvalidValue},
		{`{"Operations":[{"op":"replace","path":"id","value":"x"}]}`, TypeMutability},
		{`{"Operations":[{"op":"add","path":"groups","value":[{"value":"g"}]}]}`, TypeMutability},
		{`{"Operations":[{"op":"replace","path":"emails[","value":"x"}]}`, TypeInvalidPath},
		{`{"Operations":[{"op":"replace","path":"displayName[value eq \"x\"]","value":"x"}]}`, TypeInvalidPath},
		{`{"Operations":[{"op":"replace","path":"emails[type eq \"work\" or type eq \"home\"].value","value":"x"},{"op":"replace","path":"emails[type ne \"q\" and primary eq 7].value","value":"x"}]}`, TypeNoTarget},
	} {
		err := Users.Apply(baseUser(), ops(t, tc.ops))
		e, ok := err.(*Error)
		if !ok || e.Type != tc.typ || e.Status != 400 {
			t.Errorf("%s: error %v, want 400 %s", tc.ops, err, tc.typ)
		}
	}
	// A value of the wrong type is caught when the result is decoded.
	m := baseUser()
	if err := Users.Apply(m, ops(t, `{"Operations":[{"op":"replace","path":"userName","value":42}]}`)); err != nil {
		t.Fatal(err)
	}
	var u User
	if err := Users.Decode(m, &u); err == nil || err.(*Error).Type != TypeInvalidValue {
		t.Fatalf("userName 42 decoded: %v", err)
	}
}

func TestPatchGroupMembers(t *testing.T) {
	g := ToMap(&Group{Schemas: []string{GroupSchema}, ID: "g1", DisplayName: "Sales", Members: []Ref{{Value: "a"}, {Value: "b"}}})
	members := func() []string {
		var gr Group
		if err := Groups.Decode(g, &gr); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range gr.Members {
			out = append(out, m.Value)
		}
		return out
	}
	steps := []struct {
		ops  string
		want []string
	}{
		{`{"Operations":[{"op":"Add","path":"members","value":[{"value":"c"},{"value":"a"}]}]}`, []string{"a", "b", "c"}},
		// Entra ID: remove with the members in the value.
		{`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"b"}]}]}`, []string{"a", "c"}},
		// RFC 7644 3.5.2.2: remove with a filter.
		{`{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"}]}`, []string{"c"}},
		// Okta: path-less add of members.
		{`{"Operations":[{"op":"add","value":{"members":[{"value":"d"}]}}]}`, []string{"c", "d"}},
		{`{"Operations":[{"op":"replace","path":"members","value":[{"value":"e"}]},{"op":"replace","path":"displayName","value":"Sales EU"}]}`, []string{"e"}},
		{`{"Operations":[{"op":"remove","path":"members"}]}`, nil},
	}
	for _, s := range steps {
		if err := Groups.Apply(g, ops(t, s.ops)); err != nil {
			t.Fatalf("%s: %v", s.ops, err)
		}
		if got := members(); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("after %s: members %v, want %v", s.ops, got, s.want)
		}
	}
	var gr Group
	Groups.Decode(g, &gr)
	if gr.DisplayName != "Sales EU" {
		t.Fatalf("displayName %q", gr.DisplayName)
	}
}

func TestMatch(t *testing.T) {
	u := baseUser()
	u["active"] = true
	u[EnterpriseUserSchema] = map[string]any{"manager": map[string]any{"value": "M1"}}
	for _, tc := range []struct {
		f    string
		want bool
	}{
		{`userName eq "ANN@example.com"`, true},
		{`id eq "U1"`, false}, // id is caseExact
		{`id eq "u1"`, true},
		{`emails[type eq "work" and value ew "@example.com"]`, true},
		{`emails[type eq "home" and primary eq true]`, false},
		{`emails.value co "home"`, true},
		{`emails eq "ann@home.example"`, true},
		{`name.givenName sw "an" and not (name.familyName eq "Smith")`, true},
		{`active eq true`, true},
		{`active eq false or userName eq "x"`, false},
		{`displayName pr`, true},
		{`externalId pr`, false},
		{`userName ne "ann@example.com"`, false},
		{`userName gt "a" and userName lt "b"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "M1"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1"`, false},
		{`title eq "x"`, false},
		{`urn:example:other:userName eq "ann@example.com"`, false},
	} {
		f, err := ParseFilter(tc.f)
		if err != nil {
			t.Fatal(tc.f, err)
		}
		if got := Users.Match(f, u); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestListResponsePaging(t *testing.T) {
	all := []int{1, 2, 3, 4, 5}
	for _, tc := range []struct {
		start, count int
		want         []any
	}{
		{1, 2, []any{1, 2}}, {4, 10, []any{4, 5}}, {0, 1, []any{1}}, {6, 5, []any{}}, {2, -1, []any{}},
	} {
		lr := NewListResponse(all, tc.start, tc.count)
		if lr.TotalResults != 5 || !reflect.DeepEqual(lr.Resources, tc.want) || lr.ItemsPerPage != len(tc.want) || lr.StartIndex != max(tc.start, 1) {
			t.Errorf("start %d count %d: %+v", tc.start, tc.count, lr)
		}
	}
}

func TestErrorJSON(t *testing.T) {
	b, _ := json.Marshal(Errorf(TypeInvalidFilter, "bad"))
	want := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidFilter","detail":"bad"}`
	if string(b) != want {
		t.Fatalf("%s", b)
	}
}

func TestReadJSON(t *testing.T) {
	for _, bad := range []string{``, `[1]`, `{"a":1} x`, `{"a":`, `null`} {
		_, err := parseObject([]byte(bad))
		if e, ok := err.(*Error); !ok || e.Type != TypeInvalidSyntax {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzApply: any PATCH body either fails with a SCIM error or leaves a
// resource that decodes (or fails to decode with a SCIM error); nothing
// panics, for users and groups alike.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"add","value":{"name.givenName":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m"}}}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"a"}]}]}`,
		`{"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x@y"}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req PatchRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		for _, rt := range []*ResourceType{Users, Groups} {
			m := baseUser()
			var out any = &User{}
			if rt == Groups {
				m = ToMap(&Group{Schemas: []string{GroupSchema}, ID: "g", DisplayName: "G", Members: []Ref{{Value: "a"}, {Value: "b"}}})
				out = &Group{}
			}
			if err := rt.Apply(m, req.Operations); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Apply: %T %v", err, err)
				}
				continue
			}
			if err := rt.Decode(m, out); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Decode: %T %v", err, err)
				}
			}
		}
	})
}
