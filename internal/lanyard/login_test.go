package lanyard

import (
	"strings"
	"testing"
)

func TestValidLogin(t *testing.T) {
	for s, want := range map[string]bool{
		"alice": true, "a.b-c_d@corp.example": true, "A1": true, strings.Repeat("a", 128): true,
		"": false, strings.Repeat("a", 129): false, "a b": false, "a/b": false, "ålice": false, "a\x00": false, "K\u212Aevin": false,
	} {
		if got := ValidLogin(s); got != want {
			t.Errorf("ValidLogin(%q) = %v, want %v", s, got, want)
		}
	}
}
