package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/pukescrow"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// The offline unblock of a standard PIV card (YubiKey, any SP 800-73-4
// card; scheme piv-puk, docs/lifecycle.md "Offline unblock"). Such a card
// knows no challenge of its own and sets a PIN only with its PUK (RESET
// RETRY COUNTER, SP 800-73-4 part 2, 3.2.3), so the tool makes the
// challenge (its own nonce, kept for the card for 8 hours so a second run
// shows the same code) and the server's response carries the card's PUK,
// masked and checked against the challenge: the tool unmasks it and checks
// it before it spends a PUK try, so a response for another card or
// challenge costs nothing.

// pivChallengeLifetime is how long the tool keeps a card's nonce, so that
// re-running it shows the challenge already read out.
const pivChallengeLifetime = 8 * time.Hour

// pivNonce is a standard card's pending challenge nonce.
type pivNonce struct {
	Nonce   uint64    `json:"nonce"`
	Created time.Time `json:"created"`
}

// pivNonceStore keeps the nonces in the user's cache directory (dir, for
// tests; default os.UserCacheDir()/lanyard/offline-unblock), one file per
// card serial, readable by the user only.
type pivNonceStore struct{ dir string }

func (s pivNonceStore) path(serial string) (string, error) {
	dir := s.dir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(base, "lanyard", "offline-unblock")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(dir, "piv-"+serial+".json"), nil
}

// get returns the card's nonce while it is valid, else a new one, saved
// before it is shown.
func (s pivNonceStore) get(serial string, now time.Time) (pivNonce, error) {
	p, err := s.path(serial)
	if err != nil {
		return pivNonce{}, err
	}
	var n pivNonce
	if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &n) == nil &&
		n.Nonce <= unblockcode.NonceMax && !now.Before(n.Created) && now.Sub(n.Created) < pivChallengeLifetime {
		return n, nil
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return pivNonce{}, err
	}
	n = pivNonce{Nonce: binary.BigEndian.Uint64(b[:]) & unblockcode.NonceMax, Created: now.UTC()}
	out, err := json.Marshal(n)
	if err != nil {
		return pivNonce{}, err
	}
	return n, os.WriteFile(p, out, 0o600)
}

// drop forgets the card's nonce once its challenge is used.
func (s pivNonceStore) drop(serial string) {
	if p, err := s.path(serial); err == nil {
		_ = os.Remove(p)
	}
}

// unblockOfflinePIV runs the exchange with the user on a selected standard
// PIV card.
func unblockOfflinePIV(ctx context.Context, c *piv.Card, reader string, forgot bool, in *prompter, nonces pivNonceStore, stateDir string) error {
	serial, err := unblockSerial(ctx, c, forgot)
	if err != nil {
		return err
	}
	if md, err := c.Metadata(ctx, pivspec.KeyPUK); err == nil && md.Retries > 0 && md.RetriesLeft == 0 {
		return fmt.Errorf("card %s: its Admin PIN (PUK) is blocked too, so it cannot be unblocked; ask the help desk for a new card", serial)
	}
	n, err := nonces.get(serial, time.Now())
	if err != nil {
		return fmt.Errorf("keeping the challenge: %w", err)
	}
	ch, err := unblockcode.ChallengeFields{Scheme: unblockcode.SchemePIVPUK, CardTag: unblockcode.CardTag(serial), Nonce: n.Nonce}.Pack()
	if err != nil {
		return err
	}
	in.say("Card %s in %s (a standard PIV card).\n", serial, reader)
	in.say("Call your help desk, or open Remote Self-Service, and give this challenge:\n\n    %s    (valid until %s)\n\n",
		unblockcode.Encode(unblockcode.Challenge, ch), n.Created.Add(pivChallengeLifetime).Local().Format("15:04"))
	_, puk, err := readResponse(in, func(r unblockcode.Payload) (string, error) {
		return unblockcode.OpenPUKResponse(serial, ch, r)
	})
	if err != nil {
		return err
	}
	pin, err := readNewPIN(in, offlinePINBounds(stateDir, serial))
	if err != nil {
		return err
	}
	err = c.UnblockPIN(ctx, puk, pin)
	var ae *piv.AuthError
	switch {
	case errors.As(err, &ae):
		return fmt.Errorf("the card refused the Admin PIN (PUK) the response carries (%d tries left): it was changed since the server last saw the card; ask the help desk", ae.Retries)
	case err != nil:
		return err
	}
	nonces.drop(serial)
	in.say("The PIN of card %s is set; it has all its tries again.\n", serial)
	switch rolled, note := rollForwardPUK(ctx, c, stateDir, serial, ch, puk); {
	case rolled:
		in.say("The card's Admin PIN (PUK) was changed to a new one nobody has seen; Lanyard receives it, sealed, when this computer next connects.\n")
	default:
		in.say("The response carried the card's Admin PIN (PUK): it stays valid on this card until the card is next used on a computer connected to Lanyard, which changes it (%s).\n", note)
	}
	return nil
}

// rollForwardPUK changes the card's released PUK at once to a fresh one
// nobody sees (the roll-forward): drawn as the server draws PUKs, sealed
// to the server's escrow key the agent keeps in stateDir, saved in the
// agent's spool (synced) before CHANGE REFERENCE DATA (SP 800-73-4 part
// 2, 3.2.2) sends it, and marked done when the card took it. The agent
// uploads it before its next connection. It reports whether the card
// holds the new PUK, else why not; without the escrow key (no agent on
// this computer, or one that never reached the server) it changes
// nothing, since the server would not know the card's PUK.
func rollForwardPUK(ctx context.Context, c *piv.Card, stateDir, serial string, ch unblockcode.Payload, puk string) (bool, string) {
	key, err := agent.EscrowKey(stateDir)
	if err != nil {
		return false, "no Lanyard agent's escrow key on this computer"
	}
	next, err := randomPUK()
	if err != nil {
		return false, err.Error()
	}
	blob, err := pukescrow.Seal(key, serial, ch, next)
	if err != nil {
		return false, "the agent's escrow key is damaged"
	}
	path, err := agent.SpoolEscrow(stateDir, agentproto.PUKEscrow{Serial: serial, Challenge: unblockcode.Encode(unblockcode.Challenge, ch), Sealed: blob, Changed: "unknown"})
	if err != nil {
		return false, "the agent's state directory cannot be written: " + err.Error()
	}
	err = c.ChangePUK(ctx, puk, next)
	var ae *piv.AuthError
	switch {
	case errors.As(err, &ae):
		_ = os.Remove(path) // refused: the card keeps the released PUK
		return false, "the card refused the change"
	case err != nil:
		return false, "the card did not answer the change; Lanyard tries both when it next sees the card"
	}
	// Left "unknown" if this fails: the server then tries both PUKs.
	_ = agent.UpdateEscrow(path, "done")
	return true, ""
}

// randomPUK draws 8 characters of digits and letters (unblockcode's PUK
// alphabet), as the server draws a card's PUK.
func randomPUK() (string, error) {
	b := make([]byte, unblockcode.PUKLength)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(unblockcode.PUKAlphabet))))
		if err != nil {
			return "", err
		}
		b[i] = unblockcode.PUKAlphabet[n.Int64()]
	}
	return string(b), nil
}
