// Package cardtest is an in-process lanyard.CardAccess over emulated PIV
// cards (internal/card/emu), for tests of the server-side card workflows
// without pcscd or an agent. The cards are the real emulator; only the
// transport between the server and the reader is short-circuited. The
// whole path — agent, relay, pcscd, vpcd — is tested in internal/agenthub
// and the end-to-end tests.
package cardtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Access is a set of workstations with readers that hold emulated cards.
type Access struct {
	mu   sync.Mutex
	ws   []*Workstation
	busy map[*emu.Card]bool
	// changed: workstations AirCardsChanged was called for.
	changed []int64
	// destroyed: serials of the virtual cards DestroyVirtual removed.
	destroyed []string
	soft      softKeys
	// told: the card states TellCardState was called with (cardstate.go).
	told []ToldState

	cardNanos atomic.Int64 // time spent inside the cards' Transmit
	apdus     atomic.Int64
}

// Workstation is one workstation's readers.
type Workstation struct {
	ID      int64
	Name    string
	OwnerID int64
	Offline bool
	Readers map[string]*emu.Card // nil card: empty reader
	Serials map[string]string
	// FailAfter, when set for a reader, makes its session fail (as a card
	// pulled from the reader) once that many APDUs went through.
	FailAfter map[string]int
	// LoseReply, with FailAfter, lets the failing APDU reach the card
	// and be carried out, and loses only its reply: a card pulled, or an
	// agent gone, between the card's answer and the server.
	LoseReply map[string]bool
	// TPM is the workstation's TPM as its agent reports it; with Usable
	// set, CreateVirtual makes cards whose keys come from VirtualKeys.
	TPM          *lanyard.TPMState
	VirtualKeys  emu.KeyStore
	VirtualSlots int
	// Role: lanyard.RoleAirCardService makes this the AirCard service,
	// whose CreateVirtual makes AirCards (AddAirCardService).
	Role lanyard.WorkstationRole
	// SoftStores are the software store scopes the agent reports; with
	// StoreDir set, SoftwareKey and SoftwareStore work as an agent's
	// (softstore.go).
	SoftStores []string
	StoreDir   string
	// FailStore, when set, is what SoftwareStore fails with (the key
	// pair is forgotten all the same, as an agent's is).
	FailStore error
	// BeforeStore, when set, runs as SoftwareStore starts writing a file
	// (after the key pair is taken): a test changes the store's records
	// while the agent writes, as another user could.
	BeforeStore func()
	// NextSerials, when set, are the serials the next virtual cards made
	// here report, one each: collisions with cards already registered.
	NextSerials []string
	// OpenErr, when set, is what Open answers for every reader here: a
	// test has the agent move to another replica of the cluster
	// (*lanyard.ElsewhereError) between two steps.
	OpenErr error

	made int // virtual cards made, for their readers' names
}

// New returns an empty Access.
func New() *Access { return &Access{busy: map[*emu.Card]bool{}} }

// Add adds a workstation owned by ownerID with one reader holding a fresh
// emulated card, and returns the card.
func (a *Access) Add(t interface{ Fatal(...any) }, id, ownerID int64, reader string) *emu.Card {
	return a.AddWith(t, id, ownerID, reader)
}

// AddWith is Add with a card made with opts (emu.WithoutLanyardExtensions
// for a standard PIV card).
func (a *Access) AddWith(t interface{ Fatal(...any) }, id, ownerID int64, reader string, opts ...emu.Option) *emu.Card {
	c, err := emu.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := Serial(c)
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ws = append(a.ws, &Workstation{ID: id, Name: "ws-" + reader, OwnerID: ownerID, Readers: map[string]*emu.Card{reader: c},
		Serials: map[string]string{reader: serial}, FailAfter: map[string]int{}})
	return c
}

// Serial reads the card's serial as the agent's inventory reports it.
func Serial(c *emu.Card) (string, error) {
	pc, err := piv.New(direct{c}, piv.Config{Rand: rand.Reader})
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	if _, err := pc.Select(ctx); err != nil {
		return "", err
	}
	return personalize.Serial(ctx, pc)
}

// direct is an apdu.Transport straight into an emulated card.
type direct struct{ c *emu.Card }

func (d direct) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	return d.c.Transmit(cmd), nil
}

// Transport returns an apdu.Transport straight into c, for tests that
// check a card after an issue (as a middleware would).
func Transport(c *emu.Card) interface {
	Transmit(context.Context, []byte) ([]byte, error)
} {
	return direct{c}
}

// Workstation returns the workstation with id, for tests to change.
func (a *Access) Workstation(id int64) *Workstation {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID == id {
			return w
		}
	}
	return nil
}

// SetSerial sets the serial the inventory reports for a reader's card.
func (a *Access) SetSerial(wsID int64, reader, serial string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID == wsID {
			w.Serials[reader] = serial
		}
	}
}

// FailAfter makes the next session on reader fail after n APDUs.
func (a *Access) FailAfter(wsID int64, reader string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID == wsID {
			w.FailAfter[reader] = n
		}
	}
}

// LoseReplyAfter makes the next session on reader fail at APDU n+1 after
// the card carried it out: its reply is lost.
func (a *Access) LoseReplyAfter(wsID int64, reader string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID == wsID {
			w.FailAfter[reader] = n
			if w.LoseReply == nil {
				w.LoseReply = map[string]bool{}
			}
			w.LoseReply[reader] = true
		}
	}
}

// Workstations implements lanyard.CardAccess.
func (a *Access) Workstations(ownerID int64) []lanyard.WorkstationState {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []lanyard.WorkstationState
	for _, w := range a.ws {
		if st := w.state(); ownerID == 0 || st.OwnerID == ownerID && st.Role == lanyard.RoleWorkstation {
			out = append(out, st)
		}
	}
	return out
}

// AirCardServices implements lanyard.CardAccess.
func (a *Access) AirCardServices(serials []string) []lanyard.WorkstationState {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []lanyard.WorkstationState
	for _, w := range a.ws {
		st := w.state()
		if st.Role != lanyard.RoleAirCardService {
			continue
		}
		all := st.Readers
		st.Readers = nil
		for _, r := range all {
			if r.Serial != "" && slices.Contains(serials, r.Serial) {
				st.Readers = append(st.Readers, r)
			}
		}
		out = append(out, st)
	}
	return out
}

// WorkstationState implements lanyard.CardAccess.
func (a *Access) WorkstationState(id int64) (lanyard.WorkstationState, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID == id {
			return w.state(), true
		}
	}
	return lanyard.WorkstationState{}, false
}

func (w *Workstation) state() lanyard.WorkstationState {
	st := lanyard.WorkstationState{ID: w.ID, Name: w.Name, OwnerID: w.OwnerID, Role: w.Role, Online: !w.Offline, TPM: w.TPM, VirtualSlots: w.VirtualSlots,
		SoftwareStores: w.SoftStores, ReaderCount: len(w.Readers)}
	if st.Role == "" {
		st.Role = lanyard.RoleWorkstation
	}
	for name, c := range w.Readers {
		r := lanyard.Reader{Name: name, Present: c != nil, Serial: w.Serials[name]}
		if c != nil {
			r.ATR = c.ATR()
		}
		st.Readers = append(st.Readers, r)
	}
	return st
}

// ErrRemoved is what a session reports once its card "left the reader".
var ErrRemoved = lanyard.Errorf(lanyard.EUnavailable, "the card was removed from the reader")

// Open implements lanyard.CardAccess with exclusive sessions.
func (a *Access) Open(ctx context.Context, wsID int64, reader string) (lanyard.CardSession, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID != wsID {
			continue
		}
		if w.OpenErr != nil {
			return nil, w.OpenErr
		}
		c := w.Readers[reader]
		if c == nil {
			return nil, lanyard.Errorf(lanyard.ENotFound, "no card in reader %q", reader)
		}
		if a.busy[c] {
			return nil, lanyard.Errorf(lanyard.EConflict, "the card is busy")
		}
		a.busy[c] = true
		s := &session{a: a, card: c, limit: -1}
		if n, ok := w.FailAfter[reader]; ok {
			s.limit, s.loseReply = n, w.LoseReply[reader]
			delete(w.FailAfter, reader)
			delete(w.LoseReply, reader)
		}
		return s, nil
	}
	return nil, lanyard.Errorf(lanyard.ENotFound, "workstation %d not connected", wsID)
}

type session struct {
	a         *Access
	card      *emu.Card
	limit     int
	loseReply bool // the APDU past limit reaches the card; its reply is lost
	sent      int
	closed    bool
}

func (s *session) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed {
		return nil, errors.New("cardtest: session closed")
	}
	if s.limit >= 0 && s.sent >= s.limit {
		if s.loseReply && s.sent == s.limit {
			s.sent++
			s.card.Transmit(cmd)
		}
		return nil, ErrRemoved
	}
	s.sent++
	start := time.Now()
	resp := s.card.Transmit(cmd)
	s.a.cardNanos.Add(int64(time.Since(start)))
	s.a.apdus.Add(1)
	return resp, nil
}

// CardTime returns the time spent inside the emulated cards (their
// Transmit) and the number of APDUs, over every session so far: what a
// benchmark subtracts to get the server's own time.
func (a *Access) CardTime() (time.Duration, int64) {
	return time.Duration(a.cardNanos.Load()), a.apdus.Load()
}

func (s *session) Close() error {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if !s.closed {
		s.closed = true
		delete(s.a.busy, s.card)
	}
	return nil
}

// CreateVirtual implements lanyard.CardAccess as an agent does: a new
// emulated card with the kind's ATR and the workstation's VirtualKeys, in
// a new reader "virtual N".
func (a *Access) CreateVirtual(ctx context.Context, wsID int64, kind lanyard.CardKind) (lanyard.Reader, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID != wsID {
			continue
		}
		air := w.Role == lanyard.RoleAirCardService
		switch {
		case w.Offline:
			return lanyard.Reader{}, lanyard.Errorf(lanyard.EUnavailable, "workstation %d not connected", wsID)
		case air != (kind == lanyard.KindAirCard):
			return lanyard.Reader{}, lanyard.Errorf(lanyard.EInvalid, "workstation %d does not make %s cards", wsID, kind)
		case air:
			w.VirtualKeys, w.VirtualSlots = emu.SoftKeyStore{}, w.VirtualSlots+1
		case w.TPM == nil || !w.TPM.Usable || w.VirtualKeys == nil:
			return lanyard.Reader{}, lanyard.Errorf(lanyard.EUnavailable, "the workstation has no usable TPM 2.0")
		case w.VirtualSlots <= 0:
			return lanyard.Reader{}, lanyard.Errorf(lanyard.EUnavailable, "the workstation has no free reader slot for another virtual card")
		}
		c, err := emu.New(emu.WithKeyStore(w.VirtualKeys), emu.WithATR(agentproto.VirtualATR(string(kind))))
		if err != nil {
			return lanyard.Reader{}, err
		}
		serial, err := Serial(c)
		if err != nil {
			return lanyard.Reader{}, err
		}
		if len(w.NextSerials) > 0 {
			serial, w.NextSerials = w.NextSerials[0], w.NextSerials[1:]
		}
		w.made++
		name := fmt.Sprintf("virtual %d", w.made)
		w.Readers[name], w.Serials[name] = c, serial
		w.VirtualSlots--
		return lanyard.Reader{Name: name, Present: true, ATR: c.ATR(), Serial: serial}, nil
	}
	return lanyard.Reader{}, lanyard.Errorf(lanyard.ENotFound, "workstation %d not connected", wsID)
}

// DestroyVirtual implements lanyard.CardAccess: the virtual card with
// serial leaves its reader, which frees its slot; Destroyed records it.
func (a *Access) DestroyVirtual(ctx context.Context, wsID int64, serial string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID != wsID {
			continue
		}
		if w.Offline {
			return lanyard.Errorf(lanyard.EUnavailable, "workstation %d not connected", wsID)
		}
		for name, s := range w.Serials {
			if s == serial && w.Readers[name] != nil {
				delete(w.Readers, name)
				delete(w.Serials, name)
				w.VirtualSlots++
				a.destroyed = append(a.destroyed, serial)
				return nil
			}
		}
		return lanyard.Errorf(lanyard.ENotFound, "workstation %d has no virtual card %s", wsID, serial)
	}
	return lanyard.Errorf(lanyard.EUnavailable, "workstation %d not connected", wsID)
}

// Destroyed returns the serials of the virtual cards DestroyVirtual
// removed, in order.
func (a *Access) Destroyed() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.destroyed)
}

// Card returns the emulated card in a reader of a workstation.
func (a *Access) Card(wsID int64, reader string) *emu.Card {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.ws {
		if w.ID == wsID {
			return w.Readers[reader]
		}
	}
	return nil
}

// AirCardsChanged implements lanyard.CardAccess: it records which
// workstations were told, for tests to check (Changed).
func (a *Access) AirCardsChanged(workstationIDs ...int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.changed = append(a.changed, workstationIDs...)
}

// Changed returns and forgets the workstations AirCardsChanged was called
// for.
func (a *Access) Changed() []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.changed
	a.changed = nil
	return out
}

// AddAirCardService adds a connected AirCard service, holding no AirCards
// yet, as workstation id.
func (a *Access) AddAirCardService(id int64) *Workstation {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := &Workstation{ID: id, Name: "aircard-service", Role: lanyard.RoleAirCardService, Readers: map[string]*emu.Card{},
		Serials: map[string]string{}, FailAfter: map[string]int{}}
	a.ws = append(a.ws, w)
	return w
}

// AddWorkstation adds an empty workstation owned by ownerID.
func (a *Access) AddWorkstation(id, ownerID int64, name string) *Workstation {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := &Workstation{ID: id, Name: name, OwnerID: ownerID, Readers: map[string]*emu.Card{}, Serials: map[string]string{}, FailAfter: map[string]int{}}
	a.ws = append(a.ws, w)
	return w
}
