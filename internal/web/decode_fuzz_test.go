package web

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/web/problem"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// FuzzDecodeJSON feeds arbitrary bodies to the strict decoder for each
// request type the API accepts: it must never panic, and every failure must
// be a *lanyard.Error whose code maps to a 4xx status.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"login":"bob","email":"bob@example.com"}`, `{"template":"x","csr":"-----BEGIN"}`,
		`{"name":"p","settings":{"workflow":{"issue_card":true}}}`, `{"login":`, `[]`, `null`, `{"a":1}`,
		`{"roles":["user","x"]}`, `{"validity_days":1e999}`, "\xff\xfe", `{"login":"a"}{"login":"b"}`,
	} {
		f.Add(s)
	}
	targets := []func() any{
		func() any { return &apiv1.UserInput{} },
		func() any { return &apiv1.IssueInput{} },
		func() any { return &apiv1.TokenInput{} },
		func() any { return &apiv1.CardTypeInput{} },
		func() any { return &lanyard.Template{} },
		func() any { return apiv1.NewPolicyInput() },
		func() any { return &apiv1.RevokeInput{} },
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, newTarget := range targets {
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			err := decodeJSON(httptest.NewRecorder(), r, newTarget())
			if err == nil {
				continue
			}
			var le *lanyard.Error
			if !errors.As(err, &le) || le.Message == "" {
				t.Fatalf("decode error %v is not a lanyard.Error with a message", err)
			}
			if st := problem.Status(le.Code); st < 400 || st >= 500 {
				t.Fatalf("decode error code %q maps to status %d", le.Code, st)
			}
		}
	})
}
