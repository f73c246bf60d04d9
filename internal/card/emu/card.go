package emu

import (
	"errors"
	"fmt"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// DefaultRetries is the PIN's and the PUK's retry counter of a new card,
// as blank PIV cards and YubiKeys ship.
const DefaultRetries = 3

// Version is the firmware version GET VERSION reports: YubiKey 5.4.3, from
// which on clients (piv-go, ykman) read GET METADATA and may set AES
// management keys.
//
// The emulator has YubiKey 5.7's MOVE KEY but does not claim 5.7: clients
// take 5.7 to mean Ed25519 and X25519 keys as well (piv-go's own suite
// then generates them), which the emulator does not have. Lanyard finds
// MOVE KEY by a probe instead (piv.Card.HasMoveKey).
var Version = [3]byte{5, 4, 3}

// atr is the card's Answer To Reset, with the card issuer's data
// "Lanyard" (see pivspec.ATRWithIssuerData).
var atr = pivspec.ATRWithIssuerData("Lanyard")

// Card is an emulated PIV card. It implements vpcd.Card; Transport adapts
// it to apdu.Transport for in-process clients. All methods are safe for
// concurrent use; APDUs are processed one at a time.
//
// The Card's own Transmit, PowerOff, PowerOn and Reset use its default
// session; NewSession opens more (see Session).
type Card struct {
	cfg config

	mu    sync.Mutex
	st    *State       // current persistent state
	saved *State       // last state the store accepted
	keys  map[byte]Key // loaded keys, by slot
	def   Session      // the default session: Card.Transmit's
	// sess is the volatile state of the session whose command is being
	// processed (set by Session.enter, with mu held).
	sess *session
	// pinEpoch and mgmEpoch count the changes that void other sessions'
	// PIN and management key security status (see Session).
	pinEpoch, mgmEpoch uint64
}

// session is the card's volatile state: what power off, power on, reset
// and selecting the application clear (SP 800-73-4 Part 2, 3.1.1 and 2.4).
type session struct {
	selected    bool
	pinVerified bool
	// pinFresh: the PIN was verified since the last private-key
	// operation, as a PIN-always key requires.
	pinFresh bool
	// mgmAuthenticated: the management key was authenticated.
	mgmAuthenticated bool
	// pending is the witness or challenge of a management key
	// authentication in progress.
	pending *challenge
	// pin is the PIN verified in this session, kept for the keys of a
	// PINGuard, which need it on every use; nil otherwise. Only in
	// memory: wiped with the security status.
	pin []byte
	// pinEpoch and mgmEpoch are the card's epochs this session's
	// security status was established in.
	pinEpoch, mgmEpoch uint64
}

// resetSession replaces the current session's volatile state with s,
// wiping the PIN it held. The session stays in the card's epochs.
func (c *Card) resetSession(s session) {
	clear(c.sess.pin)
	s.pinEpoch, s.mgmEpoch = c.pinEpoch, c.mgmEpoch
	*c.sess = s
}

// forgetPIN clears the PIN's security status and wipes the PIN kept for a
// PINGuard's keys.
func (c *Card) forgetPIN() {
	clear(c.sess.pin)
	c.sess.pin = nil
	c.sess.pinVerified, c.sess.pinFresh = false, false
}

// New returns a card whose state comes from the StateStore (WithStateStore)
// or, when the store is empty, a factory-fresh card: default PIN, PUK and
// management key, random serial and GUID, a new attestation key and
// certificate. The new state is saved before New returns.
func New(opts ...Option) (*Card, error) {
	c := &Card{cfg: newConfig(opts), keys: map[byte]Key{}}
	c.def.c = c
	c.sess = &c.def.state
	st, err := c.cfg.store.Load()
	switch {
	case errors.Is(err, ErrNoState):
		if st, err = c.factoryState(nil); err != nil {
			return nil, err
		}
		if err := c.cfg.store.Save(st); err != nil {
			return nil, fmt.Errorf("emu: saving the new card's state: %w", err)
		}
	case err != nil:
		return nil, err
	default:
		if err := st.Validate(); err != nil {
			return nil, err
		}
		if err := c.checkGuard(st); err != nil {
			return nil, err
		}
	}
	c.st, c.saved = st, st.Clone()
	for ref := range st.Keys {
		if _, err := c.key(ref); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ATR returns the Answer To Reset.
func (c *Card) ATR() []byte { return append([]byte(nil), c.cfg.atr...) }

// PowerOff clears the default session's volatile state, as losing power
// does.
func (c *Card) PowerOff() { c.def.PowerOff() }

// PowerOn clears the default session's volatile state; a card starts with
// nothing selected.
func (c *Card) PowerOn() { c.def.PowerOn() }

// Reset is a warm reset of the default session: it clears its volatile
// state.
func (c *Card) Reset() { c.def.Reset() }

// Transmit processes one command APDU in the default session and returns
// the response APDU. It never fails: a malformed command gets its ISO/IEC
// 7816-4 status word, and an internal error (which the fuzz tests look for)
// 6F00.
func (c *Card) Transmit(cmd []byte) []byte { return c.def.Transmit(cmd) }

// Transport returns c's default session as an apdu.Transport, for an
// apdu.Client in the same process.
func (c *Card) Transport() apdu.Transport { return c.def.Transport() }

// Serial returns the serial number GET SERIAL reports.
func (c *Card) Serial() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Serial
}

// GUID returns the GUID in the card's CHUID, or false when the CHUID holds
// none.
func (c *Card) GUID() ([16]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return chuidGUID(c.st.Objects[pivspec.ObjectCHUID])
}

// chuidGUID extracts tag 34 from a CHUID value.
func chuidGUID(chuid []byte) ([16]byte, bool) {
	var g [16]byte
	tlvs, err := apdu.ParseTLVs(chuid)
	if err != nil {
		return g, false
	}
	t, ok := apdu.Find(tlvs, 0x34)
	if !ok || len(t.Value) != len(g) {
		return g, false
	}
	copy(g[:], t.Value)
	return g, true
}

// swLogicalChannelNotSupported is 6881 (ISO/IEC 7816-4, 5.1.3 table 6).
const swLogicalChannelNotSupported apdu.SW = 0x6881

// handle runs one complete command (the CardFramer did chaining and GET
// RESPONSE).
func (c *Card) handle(cmd apdu.Command) apdu.Response {
	switch {
	case cmd.CLA&0x80 != 0:
		if cmd.INS != pivspec.InsGeneralAuth {
			c.sess.pending = nil
		}
		return c.handleVendor(cmd)
	case cmd.CLA&0x0C != 0:
		return status(apdu.SWSecureMessagingNotSupported)
	case cmd.CLA != 0:
		return status(swLogicalChannelNotSupported)
	}
	if cmd.INS != pivspec.InsGeneralAuth {
		// A management key challenge is answered by the very next
		// command or not at all.
		c.sess.pending = nil
	}
	if cmd.INS == pivspec.InsSelect {
		return c.selectApp(cmd)
	}
	if !c.sess.selected {
		// No application selected: the card itself knows no other
		// instruction.
		return status(apdu.SWInstructionNotSupported)
	}
	switch cmd.INS {
	case pivspec.InsGetData:
		return c.getData(cmd)
	case pivspec.InsPutData:
		return c.putData(cmd)
	case pivspec.InsVerify:
		return c.verify(cmd)
	case pivspec.InsChangeReference:
		return c.changeReference(cmd)
	case pivspec.InsResetRetry:
		return c.resetRetryCounter(cmd)
	case pivspec.InsGeneralAuth:
		return c.generalAuthenticate(cmd)
	case pivspec.InsGenerateKey:
		return c.generate(cmd)
	case pivspec.InsGetVersion:
		return c.getVersion(cmd)
	case pivspec.InsGetSerial:
		return c.getSerial(cmd)
	case pivspec.InsGetMetadata:
		return c.getMetadata(cmd)
	case pivspec.InsSetManagementKey:
		return c.setManagementKey(cmd)
	case pivspec.InsReset:
		return c.resetCard(cmd)
	case pivspec.InsSetRetries:
		return c.setPINRetries(cmd)
	case pivspec.InsImportKey:
		return c.importKey(cmd)
	case pivspec.InsAttest:
		return c.attest(cmd)
	case pivspec.InsMoveKey:
		return c.moveKey(cmd)
	}
	return status(apdu.SWInstructionNotSupported)
}

func status(sw apdu.SW) apdu.Response { return apdu.Response{SW: sw} }

func success(data []byte) apdu.Response { return apdu.Response{Data: data, SW: apdu.SWOK} }

// noData checks a command that carries nothing: 6700 when it has data,
// 6A86 unless P1-P2 is p1p2.
func noData(cmd apdu.Command, p1, p2 byte) apdu.SW {
	if cmd.P1 != p1 || cmd.P2 != p2 {
		return apdu.SWIncorrectP1P2
	}
	if len(cmd.Data) > 0 {
		return apdu.SWWrongLength
	}
	return apdu.SWOK
}

// commit saves the state after a change. When the store fails it restores
// the last saved state and reports false; the caller answers 6581, so a
// client is never told of a change the store does not have.
func (c *Card) commit() bool {
	if err := c.cfg.store.Save(c.st); err != nil {
		c.cfg.log.Error("emu: saving the card state failed; the change is undone", "err", err)
		c.rollback()
		return false
	}
	c.saved = c.st.Clone()
	return true
}

// rollback returns to the last saved state.
func (c *Card) rollback() {
	c.st = c.saved.Clone()
	clear(c.keys)
}

// key returns the key in slot ref, loading it from its blob on first use;
// nil without error when the slot is empty.
func (c *Card) key(ref byte) (Key, error) {
	if k, ok := c.keys[ref]; ok {
		return k, nil
	}
	sk, ok := c.st.Keys[ref]
	if !ok {
		return nil, nil
	}
	k, err := c.cfg.keys.Load(sk.Algorithm, sk.Blob)
	if err != nil {
		return nil, fmt.Errorf("emu: loading the key in slot %02X: %w", ref, err)
	}
	if k.Algorithm() != sk.Algorithm {
		return nil, fmt.Errorf("emu: the key in slot %02X is %v, the state says %v", ref, k.Algorithm(), sk.Algorithm)
	}
	c.keys[ref] = k
	return k, nil
}

// destroy tells a KeyDestroyer about keys the card has dropped, after the
// state without them was saved.
func (c *Card) destroy(dropped []SlotKey) {
	d, ok := c.cfg.keys.(KeyDestroyer)
	if !ok {
		return
	}
	for _, k := range dropped {
		if err := d.Destroy(k.Algorithm, k.Blob); err != nil {
			c.cfg.log.Warn("emu: destroying a dropped key failed", "algorithm", k.Algorithm.String(), "err", err)
		}
	}
}
