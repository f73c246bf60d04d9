package agentproto

import (
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Message types.
const (
	TypeHello    = "hello"
	TypeSnapshot = "snapshot"
	// TypeReaders is a change to the last snapshot: the readers that
	// came or changed, and the names of those gone. An AirCard service
	// has a reader per AirCard; resending all 10,000 for each new card
	// would make a mass enrolment quadratic.
	TypeReaders  = "readers"
	TypeReply    = "reply"
	TypeEnded    = "ended"
	TypeOpen     = "open"
	TypeTransmit = "transmit"
	TypeClose    = "close"
	TypePing     = "ping"
	TypeCreate   = "create"
	// TypeDestroy removes a virtual card the agent made, when the server
	// could not register it (the card would otherwise hold a reader slot,
	// or a sealed AirCard file, that no one can use).
	TypeDestroy = "destroy"

	// AirCards on a workstation (issue 7): the server tells the agent
	// which AirCards it may use; the agent's bridge opens sessions on
	// them, through the server, for the workstation's applications.
	TypeAirCards    = "aircards"
	TypeAirOpen     = "airopen"
	TypeAirTransmit = "airtransmit"
	TypeAirClose    = "airclose"
	TypeAirReply    = "airreply"
)

// Virtual card kinds a create message asks for; the names are the card
// kinds of internal/lanyard.
const (
	KindTPMVirtualCard     = "tpm_virtual_card"
	KindPlatformCredential = "platform_credential"
	// KindAirCard is a card an AirCard service hosts (issue 7); agents
	// on workstations never create one.
	KindAirCard = "aircard"
)

// Message is one frame's content. Which fields a type carries:
//
//	hello     Version, Hostname, TPM, VirtualSlots, SoftStores, Features
//	          (sent again when VirtualSlots changes)
//	snapshot  Readers (the full list, not a change)
//	readers   Readers (new or changed), Gone (reader names): a change
//	          since the last snapshot or readers message
//	create    ID, Kind: make a virtual card of that kind and attach it
//	          to a reader of the workstation
//	destroy   ID, Serial: remove the virtual card with that serial, one
//	          the agent made (its reader goes, its state is deleted)
//	keygen    ID, KeyGen: make a key pair for a software store
//	store     ID, Store: write a software store (softstore.go)
//	open      ID, Reader
//	transmit  ID, Session, APDU
//	close     ID, Session
//	reply     ID, and Session (to open), APDU (to transmit), Reader and
//	          Serial (to create), Key (to keygen), Stored (to store) or
//	          Error
//	ended     Session, Error
//	ping      nothing
//	aircards  AirCards, ServiceOnline (server → workstation agent: the
//	          full list of AirCards it may use)
//	airopen   ID, Serial      (agent → server: a session on an AirCard)
//	airtransmit ID, Session, APDU
//	airclose  ID, Session
//	airreply  ID, and Session (to airopen), APDU (to airtransmit) or Error
//	cardstate CardState (server → agent: a card in its readers is, for
//	          instance, disabled; cardstate.go)
//
// The air requests go from the agent to the server, with IDs the agent
// chooses; their replies are airreply, never reply, so the two ID spaces
// do not mix.
//
// Request IDs are chosen by the server and unique per connection; they
// let several sessions (on different cards) run at once.
type Message struct {
	Type     string   `json:"type"`
	ID       uint64   `json:"id,omitempty"`
	Session  uint64   `json:"session,omitempty"`
	Reader   string   `json:"reader,omitempty"`
	APDU     []byte   `json:"apdu,omitempty"`
	Error    *Error   `json:"error,omitempty"`
	Readers  []Reader `json:"readers,omitempty"`
	Gone     []string `json:"gone,omitempty"`
	Version  string   `json:"version,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	// TPM is the agent's requirements check of the workstation's TPM.
	TPM *TPMStatus `json:"tpm,omitempty"`
	// VirtualSlots is how many more virtual cards the agent can attach
	// to the workstation's readers (free vpcd slots).
	VirtualSlots int    `json:"virtual_slots,omitempty"`
	Kind         string `json:"kind,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// AirCards and ServiceOnline are the aircards message's.
	AirCards      []AirCard `json:"aircards,omitzero"`
	ServiceOnline bool      `json:"service_online,omitempty"`
	// SoftStores are the software store scopes the agent can write
	// (StoreMachine, StoreUser).
	SoftStores []string `json:"soft_stores,omitempty"`
	// Features are the requests, beyond the first version's, that the
	// agent understands (FeatureDestroy): the server sends no other, since
	// an agent drops a connection carrying a message type it does not
	// know.
	Features []string `json:"features,omitempty"`
	KeyGen   *KeyGen  `json:"keygen,omitempty"`
	Key      *Key     `json:"key,omitempty"`
	Store    *Store   `json:"store,omitempty"`
	Stored   *Stored  `json:"stored,omitempty"`
	// CardState is the cardstate message's (cardstate.go).
	CardState *CardState `json:"card_state,omitempty"`
}

// Agent features (hello's Features).
const (
	// FeatureDestroy: the agent removes the virtual cards it made on a
	// destroy request.
	FeatureDestroy = "destroy"
)

// MaxFeatures bounds hello's Features.
const MaxFeatures = 16

// AirCard is an AirCard a workstation may use.
type AirCard struct {
	Serial string `json:"serial"`
	Name   string `json:"name,omitempty"`
}

// MaxAirCards bounds an aircards message.
const MaxAirCards = 64

// VirtualATR is the ATR a virtual card of kind answers with; card types
// on the server recognize the kinds by it (ISO/IEC 7816-4 card issuer's
// data "LanyardTPM", "LanyardPC").
func VirtualATR(kind string) []byte {
	switch kind {
	case KindTPMVirtualCard:
		return pivspec.ATRWithIssuerData("LanyardTPM")
	case KindPlatformCredential:
		return pivspec.ATRWithIssuerData("LanyardPC")
	case KindAirCard:
		return pivspec.ATRWithIssuerData("LanyardAir")
	}
	return nil
}

// TPMStatus says whether the workstation has a usable TPM 2.0: one that
// opens, answers and creates RSA 2048 keys. Reason says why not, in words
// for the user; Manufacturer and Kind (device, swtpm, simulator) describe
// the one found.
type TPMStatus struct {
	Usable       bool   `json:"usable"`
	Reason       string `json:"reason,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Kind         string `json:"kind,omitempty"`
}

// Reader is one card reader as the agent sees it.
type Reader struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	ATR     []byte `json:"atr,omitempty"`
	// Serial is the card's serial number as the PIV client reads it
	// without any key: the vendor serial (GET SERIAL) in decimal when the
	// card has one, else the CHUID GUID in hex; empty when unknown or not
	// read yet.
	Serial string `json:"serial,omitempty"`
	// PIN is the card's PIN status as the agent read it without spending
	// a try (on arrival, after the server's sessions, and now and then);
	// nil when not read (not a PIV card, older agents).
	PIN *PINStatus `json:"pin,omitempty"`
}

// PINStatus is a card's PIN and PUK tries left: VERIFY without data (SP
// 800-73-4 Part 2 3.2.1) and GET METADATA (vendor F7) as the agent read
// them. Left 0 is a blocked PIN.
type PINStatus struct {
	// Left is the PIN's tries left, -1 when unknown (the PIN is verified
	// and the card has no GET METADATA).
	Left int `json:"left"`
	// Total is the PIN's retry count, 0 when unknown.
	Total int `json:"total,omitempty"`
	// PUKLeft is the PUK's tries left, -1 when unknown.
	PUKLeft int `json:"puk_left"`
}

// valid reports that the counts are within what a card can say: a
// count is one byte, and no more tries are left than there are.
func (p *PINStatus) valid() bool {
	return p.Left >= -1 && p.Left <= 255 && p.Total >= 0 && p.Total <= 255 && p.PUKLeft >= -1 && p.PUKLeft <= 255 &&
		(p.Total == 0 || p.Left <= p.Total)
}

// Error codes of replies and ended messages.
const (
	ErrCodeCardRemoved = "card_removed" // the card left the reader during the session
	ErrCodeNoCard      = "no_card"      // no card in the reader
	ErrCodeNoReader    = "no_reader"    // no such reader
	ErrCodeBusy        = "busy"         // another session or application holds the card
	ErrCodeNoSession   = "no_session"   // the session is closed or never existed
	ErrCodeFailed      = "failed"       // anything else; Message says what
	ErrCodeNoTPM       = "no_tpm"       // create: the workstation has no usable TPM
	ErrCodeNoSlot      = "no_slot"      // create: no free reader slot for another virtual card
	ErrCodeForbidden   = "forbidden"    // airopen: this computer may not use the AirCard
	ErrCodeUnavailable = "unavailable"  // airopen: the AirCard service is not connected
	ErrCodeNoStore     = "no_store"     // keygen, store: the agent cannot write that software store
	ErrCodeNoKey       = "no_key"       // store: no key under the handle (never made, or expired)
)

// Error is a failure the agent reports.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Limits on what a message may carry.
const (
	// MaxReaders bounds a snapshot: a workstation has a few readers, an
	// AirCard service one per AirCard it hosts.
	MaxReaders    = 16384
	MaxNameLength = 256
	// MaxAPDU is the longest APDU: an extended-length command or response
	// (ISO/IEC 7816-4, 5.1: 65535 data bytes plus header or status).
	MaxAPDU = 65544
)

// Validate checks that m is a known type carrying only its own fields,
// within the limits.
func (m *Message) Validate() error {
	has := func(ok bool, field string) error {
		if !ok {
			return fmt.Errorf("agentproto: %s message with a %s field", m.Type, field)
		}
		return nil
	}
	var allowed struct {
		id, session, reader, apdu, err, readers, hello, kind, serial, aircards bool
		keygen, key, store, stored, gone, cardState                            bool
	}
	switch m.Type {
	case TypeHello:
		allowed.hello = true
	case TypeSnapshot:
		allowed.readers = true
	case TypeReaders:
		allowed.readers, allowed.gone = true, true
	case TypeOpen:
		allowed.id, allowed.reader = true, true
	case TypeTransmit:
		allowed.id, allowed.session, allowed.apdu = true, true, true
	case TypeClose:
		allowed.id, allowed.session = true, true
	case TypeReply:
		allowed.id, allowed.session, allowed.apdu, allowed.err = true, true, true, true
		allowed.reader, allowed.serial = true, true
		allowed.key, allowed.stored = true, true
	case TypeCreate:
		allowed.id, allowed.kind = true, true
	case TypeDestroy:
		allowed.id, allowed.serial = true, true
	case TypeAirCards:
		allowed.aircards = true
	case TypeAirOpen:
		allowed.id, allowed.serial = true, true
	case TypeAirTransmit:
		allowed.id, allowed.session, allowed.apdu = true, true, true
	case TypeAirClose:
		allowed.id, allowed.session = true, true
	case TypeAirReply:
		allowed.id, allowed.session, allowed.apdu, allowed.err = true, true, true, true
	case TypeKeyGen:
		allowed.id, allowed.keygen = true, true
	case TypeStore:
		allowed.id, allowed.store = true, true
	case TypeEnded:
		allowed.session, allowed.err = true, true
	case TypeCardState:
		allowed.cardState = true
	case TypePing:
	default:
		return fmt.Errorf("agentproto: unknown message type %q", m.Type)
	}
	for _, c := range []struct {
		set, ok bool
		name    string
	}{
		{m.ID != 0, allowed.id, "id"},
		{m.Session != 0, allowed.session, "session"},
		{m.Reader != "", allowed.reader, "reader"},
		{m.APDU != nil, allowed.apdu, "apdu"},
		{m.Error != nil, allowed.err, "error"},
		{m.Readers != nil, allowed.readers, "readers"},
		{m.Gone != nil, allowed.gone, "gone"},
		{m.Version != "" || m.Hostname != "" || m.TPM != nil || m.VirtualSlots != 0 || m.SoftStores != nil || m.Features != nil, allowed.hello, "version, hostname, tpm, virtual_slots, soft_stores or features"},
		{m.Kind != "", allowed.kind, "kind"},
		{m.Serial != "", allowed.serial, "serial"},
		{m.AirCards != nil || m.ServiceOnline, allowed.aircards, "aircards or service_online"},
		{m.KeyGen != nil, allowed.keygen, "keygen"},
		{m.Key != nil, allowed.key, "key"},
		{m.Store != nil, allowed.store, "store"},
		{m.Stored != nil, allowed.stored, "stored"},
		{m.CardState != nil, allowed.cardState, "card_state"},
	} {
		if c.set {
			if err := has(c.ok, c.name); err != nil {
				return err
			}
		}
	}
	switch {
	case (m.Type == TypeOpen || m.Type == TypeTransmit || m.Type == TypeClose || m.Type == TypeReply || m.Type == TypeCreate || m.Type == TypeDestroy ||
		m.Type == TypeAirOpen || m.Type == TypeAirTransmit || m.Type == TypeAirClose || m.Type == TypeAirReply ||
		m.Type == TypeKeyGen || m.Type == TypeStore) && m.ID == 0:
		return fmt.Errorf("agentproto: %s message without an id", m.Type)
	case (m.Type == TypeTransmit || m.Type == TypeClose || m.Type == TypeEnded || m.Type == TypeAirTransmit || m.Type == TypeAirClose) && m.Session == 0:
		return fmt.Errorf("agentproto: %s message without a session", m.Type)
	case m.Type == TypeOpen && m.Reader == "":
		return fmt.Errorf("agentproto: open message without a reader")
	case (m.Type == TypeAirOpen || m.Type == TypeDestroy) && m.Serial == "":
		return fmt.Errorf("agentproto: %s message without a serial", m.Type)
	case m.Type == TypeAirCards && m.AirCards == nil:
		return fmt.Errorf("agentproto: aircards message without its list")
	case len(m.AirCards) > MaxAirCards:
		return fmt.Errorf("agentproto: %d AirCards exceed %d", len(m.AirCards), MaxAirCards)
	case (m.Type == TypeTransmit || m.Type == TypeAirTransmit) && len(m.APDU) < 4:
		return fmt.Errorf("agentproto: transmit of a %d-byte APDU", len(m.APDU))
	case m.Type == TypeCreate && m.Kind != KindTPMVirtualCard && m.Kind != KindPlatformCredential && m.Kind != KindAirCard:
		return fmt.Errorf("agentproto: create of unknown kind %q", m.Kind)
	case m.VirtualSlots < 0 || m.VirtualSlots > 64:
		return fmt.Errorf("agentproto: %d virtual slots", m.VirtualSlots)
	case len(m.Serial) > 64:
		return fmt.Errorf("agentproto: serial longer than 64 bytes")
	case m.Type == TypeEnded && m.Error == nil:
		return fmt.Errorf("agentproto: ended message without an error")
	case len(m.APDU) > MaxAPDU:
		return fmt.Errorf("agentproto: %d-byte APDU exceeds %d", len(m.APDU), MaxAPDU)
	case len(m.Readers) > MaxReaders || len(m.Gone) > MaxReaders:
		return fmt.Errorf("agentproto: %d readers exceed %d", max(len(m.Readers), len(m.Gone)), MaxReaders)
	case m.Type == TypeReaders && len(m.Readers) == 0 && len(m.Gone) == 0:
		return fmt.Errorf("agentproto: readers message without a change")
	case len(m.Reader) > MaxNameLength || len(m.Hostname) > MaxNameLength || len(m.Version) > MaxNameLength:
		return fmt.Errorf("agentproto: name longer than %d bytes", MaxNameLength)
	case len(m.Features) > MaxFeatures:
		return fmt.Errorf("agentproto: %d features exceed %d", len(m.Features), MaxFeatures)
	}
	for _, f := range m.Features {
		if f == "" || len(f) > 64 {
			return fmt.Errorf("agentproto: malformed feature %q", f)
		}
	}
	if t := m.TPM; t != nil && (len(t.Reason) > 1024 || len(t.Manufacturer) > MaxNameLength || len(t.Kind) > MaxNameLength) {
		return fmt.Errorf("agentproto: overlong TPM status")
	}
	if m.Error != nil && (m.Error.Code == "" || len(m.Error.Message) > 1024) {
		return fmt.Errorf("agentproto: error without a code or with an overlong message")
	}
	for _, a := range m.AirCards {
		if a.Serial == "" || len(a.Serial) > 64 || len(a.Name) > MaxNameLength {
			return fmt.Errorf("agentproto: malformed AirCard %q", a.Serial)
		}
	}
	if err := m.validateSoftStore(); err != nil {
		return err
	}
	if m.Type == TypeCardState && m.CardState == nil {
		return fmt.Errorf("agentproto: cardstate message without its state")
	}
	if m.CardState != nil {
		if err := m.CardState.validate(); err != nil {
			return err
		}
	}
	for _, name := range m.Gone {
		if name == "" || len(name) > MaxNameLength {
			return fmt.Errorf("agentproto: malformed reader name %q", name)
		}
	}
	for _, r := range m.Readers {
		if r.Name == "" || len(r.Name) > MaxNameLength || len(r.ATR) > 33 || len(r.Serial) > 64 || (!r.Present && (r.ATR != nil || r.Serial != "")) ||
			(r.PIN != nil && (r.Serial == "" || !r.PIN.valid())) {
			return fmt.Errorf("agentproto: malformed reader %q", r.Name)
		}
	}
	return nil
}
