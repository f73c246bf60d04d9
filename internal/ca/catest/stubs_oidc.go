package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// OIDC providers and sign-ins are outside what a CA uses (stubs.go).

func (*tx) CreateOIDCProvider(*lanyard.OIDCProvider) error {
	return notImplemented("CreateOIDCProvider")
}
func (*tx) UpdateOIDCProvider(*lanyard.OIDCProvider) error {
	return notImplemented("UpdateOIDCProvider")
}
func (*tx) OIDCProviderByID(int64) (*lanyard.OIDCProvider, error) {
	return nil, notImplemented("OIDCProviderByID")
}
func (*tx) OIDCProviderByName(string) (*lanyard.OIDCProvider, error) {
	return nil, notImplemented("OIDCProviderByName")
}
func (*tx) ListOIDCProviders() ([]*lanyard.OIDCProvider, error) {
	return nil, notImplemented("ListOIDCProviders")
}
func (*tx) DeleteOIDCProvider(int64) error           { return notImplemented("DeleteOIDCProvider") }
func (*tx) CreateOIDCLogin(*lanyard.OIDCLogin) error { return notImplemented("CreateOIDCLogin") }
func (*tx) TakeOIDCLogin([]byte) (*lanyard.OIDCLogin, error) {
	return nil, notImplemented("TakeOIDCLogin")
}
func (*tx) DeleteExpiredOIDCLogins(time.Time) (int, error) {
	return 0, notImplemented("DeleteExpiredOIDCLogins")
}

func (*tx) UsersByEmail(string) ([]*lanyard.User, error) { return nil, notImplemented("UsersByEmail") }
func (*tx) CountOIDCLogins(string, time.Time) (int, error) {
	return 0, notImplemented("CountOIDCLogins")
}
func (*tx) CountProviderOIDCLogins(int64, time.Time) (int, error) {
	return 0, notImplemented("CountProviderOIDCLogins")
}
func (*tx) LockOIDCLogins() error             { return notImplemented("LockOIDCLogins") }
func (*tx) OIDCBinding(int64) (string, error) { return "", notImplemented("OIDCBinding") }
func (*tx) SetOIDCBinding(int64, string, time.Time) error {
	return notImplemented("SetOIDCBinding")
}
