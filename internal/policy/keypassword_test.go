package policy

import (
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestCheckKeyPassword(t *testing.T) {
	def := Defaults().Issuance.KeyPassword
	old := lanyard.KeyPasswordSettings{} // a policy stored before the option existed
	for _, c := range []struct {
		name     string
		k        lanyard.KeyPasswordSettings
		pw       string
		required bool
		ok       bool
	}{
		{"empty, not required", def, "", false, true},
		{"empty, required", def, "", true, false},
		{"three classes", def, "Secret-pw", true, true},
		{"two classes", def, "secretpw9", true, false},
		{"too short", def, "Se-9", true, false},
		{"old policy: 8 of anything", old, "aaaaaaaa", true, true},
		{"old policy: 7", old, "aaaaaaa", true, false},
		{"unicode counts runes", lanyard.KeyPasswordSettings{MinLength: 4}, "päss", true, true},
		{"control character", def, "Secret-pw\n", true, false},
		{"outside the BMP", def, "Secret-pw😀", true, false},
		{"too long", old, strings.Repeat("a", MaxKeyPasswordLength+1), true, false},
		{"four classes asked", lanyard.KeyPasswordSettings{MinClasses: 4}, "Secret-pw", true, false},
		{"four classes given", lanyard.KeyPasswordSettings{MinClasses: 4}, "Secret-pw1", true, true},
	} {
		err := CheckKeyPassword(c.k, c.pw, c.required)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: code of %v", c.name, err)
		}
	}
}

func TestKeyPasswordSettingsValidated(t *testing.T) {
	for _, k := range []lanyard.KeyPasswordSettings{{MinLength: 3}, {MinLength: 129}, {MinClasses: 5}, {MinClasses: -1}} {
		p := &lanyard.Policy{Name: "p", Priority: 1, Settings: Defaults()}
		p.Settings.Issuance.KeyPassword = k
		if err := Validate(p, nil, nil); err == nil || !strings.Contains(err.Error(), "Key container password") {
			t.Errorf("%+v: %v", k, err)
		}
	}
}
