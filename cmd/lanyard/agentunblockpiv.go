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
	if err := pivUnblockable(ctx, c, serial, stateDir); err != nil {
		return err
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

// pivUnblockable refuses, before a challenge is shown (so no PUK is
// released for nothing), a card whose PUK the server's release would not
// open: one whose new PUK from an earlier unblock is still in this
// computer's spool, or was refused by the server (agent.PendingEscrow),
// and one with fewer than two PUK tries left (GET METADATA, where the
// card has it): RESET RETRY COUNTER with a PUK the card refuses costs a
// try, and the last ones are not spent offline.
func pivUnblockable(ctx context.Context, c *piv.Card, serial, stateDir string) error {
	switch waiting, refused := agent.PendingEscrow(stateDir, serial); {
	case waiting:
		return fmt.Errorf("card %s: this computer still holds the card's new Admin PIN (PUK) from an earlier unblock, which Lanyard has not received: connect this computer to the network (the Lanyard agent sends it), then run again", serial)
	case refused:
		return fmt.Errorf("card %s: Lanyard refused the card's new Admin PIN (PUK) from an earlier unblock (lanyard agent status), so it does not know the card's PUK; ask the help desk", serial)
	}
	md, err := c.Metadata(ctx, pivspec.KeyPUK)
	switch {
	case err != nil || md.Retries == 0:
		return nil // the card does not say: its refusal will
	case md.RetriesLeft == 0:
		return fmt.Errorf("card %s: its Admin PIN (PUK) is blocked too, so it cannot be unblocked; ask the help desk for a new card", serial)
	case md.RetriesLeft < 2:
		return fmt.Errorf("card %s: its Admin PIN (PUK) has %d try left, which is not spent offline; connect the card to a computer that reaches Lanyard and reset the PIN there, or ask the help desk", serial, md.RetriesLeft)
	}
	return nil
}

// rollForwardPUK changes the card's released PUK at once to a fresh one
// nobody sees (the roll-forward): drawn as the server draws PUKs, sealed
// to the server's escrow key the agent keeps in stateDir, saved in the
// agent's spool (synced) before CHANGE REFERENCE DATA (SP 800-73-4 part
// 2, 3.2.2) sends it, and marked done when the card took it. The agent
// uploads it before its next connection. It reports whether the card
// holds the new PUK, else why not. It changes nothing when the server
// would not accept the escrow, since the card's PUK would then be lost:
// without the escrow key (no agent on this computer, or one that never
// reached the server), and for a card the server did not list as one of
// this workstation's owner at the agent's last connection
// (agent.EscrowAccepted: a colleague's card, a shared computer).
func rollForwardPUK(ctx context.Context, c *piv.Card, stateDir, serial string, ch unblockcode.Payload, puk string) (bool, string) {
	key, err := agent.EscrowKey(stateDir)
	if err != nil {
		return false, "no Lanyard agent's escrow key on this computer"
	}
	if !agent.EscrowAccepted(stateDir, serial) {
		return false, "Lanyard takes a new Admin PIN (PUK) only from its owner's computers, and this computer's agent does not know the card as its owner's"
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
