package scim

import (
	"testing"
)

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: canonical rendering, "" = error
	}{
		{`userName eq "bjensen"`, `(userName eq "bjensen")`},
		{`userName Eq "bjensen"`, `(userName eq "bjensen")`},
		{`externalId eq "0a8f-1"`, `(externalId eq "0a8f-1")`},
		{`name.familyName co "O'Malley"`, `(name.familyName co "O'Malley")`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, `(urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J")`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26"`, `(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26")`},
		{`title pr`, `(title pr)`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `(meta.lastModified gt "2011-05-13T04:42:34Z")`},
		{`title pr and userType eq "Employee"`, `((title pr) and (userType eq "Employee"))`},
		{`title pr or userType eq "Intern"`, `((title pr) or (userType eq "Intern"))`},
		{`a eq 1 or b eq 2 and c eq 3`, `((a eq 1) or ((b eq 2) and (c eq 3)))`},
		{`(a eq 1 or b eq 2) and c eq 3`, `(((a eq 1) or (b eq 2)) and (c eq 3))`},
		{`userType eq "Employee" and not (emails.value co "example.org")`, `((userType eq "Employee") and not((emails.value co "example.org")))`},
		{`emails[type eq "work" and value co "@example.com"]`, `emails[((type eq "work") and (value co "@example.com"))]`},
		{`active eq True`, `(active eq true)`},
		{`x eq null`, `(x eq null)`},
		{`x eq "a \"q\" \u00e9"`, `(x eq "a \"q\" é")`},
		{`displayName eq "Sales" and members[value eq "2819c223"]`, `((displayName eq "Sales") and members[(value eq "2819c223")])`},
		{``, ""},
		{`userName`, ""},
		{`userName eq`, ""},
		{`userName xx "a"`, ""},
		{`userName eq "a`, ""},
		{`userName eq bare`, ""},
		{`(userName eq "a"`, ""},
		{`userName eq "a")`, ""},
		{`emails[type eq "work"`, ""},
		{`name.givenName[value eq "x"]`, ""},
		{`1abc eq "x"`, ""},
		{`a.b.c eq "x"`, ""},
		{`not userName eq "a"`, ""},
		{`x:y eq "a"`, ""},
		{`userName eq "a" and`, ""},
		{`[`, ""},
	} {
		f, err := ParseFilter(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseFilter(%q) = %s, want an error", tc.in, render(f))
			} else if e, ok := err.(*Error); !ok || e.Type != TypeInvalidFilter || e.Status != 400 {
				t.Errorf("ParseFilter(%q) error %v, want 400 invalidFilter", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.in, err)
			continue
		}
		if got := render(f); got != tc.want {
			t.Errorf("ParseFilter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseFilterDepth(t *testing.T) {
	deep := ""
	for range 40 {
		deep += "("
	}
	deep += `a eq 1`
	for range 40 {
		deep += ")"
	}
	if _, err := ParseFilter(deep); err == nil {
		t.Fatal("a filter nested 40 deep parsed")
	}
	big := make([]byte, maxFilterLen+1)
	for i := range big {
		big[i] = 'a'
	}
	if _, err := ParseFilter(string(big)); err == nil {
		t.Fatal("an over-long filter parsed")
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`members`, `members`},
		{`name.givenName`, `name.givenName`},
		{`emails[type eq "work"].value`, `emails[(type eq "work")].value`},
		{`members[value eq "2819c223-7f76-453a-919d-413861904646"]`, `members[(value eq "2819c223-7f76-453a-919d-413861904646")]`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value`, `urn:ietf:params:scim:schemas:core:2.0:User:emails[(type eq "work")].value`},
		{`addresses[type eq "work" and value eq "a]b"].streetAddress`, `addresses[((type eq "work") and (value eq "a]b"))].streetAddress`},
		{``, ""},
		{`emails[`, ""},
		{`emails]`, ""},
		{`emails[type eq "work"]value`, ""},
		{`emails[type eq "work"].`, ""},
		{`emails[type eq].value`, ""},
		{`name.givenName[type eq "x"]`, ""},
		{`foo:bar`, ""},
	} {
		p, err := ParsePath(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParsePath(%q) = %+v, want an error", tc.in, p)
			} else if e, ok := err.(*Error); !ok || e.Type != TypeInvalidPath {
				t.Errorf("ParsePath(%q) error %v, want invalidPath", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.in, err)
			continue
		}
		got := p.Attr.String()
		if p.Filter != nil {
			got += "[" + render(p.Filter) + "]"
		}
		if p.Sub != "" {
			got += "." + p.Sub
		}
		if got != tc.want {
			t.Errorf("ParsePath(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`userName eq "bjensen"`, `emails[type eq "work" and value co "@x"] or not (a pr)`,
		`a eq 1.5e3 and b ne false`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`, `((((`, `"\u`} {
		f.Add(s)
	}
	res := map[string]any{"userName": "bjensen", "emails": []any{map[string]any{"type": "work", "value": "b@x"}}, "active": true}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Type != TypeInvalidFilter {
				t.Fatalf("ParseFilter(%q): error %v is not invalidFilter", s, err)
			}
			return
		}
		// A parsed filter renders to a filter that parses to the same.
		again, err := ParseFilter(render(flt))
		if err != nil || render(again) != render(flt) {
			t.Fatalf("ParseFilter(%q) = %s, which re-parses as %v (%v)", s, render(flt), render(again), err)
		}
		Users.Match(flt, res) // must not panic
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{`members`, `emails[type eq "work"].value`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, `a[b eq "]"].c`} {
		f.Add(s, `"x"`)
	}
	f.Fuzz(func(t *testing.T, path, value string) {
		p, err := ParsePath(path)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Type != TypeInvalidPath {
				t.Fatalf("ParsePath(%q): error %v is not invalidPath", path, err)
			}
			return
		}
		_ = p
		res := ToMap(&User{Schemas: []string{UserSchema}, UserName: "a", Emails: []Email{{Value: "a@x", Type: "work"}}})
		for _, op := range []string{"add", "replace", "remove"} {
			err := Users.Apply(res, []PatchOp{{Op: op, Path: path, Value: []byte(value)}})
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Apply %s %q: error %T %v", op, path, err, err)
				}
				return
			}
			var u User
			if err := Users.Decode(res, &u); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Decode after %s %q: %v", op, path, err)
				}
			}
		}
	})
}
