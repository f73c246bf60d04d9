package directory

import (
	"errors"

	"github.com/go-ldap/ldap/v3"
)

// checkFilter reports whether f is a well-formed RFC 4515 filter.
func checkFilter(f string) error {
	if f == "" {
		return errors.New("empty filter")
	}
	_, err := ldap.CompileFilter(f)
	return err
}
