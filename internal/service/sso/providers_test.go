package sso_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/service/sso"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

func ptr[T any](v T) *T { return &v }

func validInput() sso.ProviderInput {
	return sso.ProviderInput{Name: ptr("corp"), DisplayName: ptr("Corp"), Issuer: ptr("https://idp.example.test/realms/corp"), ClientID: ptr("lanyard")}
}

// TestValidateProvider: each setting's rule, one case each.
func TestValidateProvider(t *testing.T) {
	ok := func() *lanyard.OIDCProvider {
		return &lanyard.OIDCProvider{Name: "corp-1", DisplayName: "Corp", Issuer: "https://idp.example.test", ClientID: "lanyard",
			Scopes: []string{"openid", "email"}, Claim: "email", MatchAttribute: lanyard.MatchEmail, AMR: []string{"hwk"}, ACR: []string{}}
	}
	for _, tc := range []struct {
		name string
		edit func(*lanyard.OIDCProvider)
		bad  string // "" valid
	}{
		{"valid", func(*lanyard.OIDCProvider) {}, ""},
		{"loopback http", func(p *lanyard.OIDCProvider) { p.Issuer = "http://localhost:9998/" }, ""},
		{"loopback IP http", func(p *lanyard.OIDCProvider) { p.Issuer = "http://127.0.0.1:9998" }, ""},
		{"custom claim", func(p *lanyard.OIDCProvider) { p.Claim = "employee_id"; p.MatchAttribute = lanyard.MatchLogin }, ""},
		{"uppercase name", func(p *lanyard.OIDCProvider) { p.Name = "Corp" }, "name"},
		{"name with slash", func(p *lanyard.OIDCProvider) { p.Name = "a/b" }, "name"},
		{"name leading hyphen", func(p *lanyard.OIDCProvider) { p.Name = "-a" }, "name"},
		{"empty display name", func(p *lanyard.OIDCProvider) { p.DisplayName = "" }, "display name"},
		{"control in display name", func(p *lanyard.OIDCProvider) { p.DisplayName = "a\nb" }, "display name"},
		{"plain http elsewhere", func(p *lanyard.OIDCProvider) { p.Issuer = "http://idp.example.test" }, "issuer"},
		{"issuer with query", func(p *lanyard.OIDCProvider) { p.Issuer = "https://idp.example.test/?a=b" }, "issuer"},
		{"issuer with fragment", func(p *lanyard.OIDCProvider) { p.Issuer = "https://idp.example.test/#x" }, "issuer"},
		{"issuer not a URL", func(p *lanyard.OIDCProvider) { p.Issuer = "idp.example.test" }, "issuer"},
		{"client ID with space", func(p *lanyard.OIDCProvider) { p.ClientID = "a b" }, "client ID"},
		{"no openid scope", func(p *lanyard.OIDCProvider) { p.Scopes = []string{"email"} }, "openid"},
		{"scope with quote", func(p *lanyard.OIDCProvider) { p.Scopes = []string{"openid", `a"b`} }, "scope"},
		{"empty claim", func(p *lanyard.OIDCProvider) { p.Claim = "" }, "claim"},
		{"unknown match", func(p *lanyard.OIDCProvider) { p.MatchAttribute = "dn" }, "matched with"},
		{"amr with space", func(p *lanyard.OIDCProvider) { p.AMR = []string{"h k"} }, "amr"},
		{"too many acr", func(p *lanyard.OIDCProvider) { p.ACR = make([]string, 21) }, "acr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok()
			tc.edit(p)
			err := sso.ValidateProvider(p)
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.bad != "" && (!lanyard.IsCode(err, lanyard.EInvalid) || !strings.Contains(lanyard.ErrorMessage(err), tc.bad)):
				t.Fatalf("got %v, want invalid naming %q", err, tc.bad)
			}
		})
	}
}

// TestProviderSettings: only administrators connect providers; the
// client secret is sealed (not in the store in clear), never returned,
// sealed again on a rename, cleared by ""; each change is audited
// without the secret; a bad input changes nothing.
func TestProviderSettings(t *testing.T) {
	st := servicetest.New(t, servicetest.Options{})
	s, admin, ctx := st.Service.SSO, st.Admin, t.Context()
	op := &lanyard.Principal{User: &lanyard.User{Login: "otto"}, Roles: lanyard.Roles{lanyard.RoleOperator}}
	in := validInput()
	in.ClientSecret = ptr("the client secret")
	if _, err := s.CreateProvider(ctx, op, in); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("an operator connects a provider: %v", err)
	}
	p, err := s.CreateProvider(ctx, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasSecret || p.SelfService || p.Console || p.JIT || p.Claim != "email" || strings.Join(p.Scopes, " ") != "openid email profile" ||
		p.CallbackURL != servicetest.DefaultBaseURL+"/login/oidc/corp/callback" {
		t.Fatalf("new provider = %+v", p)
	}
	stored := func(name string) *lanyard.OIDCProvider {
		var v *lanyard.OIDCProvider
		storetest.MustView(t, st.Store, func(tx lanyard.Tx) (err error) { v, err = tx.OIDCProviderByName(name); return })
		return v
	}
	if v := stored("corp"); bytes.Contains(v.SealedSecret, []byte("the client secret")) || len(v.SealedSecret) == 0 {
		t.Fatal("the client secret is not sealed in the store")
	}
	if _, err := s.CreateProvider(ctx, admin, validInput()); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("a second corp: %v", err)
	}
	bad := sso.ProviderInput{Issuer: ptr("http://idp.example.test")}
	if _, err := s.UpdateProvider(ctx, admin, "corp", bad); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Errorf("plain-http issuer: %v", err)
	}
	if v := stored("corp"); v.Issuer != *in.Issuer {
		t.Errorf("a refused update changed the issuer to %s", v.Issuer)
	}
	// A rename seals the secret again under the new name; it still opens.
	if _, err := s.UpdateProvider(ctx, admin, "corp", sso.ProviderInput{Name: ptr("corp2")}); err != nil {
		t.Fatal(err)
	}
	plain, err := st.Sealer.Open(stored("corp2").SealedSecret, []byte("oidc-client-secret:corp2"))
	if err != nil || string(plain) != "the client secret" {
		t.Fatalf("the secret after a rename: %q %v", plain, err)
	}
	p, err = s.UpdateProvider(ctx, admin, "corp2", sso.ProviderInput{ClientSecret: ptr("")})
	if err != nil || p.HasSecret || stored("corp2").SealedSecret != nil {
		t.Fatalf("clearing the secret: %v, has %v", err, p != nil && p.HasSecret)
	}
	var events []*lanyard.AuditEvent
	storetest.MustView(t, st.Store, func(tx lanyard.Tx) (err error) {
		events, err = tx.ListAudit(lanyard.AuditFilter{ObjectType: "oidc_provider", Limit: 10})
		return
	})
	if len(events) != 3 {
		t.Errorf("%d audit events, want create and two updates", len(events))
	}
	for _, e := range events {
		if bytes.Contains(e.Details, []byte("the client secret")) {
			t.Errorf("%s records the secret", e.Action)
		}
	}
	if b, err := s.LoginButtons(ctx); err != nil || len(b) != 0 {
		t.Errorf("login buttons of a provider enabled for nothing: %v %v", b, err)
	}
	if err := s.DeleteProvider(ctx, admin, "corp2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(ctx, "corp2", "/", "192.0.2.1"); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Errorf("Begin at a deleted provider: %v", err)
	}
}

// TestCompleteWithoutProvider: answers that name no sign-in Lanyard
// began are refused before any provider is asked.
func TestCompleteWithoutProvider(t *testing.T) {
	st := servicetest.New(t, servicetest.Options{})
	for _, cb := range []sso.Callback{{Provider: "corp"}, {Provider: "corp", State: "made up", Code: "c", Browser: "b"}} {
		_, err := st.Service.SSO.Complete(t.Context(), cb, "192.0.2.7")
		if !lanyard.IsCode(err, lanyard.EUnauthenticated) {
			t.Errorf("Complete(%+v) = %v, want unauthenticated", cb, err)
		}
	}
}

// FuzzClaimValue: any claims give a usable name or a refusal, never a
// panic; a usable name is trimmed, short and free of control characters.
func FuzzClaimValue(f *testing.F) {
	f.Add("email", "a@example.test", true)
	f.Add("upn", " x\x00y ", false)
	f.Add("preferred_username", strings.Repeat("é", 200), false)
	f.Fuzz(func(t *testing.T, name, value string, verified bool) {
		v, err := sso.ClaimValue(map[string]any{name: value, "email_verified": verified}, name)
		if err != nil {
			return
		}
		if v == "" || len(v) > 256 || v != strings.TrimSpace(v) || strings.ContainsAny(v, "\x00\n\r\t") {
			t.Fatalf("ClaimValue(%q) = %q", value, v)
		}
		if name == "email" && !verified {
			t.Fatal("an unverified email accepted")
		}
	})
}
