package directory

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// LDAP is the Reader of lanyard serve: internal/directory's reader of
// Active Directory and OpenLDAP over github.com/go-ldap/ldap/v3.
type LDAP struct{}

var errNoReader = lanyard.Errorf(lanyard.EUnavailable, "the directory is unreachable: this server has no LDAP reader")

func (LDAP) Full(context.Context, *lanyard.DirectorySource, string) (*Snapshot, error) {
	return nil, errNoReader
}

func (LDAP) Incremental(context.Context, *lanyard.DirectorySource, string, string) (*Delta, error) {
	return nil, errNoReader
}

func (LDAP) Authenticate(context.Context, *lanyard.DirectorySource, string, string, string) (*Entry, error) {
	return nil, errNoReader
}
