package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// bootstrapTokenFile is DATA/bootstrap-token: the first-start
// administrator token, for creating named staff accounts. The file goes
// as soon as its token stops working, however that happened (`lanyard
// token revoke`, the API, the console, a password reset of the admin
// account, expiry), so that a token known to be dead does not lie around
// and one known to be alive is never left behind by a CLI that forgot to
// delete it: the server, which sees every revocation it makes, checks.
type bootstrapTokenFile struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex // one check at a time
	svc  *service.Service
}

func newBootstrapTokenFile(data string, log *slog.Logger) *bootstrapTokenFile {
	return &bootstrapTokenFile{path: filepath.Join(data, "bootstrap-token"), log: log}
}

// write stores a new token (0600).
func (b *bootstrapTokenFile) write(token string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return writeSecretFile(b.path, token+"\n")
}

// check deletes the file when its token no longer authenticates. It is
// the service's TokensRevoked hook, and runs at start and on the
// server's schedule too (revocations by other replicas, expiry). A
// database error keeps the file: only a refused token removes it.
func (b *bootstrapTokenFile) check(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.svc == nil {
		return
	}
	alive, err := b.alive(ctx)
	if err != nil {
		b.log.Error("checking the bootstrap token failed", "file", b.path, "err", err)
		return
	}
	if alive {
		return
	}
	if err := os.Remove(b.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Error("deleting the revoked or expired bootstrap token failed", "file", b.path, "err", err)
		return
	}
	b.log.Info("deleted the bootstrap token file: its token is revoked or expired", "file", b.path)
}

// alive reports whether the file's token works; true when there is no
// file (nothing to delete).
func (b *bootstrapTokenFile) alive(ctx context.Context) (bool, error) {
	raw, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil // nothing to delete
	}
	if err != nil {
		return false, err
	}
	return b.svc.Identity.TokenWorks(ctx, strings.TrimSpace(string(raw)))
}

// exists reports whether the file is there.
func (b *bootstrapTokenFile) exists() bool {
	_, err := os.Stat(b.path)
	return err == nil
}

// renewForDemo gives the demo (make run) a working administrator token
// again when the file is gone (revoked or expired, then deleted by
// check): the README's "Try it" reads it. Only --demo does this: a real
// installation uses its named staff accounts.
func (b *bootstrapTokenFile) renewForDemo(ctx context.Context, svc *service.Service, ttl string) (bool, error) {
	if b.exists() {
		return false, nil
	}
	admin, err := bootstrapAdmin(ctx, svc)
	if err != nil {
		return false, err
	}
	tok, err := svc.Identity.CreateToken(ctx, admin, identity.TokenInput{Name: "bootstrap", TTL: ttl})
	if err != nil {
		return false, fmt.Errorf("a new demo administrator token: %w", err)
	}
	return true, b.write(tok.Secret)
}
