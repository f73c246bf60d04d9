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
// the next connection tries again. An escrow a server that takes escrows
// refuses (not found, malformed) is dropped: it can never be taken.
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
		b, err := os.ReadFile(f)
		var e agentproto.PUKEscrow
		if err == nil {
			err = json.Unmarshal(b, &e)
		}
		if err == nil {
			err = callServer(ctx, dir, http.MethodPost, agentproto.PathPUKEscrow, e, nil)
		}
		var pe *problemError
		switch {
		case err == nil:
			a.log.Info("uploaded a card's new Admin PIN (PUK), sealed", "serial", e.Serial)
		case errors.As(err, &pe) && pe.Status >= 400 && pe.Status < 500 && pe.Status != http.StatusTooManyRequests && pe.Status != http.StatusConflict:
			a.log.Warn("the server refused a card's escrowed Admin PIN (PUK); dropped", "serial", e.Serial, "err", err)
		default:
			a.log.Warn("uploading a card's escrowed Admin PIN (PUK) failed; tried again at the next connection", "serial", e.Serial, "err", err)
			continue
		}
		_ = os.Remove(f)
	}
}
