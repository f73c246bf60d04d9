package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// The offline unblock's roll-forward on a standard PIV card
// (docs/lifecycle.md, "Offline unblock"): the agent keeps the server's
// PUK escrow public key in its state directory for the workstation tool
// (lanyard agent unblock --offline), which leaves the card's new PUK,
// sealed to that key, in the directory's escrow spool; before each
// connection the agent fetches the key and uploads the spool. The agent
// cannot open what it holds.
const (
	escrowKeyFile  = "puk-escrow.pub"
	escrowSpoolDir = "escrow"
)

// EscrowKey is the server's PUK escrow public key as the agent in dir
// last fetched it; an error when it never did.
func EscrowKey(dir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, escrowKeyFile))
}

// SpoolEscrow saves e in dir's escrow spool, synced to disk, and returns
// its path: the tool saves it before it sends the new PUK to the card, so
// the server learns it whatever happens next.
func SpoolEscrow(dir string, e agentproto.PUKEscrow) (string, error) {
	spool := filepath.Join(dir, escrowSpoolDir)
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return "", err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	path := filepath.Join(spool, e.Serial+"-"+strings.ReplaceAll(e.Challenge, "-", "")+".json")
	return path, writeFileAtomic(path, b)
}

// UpdateEscrow records in the spooled escrow at path whether the card
// took the new PUK (agentproto.PUKEscrow.Changed).
func UpdateEscrow(path, changed string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var e agentproto.PUKEscrow
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	e.Changed = changed
	if b, err = json.Marshal(e); err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// syncEscrow fetches the escrow key and uploads the spool, before a
// connection: the server must hold a card's new PUK before the card
// arrives and the server rotates its released one. Failures are logged;
// the next connection tries again.
func (a *Agent) syncEscrow(ctx context.Context) {
	dir := a.cfg.StateDir
	var key agentproto.PUKEscrowKey
	if err := callServer(ctx, dir, http.MethodGet, agentproto.PathPUKEscrow, nil, &key); err != nil || len(key.PublicKey) == 0 {
		// A server that does not take escrows (or is not reachable)
		// gets none: the spool waits.
		a.log.Debug("no PUK escrow key from the server", "err", err)
		return
	}
	if err := writeFileAtomic(filepath.Join(dir, escrowKeyFile), key.PublicKey); err != nil {
		a.log.Warn("saving the PUK escrow key failed", "err", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, escrowSpoolDir, "*.json"))
	for _, f := range files {
		a.uploadEscrow(f, func(e agentproto.PUKEscrow) error {
			return callServer(ctx, dir, http.MethodPost, agentproto.PathPUKEscrow, e, nil)
		})
	}
}

// uploadEscrow uploads the spooled escrow at f with upload. Uploaded, it
// leaves the spool (the server takes the same escrow again without
// change, should the removal fail). One the server refuses for good (any
// 4xx but 409 and 429) is never dropped: it holds the only
// copy of the card's PUK, so it moves to escrow/refused/ and the error is
// logged; `lanyard agent status` lists it (RefusedEscrows) for the
// operator: the server does not know the card's PUK, which only a
// re-issue (or Clear with Initialize) gives back.
func (a *Agent) uploadEscrow(f string, upload func(agentproto.PUKEscrow) error) {
	b, err := os.ReadFile(f)
	var e agentproto.PUKEscrow
	if err == nil {
		err = json.Unmarshal(b, &e)
	}
	if err == nil {
		err = upload(e)
	}
	var pe *problemError
	switch {
	case err == nil:
		a.log.Info("uploaded a card's new Admin PIN (PUK), sealed", "serial", e.Serial)
		if err := os.Remove(f); err != nil {
			a.log.Warn("removing an uploaded PUK escrow failed; it is uploaded again, which changes nothing", "file", f, "err", err)
		}
	case errors.As(err, &pe) && pe.Status >= 400 && pe.Status < 500 && pe.Status != http.StatusTooManyRequests && pe.Status != http.StatusConflict:
		refused := filepath.Join(filepath.Dir(f), escrowRefusedDir)
		merr := os.MkdirAll(refused, 0o700)
		if merr == nil {
			merr = os.Rename(f, filepath.Join(refused, filepath.Base(f)))
		}
		if merr != nil {
			// Left in the spool: uploaded (and refused) again, never lost.
			a.log.Error("keeping a refused PUK escrow failed", "file", f, "err", merr)
		}
		a.log.Error("the server refused a card's escrowed Admin PIN (PUK): the card holds a PUK the server does not know; kept in "+refused+" (ask your Lanyard operator)", "serial", e.Serial, "err", err)
	default:
		a.log.Warn("uploading a card's escrowed Admin PIN (PUK) failed; tried again at the next connection", "serial", e.Serial, "err", err)
	}
}

// escrowRefusedDir, in the spool, keeps the escrows the server refused.
const escrowRefusedDir = "refused"

// PendingEscrow reports whether dir's spool still holds an escrow of the
// card with serial waiting for upload, and whether one the server refused
// is kept: either way the card's PUK is not the one the server holds, so
// a new offline unblock would release a stale one.
func PendingEscrow(dir, serial string) (waiting, refused bool) {
	spool := filepath.Join(dir, escrowSpoolDir)
	w, _ := filepath.Glob(filepath.Join(spool, globQuote(serial)+"-*.json"))
	r, _ := filepath.Glob(filepath.Join(spool, escrowRefusedDir, globQuote(serial)+"-*.json"))
	return len(w) > 0, len(r) > 0
}

// RefusedEscrows are the file names of the escrows the server refused,
// kept in dir's spool (serial-challenge.json).
func RefusedEscrows(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, escrowSpoolDir, escrowRefusedDir, "*.json"))
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

// EscrowAccepted reports whether the server, at the agent's last
// connection, listed the card with serial as one of this workstation's
// owner (agentproto.CardPINRule.Owned): the only cards whose roll-forward
// escrow it accepts. A card it did not list keeps its released PUK until
// it next connects.
func EscrowAccepted(dir, serial string) bool {
	r, ok, _ := CachedPINRule(dir, serial)
	return ok && r.Owned
}

// globQuote escapes the glob metacharacters of s.
func globQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
