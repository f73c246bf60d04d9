package emu

import (
	"crypto/subtle"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// Offline PIN unblock on Lanyard's own cards (docs/lifecycle.md, "Offline
// unblock", scheme lanyard-mac): the server gives the card an offline key
// (SET OFFLINE KEY, under the management key) when the card has a
// management key of its own; the card makes a challenge, the server
// answers with a MAC of it under that key (unblockcode.MACKey, derived
// from the card's diversified management key), and the card sets a new
// PIN when the MAC is right. Nothing reusable is disclosed: the response
// fits one challenge, and any attempt consumes the challenge. A card the
// server never gave the key (a shared or default management key, which
// others may know) refuses to make a challenge.

// OfflineChallengeLifetime is how long a challenge waits for its
// response, on the card's clock.
const OfflineChallengeLifetime = 8 * time.Hour

// handleVendor runs Lanyard's vendor instructions (class 80) on the
// selected PIV application; any other proprietary command is 6D00. A
// card made WithoutLanyardExtensions answers 6E00 to all of class 80.
func (c *Card) handleVendor(cmd apdu.Command) apdu.Response {
	if cmd.CLA != pivspec.ClaLanyard || c.cfg.plain {
		return status(apdu.SWClassNotSupported)
	}
	if !c.sess.selected {
		return status(apdu.SWInstructionNotSupported)
	}
	switch cmd.INS {
	case pivspec.InsGetUnblockChallenge:
		return c.getUnblockChallenge(cmd)
	case pivspec.InsUnblockWithResponse:
		return c.unblockWithResponse(cmd)
	case pivspec.InsSetOfflineKey:
		return c.setOfflineKey(cmd)
	case pivspec.InsArmOfflineUnblock:
		return c.armOfflineUnblock(cmd)
	}
	return status(apdu.SWInstructionNotSupported)
}

// serialName is the card's serial as Lanyard names it (personalize.Serial:
// the vendor serial in decimal), which the MAC key is bound to.
func (c *Card) serialName() string { return strconv.FormatUint(uint64(c.st.Serial), 10) }

// offlineCapable reports whether the card can be unblocked offline: the
// server set its offline key, and its PIN is not held by a guard (TPM),
// which checks its own way.
func (c *Card) offlineCapable() bool { return len(c.st.Offline.Key) == 32 && c.st.Guard == nil }

// setOfflineKey is SET OFFLINE KEY (80 2A 00 80): 32 bytes, the
// management key authenticated. Setting a new key drops a pending
// challenge (its response would be computed under the old one).
func (c *Card) setOfflineKey(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 || cmd.P2 != RefPIN {
		return status(apdu.SWIncorrectP1P2)
	}
	if len(cmd.Data) != 32 {
		return status(apdu.SWWrongLength)
	}
	if !c.sess.mgmAuthenticated {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	if c.st.Guard != nil {
		// Its PIN guard checks offline unblock codes itself
		// (offlinetpm.go): a key in the card's software state would be a
		// way around it.
		return status(apdu.SWFunctionNotSupported)
	}
	if subtle.ConstantTimeCompare(c.st.Offline.Key, cmd.Data) == 1 {
		return success(nil) // already set: a resumed issue sends it again
	}
	c.st.Offline.Key = append([]byte(nil), cmd.Data...)
	c.st.Offline.Pending = nil
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	return success(nil)
}

// getUnblockChallenge is GET UNBLOCK CHALLENGE (80 84 00 80): the pending
// challenge while it is valid, so a tool run twice shows the code already
// read out; otherwise a new one, saved before it is shown.
func (c *Card) getUnblockChallenge(cmd apdu.Command) apdu.Response {
	if sw := noData(cmd, 0x00, 0x80); sw != apdu.SWOK {
		return status(sw)
	}
	if c.st.Guard != nil {
		return c.armedChallenge() // offlinetpm.go
	}
	if !c.offlineCapable() {
		return status(apdu.SWConditionsNotSatisfied)
	}
	now := c.cfg.now()
	p := c.st.Offline.Pending
	if p == nil || now.Sub(p.Created) >= OfflineChallengeLifetime || now.Before(p.Created) {
		var b [8]byte
		if _, err := c.cfg.rand.Read(b[:]); err != nil {
			return status(apdu.SWMemoryFailure)
		}
		c.st.Offline.Counter++
		p = &PendingChallenge{Counter: c.st.Offline.Counter, Nonce: binary.BigEndian.Uint64(b[:]) & unblockcode.NonceMax, Created: now}
		c.st.Offline.Pending = p
		if !c.commit() {
			return status(apdu.SWMemoryFailure)
		}
	}
	payload, err := c.challengeFields(p).Pack()
	if err != nil {
		return status(apdu.SWMemoryFailure)
	}
	left := uint32((OfflineChallengeLifetime - now.Sub(p.Created)) / time.Second)
	out := apdu.AppendTLV(nil, pivspec.TagUnblockChallenge, payload[:])
	out = apdu.AppendTLV(out, pivspec.TagUnblockSecondsLeft, binary.BigEndian.AppendUint32(nil, left))
	return success(out)
}

func (c *Card) challengeFields(p *PendingChallenge) unblockcode.ChallengeFields {
	return unblockcode.ChallengeFields{Scheme: unblockcode.SchemeLanyardMAC, CardTag: unblockcode.CardTag(c.serialName()),
		Counter: p.Counter, Nonce: p.Nonce}
}

// unblockWithResponse is UNBLOCK PIN WITH RESPONSE (80 2C 00 80):
// counter (2) ‖ response (9) ‖ new PIN (8, FF-padded). The order of
// checks: the form of the data (6700, 6A80: nothing consumed), a pending
// challenge with that counter (6985), then the challenge is consumed and
// saved before the response is compared, so that pulling the card
// mid-command gives no second try; a wrong response is 6982.
func (c *Card) unblockWithResponse(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 || cmd.P2 != RefPIN {
		return status(apdu.SWIncorrectP1P2)
	}
	if len(cmd.Data) != 2+9+referenceLen {
		return status(apdu.SWWrongLength)
	}
	counter := binary.BigEndian.Uint16(cmd.Data[:2])
	var got unblockcode.Payload
	copy(got[:], cmd.Data[2:11])
	newPIN := cmd.Data[11:]
	if !validReference(newPIN) || !got.Valid() {
		return status(apdu.SWIncorrectData)
	}
	if c.st.Guard != nil {
		return c.unblockWithArmedCode(counter, got, newPIN) // offlinetpm.go
	}
	if !c.offlineCapable() {
		return status(apdu.SWConditionsNotSatisfied)
	}
	p := c.st.Offline.Pending
	now := c.cfg.now()
	if p == nil || p.Counter != counter || now.Sub(p.Created) >= OfflineChallengeLifetime || now.Before(p.Created) {
		return status(apdu.SWConditionsNotSatisfied)
	}
	fields := c.challengeFields(p)
	c.st.Offline.Pending = nil
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	ch, err := fields.Pack()
	if err != nil {
		return status(apdu.SWMemoryFailure)
	}
	want := unblockcode.ResponseMAC(c.st.Offline.Key, c.serialName(), ch)
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	c.st.PIN = append([]byte(nil), newPIN...)
	return c.commitUnblocked()
}

// commitUnblocked ends an offline unblock whose new PIN is in the state:
// the PIN gets all its tries, the state is saved, and every session's PIN
// security status is void.
func (c *Card) commitUnblocked() apdu.Response {
	c.st.PINTriesLeft = c.st.PINRetries
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	c.pinEpoch++
	c.forgetPIN()
	return success(nil)
}
