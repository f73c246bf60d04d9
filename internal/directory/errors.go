package directory

import "errors"

// Errors a caller tells apart with errors.Is. Each is wrapped with the
// server's address and what was being done; the wrapped text never holds a
// password.
var (
	// ErrUnreachable: the server could not be reached (DNS, refused
	// connection, timeout, connection closed).
	ErrUnreachable = errors.New("directory server unreachable")
	// ErrTLS: the TLS handshake failed, typically because the server's
	// certificate is not signed by the configured CA or names another host.
	ErrTLS = errors.New("directory TLS handshake failed")
	// ErrServiceBind: the service account (Config.BindDN) was refused.
	ErrServiceBind = errors.New("directory refused the service account's bind")
	// ErrBadCredentials: the user's password is wrong, empty, or the
	// directory refuses the account's bind (AD refuses disabled, expired
	// and locked accounts with the same result code 49, RFC 4511 4.1.9).
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrNoSuchUser: no entry under the base DN matches the login.
	// Callers that face users should report it as ErrBadCredentials.
	ErrNoSuchUser = errors.New("no such directory user")
	// ErrAmbiguousUser: more than one entry matches the login.
	ErrAmbiguousUser = errors.New("more than one directory user has this login")
	// ErrDisabled: the password is right but the directory marks the
	// account disabled (OpenLDAP/389 DS lock attributes; AD refuses the
	// bind itself).
	ErrDisabled = errors.New("directory account disabled")
	// ErrConfig: the Config is not usable (Validate's error wraps it).
	ErrConfig = errors.New("invalid directory configuration")
	// ErrStateKind: an Incremental was asked with a State made for another
	// server kind or base DN; run Full again.
	ErrStateKind = errors.New("directory state does not match this configuration; a full read is needed")
)
