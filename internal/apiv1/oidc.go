package apiv1

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Single sign-on (OpenID Connect) providers: administrators' settings
// and what the login page shows.
type (
	// OIDCProvider is a provider as administrators see it: never its
	// client secret, only whether one is set.
	OIDCProvider struct {
		Name            string            `json:"name"`
		DisplayName     string            `json:"display_name"`
		Issuer          string            `json:"issuer"`
		ClientID        string            `json:"client_id"`
		ClientSecretSet bool              `json:"client_secret_set"`
		Scopes          []string          `json:"scopes"`
		Claim           string            `json:"claim"`
		MatchAttribute  lanyard.OIDCMatch `json:"match_attribute"`
		JIT             bool              `json:"jit"`
		AMR             []string          `json:"amr"`
		ACR             []string          `json:"acr"`
		SelfService     bool              `json:"self_service"`
		Console         bool              `json:"console"`
		// CallbackURL is the redirect URI to register at the provider.
		CallbackURL string    `json:"callback_url"`
		CreatedAt   time.Time `json:"created_at"`
		UpdatedAt   time.Time `json:"updated_at"`
	}
	// OIDCProviderInput creates (POST) or changes (PATCH) a provider; an
	// absent field keeps its value. client_secret is write-only; "" makes
	// the provider a public client (PKCE only).
	OIDCProviderInput struct {
		Name           *string            `json:"name,omitempty"`
		DisplayName    *string            `json:"display_name,omitempty"`
		Issuer         *string            `json:"issuer,omitempty"`
		ClientID       *string            `json:"client_id,omitempty"`
		ClientSecret   *string            `json:"client_secret,omitempty"`
		Scopes         *[]string          `json:"scopes,omitempty"`
		Claim          *string            `json:"claim,omitempty"`
		MatchAttribute *lanyard.OIDCMatch `json:"match_attribute,omitempty"`
		JIT            *bool              `json:"jit,omitempty"`
		AMR            *[]string          `json:"amr,omitempty"`
		ACR            *[]string          `json:"acr,omitempty"`
		SelfService    *bool              `json:"self_service,omitempty"`
		Console        *bool              `json:"console,omitempty"`
	}
	// LoginProvider is a "Sign in with …" button of the login page:
	// GET /login/oidc/{name}?next=… starts the sign-in.
	LoginProvider struct {
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
		SelfService bool   `json:"self_service"`
		Console     bool   `json:"console"`
	}
)
