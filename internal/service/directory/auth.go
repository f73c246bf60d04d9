package directory

import (
	"context"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Authenticate checks a directory user's password by binding to their
// source as them (RFC 4511 4.2; identity.Directories): nil when the
// directory accepts it. The entry the bind finds must be u's own (the
// same external ID: a login the directory gave to someone else since the
// last sync signs nobody in) and not disabled there. EUnauthenticated
// for a wrong password, an unknown login or another person's entry;
// EForbidden for an account disabled in the directory; EUnavailable
// ("the directory is unreachable") when the source cannot be reached,
// so that a directory outage is not mistaken for a wrong password.
func (d *Directory) Authenticate(ctx context.Context, u *lanyard.User, password string) error {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "wrong login or password")
	if u.Source != lanyard.SourceLDAP || password == "" {
		return bad
	}
	var src *lanyard.DirectorySource
	err := d.rec.View(ctx, func(tx lanyard.Tx) (err error) { src, err = tx.DirectorySourceByID(u.SourceID); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return bad // its source was deleted
	}
	if err != nil {
		return err
	}
	if !src.Enabled {
		return lanyard.Errorf(lanyard.EUnavailable, "the directory is unreachable: its source %s is turned off", src.Name)
	}
	pw, err := d.password(src)
	if err != nil {
		return err
	}
	e, err := d.cfg.Reader.Authenticate(ctx, src, pw, u.Login, password)
	switch {
	case lanyard.IsCode(err, lanyard.EUnauthenticated):
		return bad
	case lanyard.IsCode(err, lanyard.EUnavailable):
		d.log.Warn("directory bind failed", "source", src.Name, "err", err)
		return lanyard.Errorf(lanyard.EUnavailable, "the directory is unreachable; try again later")
	case err != nil:
		return err
	}
	if !strings.EqualFold(e.ExternalID, u.ExternalID) {
		return bad
	}
	if e.Disabled {
		return lanyard.Errorf(lanyard.EForbidden, "the account is disabled in the directory")
	}
	return nil
}
