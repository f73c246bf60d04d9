package lanyard

import (
	"crypto/x509"
	"time"
)

// Principal is who is calling: the user, the roles in force for this call
// (a token's scope narrows its owner's roles) and where the call came from.
type Principal struct {
	User       *User
	Roles      Roles
	TokenID    int64
	RemoteAddr string
	// Session is set when the caller authenticated with a browser
	// session, and SecondFactorAt is when that session's second factor
	// was verified (zero: password only).
	Session        bool
	SecondFactorAt time.Time
	// RemoteSelfService is set for a user who proved who they are with
	// their secret answers only (Remote Self-Service, /rss/): no password,
	// no card. Roles then hold only user, and the card operations allow
	// only what helps someone who cannot sign in (cardperm).
	RemoteSelfService bool
	// ClientCertificates is the certificate chain the caller's own TLS
	// connection to Lanyard's HTTPS listener presented (the client's
	// certificate first), nil without one: a card Lanyard issued there
	// stands in for the authenticator app's code in the step-up
	// (docs/security.md, "Smart card sign-in"). Never taken from a header.
	ClientCertificates []*x509.Certificate
	// ClientCertificatesRefused is why the chain the connection
	// presented may not stand in for a second factor (its TLS session
	// was resumed, or its handshake is older than the web layer
	// allows); ClientCertificates is then nil. Empty otherwise.
	ClientCertificatesRefused string
}

// SystemPrincipal acts for Lanyard itself (first start, schedules).
var SystemPrincipal = &Principal{User: &User{Login: "system"}, Roles: Roles{RoleAdministrator}}

// Has reports whether the principal holds any of the roles.
func (p *Principal) Has(r ...Role) bool { return p != nil && p.Roles.Has(r...) }

// IsStaff reports whether p may act on other users' certificates: an
// operator, an administrator or a CA manager.
func (p *Principal) IsStaff() bool {
	return p.Has(RoleOperator, RoleAdministrator, RoleCAManager)
}

// IsCardStaff reports whether p may do card work — issue, continue,
// clear, create virtual cards, manage AirCards — on other users' cards and
// workstations: operators (the help desk) and administrators. CA managers
// decide certificate requests and may read cards, as auditors do; they
// never write one.
func (p *Principal) IsCardStaff() bool {
	return p.Has(RoleOperator, RoleAdministrator)
}

// OwnerScope is the owner whose workstations p works with: their own, or
// (0) every one for card staff.
func (p *Principal) OwnerScope() int64 {
	if p.IsCardStaff() {
		return 0
	}
	return p.User.ID
}
