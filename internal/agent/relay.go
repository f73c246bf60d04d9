package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// relay serves one connection's requests: exclusive sessions on cards,
// APDUs through them. Each request runs in its own goroutine, so sessions
// on different cards proceed in parallel; the server sends one request at
// a time per session.
type relay struct {
	inv     *inventory
	create  func(kind string) *agentproto.Message
	destroy func(serial string) error
	air     *airBridge // nil: no AirCards here
	soft    *softHost  // nil: no software stores
	pc      *agentproto.Conn
	log     *slog.Logger

	mu       sync.Mutex
	next     uint64
	sessions map[uint64]*agentSession
}

type agentSession struct {
	reader string
	gen    uint64 // the card generation it was opened on
	card   Card
	mu     sync.Mutex // one exchange at a time
}

func newRelay(inv *inventory, pc *agentproto.Conn, log *slog.Logger) *relay {
	return &relay{inv: inv, pc: pc, log: log, sessions: map[uint64]*agentSession{}}
}

func (r *relay) handle(m *agentproto.Message) {
	// The work runs in the new goroutine, not in the reader's: a slow card
	// (a key generation takes seconds on real ones) must not hold up the
	// other cards' requests or the server's pings.
	switch m.Type {
	case agentproto.TypeOpen:
		go func() { r.reply(m.ID, r.open(m.Reader)) }()
	case agentproto.TypeTransmit:
		go func() { r.reply(m.ID, r.transmit(m.Session, m.APDU)) }()
	case agentproto.TypeClose:
		go func() { r.reply(m.ID, r.close(m.Session)) }()
	case agentproto.TypeCardState:
		r.inv.cardState(m.CardState)
	case agentproto.TypeAirCards:
		if r.air != nil {
			r.air.update(m)
		}
	case agentproto.TypeAirReply:
		if r.air != nil {
			r.air.reply(m)
		}
	case agentproto.TypeCreate:
		go func() {
			if r.create == nil {
				r.reply(m.ID, errReply(ErrNoTPM))
				return
			}
			r.reply(m.ID, r.create(m.Kind))
		}()
	case agentproto.TypeDestroy:
		go func() {
			if r.destroy == nil {
				r.reply(m.ID, errReply(ErrNoTPM))
				return
			}
			if err := r.destroy(m.Serial); err != nil {
				r.reply(m.ID, errReply(err))
				return
			}
			r.reply(m.ID, &agentproto.Message{})
		}()
	case agentproto.TypeKeyGen:
		go func() {
			k, err := r.soft.keygen(m.KeyGen.Algorithm)
			if err != nil {
				r.reply(m.ID, errReply(err))
				return
			}
			r.reply(m.ID, &agentproto.Message{Key: k})
		}()
	case agentproto.TypeStore:
		go func() {
			st, err := r.soft.store(m.Store)
			if err != nil {
				r.reply(m.ID, errReply(err))
				return
			}
			r.reply(m.ID, &agentproto.Message{Stored: st})
		}()
	default:
		r.log.Warn("ignoring an unexpected message from the server", "type", m.Type)
	}
}

func (r *relay) reply(id uint64, m *agentproto.Message) {
	m.Type, m.ID = agentproto.TypeReply, id
	if err := r.pc.Send(m); err != nil {
		r.pc.Close()
	}
}

func (r *relay) open(reader string) *agentproto.Message {
	gen, present := r.inv.generation(reader)
	if !present {
		return errReply(ErrNoCard)
	}
	l := r.inv.lock(reader) // wait for the serial read, if one runs
	l.Lock()
	card, err := r.inv.readers.Connect(reader, true)
	l.Unlock()
	if err != nil {
		return errReply(err)
	}
	r.mu.Lock()
	r.next++
	id := r.next
	r.sessions[id] = &agentSession{reader: reader, gen: gen, card: card}
	r.mu.Unlock()
	return &agentproto.Message{Session: id}
}

func (r *relay) transmit(id uint64, apdu []byte) *agentproto.Message {
	r.mu.Lock()
	s := r.sessions[id]
	r.mu.Unlock()
	if s == nil {
		return &agentproto.Message{Error: &agentproto.Error{Code: agentproto.ErrCodeNoSession, Message: "no such session"}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen, present := r.inv.generation(s.reader); !present || gen != s.gen {
		r.end(id, s, ErrCardRemoved)
		return errReply(ErrCardRemoved)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := s.card.Transmit(ctx, apdu)
	if err != nil {
		if errors.Is(err, ErrCardRemoved) {
			r.end(id, s, err)
		}
		return errReply(err)
	}
	return &agentproto.Message{APDU: resp}
}

func (r *relay) close(id uint64) *agentproto.Message {
	r.mu.Lock()
	s := r.sessions[id]
	delete(r.sessions, id)
	r.mu.Unlock()
	if s != nil {
		s.card.Close()
		go r.inv.checkPIN(s.reader, s.gen, true) // the session may have changed it
		select {
		case r.inv.worked <- s.reader: // its PIN rules may have changed too
		default: // asked already
		}
	}
	return &agentproto.Message{}
}

// end drops a session whose card left.
func (r *relay) end(id uint64, s *agentSession, _ error) {
	r.mu.Lock()
	delete(r.sessions, id)
	r.mu.Unlock()
	s.card.Close()
}

// cardsChanged ends the sessions whose card left or was swapped and tells
// the server, which may not have seen the snapshot yet.
func (r *relay) cardsChanged() {
	r.mu.Lock()
	var ended []uint64
	for id, s := range r.sessions {
		if gen, present := r.inv.generation(s.reader); !present || gen != s.gen {
			ended = append(ended, id)
			delete(r.sessions, id)
			go s.card.Close()
		}
	}
	r.mu.Unlock()
	for _, id := range ended {
		r.pc.Send(&agentproto.Message{Type: agentproto.TypeEnded, Session: id,
			Error: &agentproto.Error{Code: agentproto.ErrCodeCardRemoved, Message: "the card was removed"}})
	}
}

// closeAll ends every session when the connection ends: the server's
// sessions died with it.
func (r *relay) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, s := range r.sessions {
		s.card.Close()
		delete(r.sessions, id)
	}
}

func errReply(err error) *agentproto.Message {
	code := agentproto.ErrCodeFailed
	switch {
	case errors.Is(err, ErrCardRemoved):
		code = agentproto.ErrCodeCardRemoved
	case errors.Is(err, ErrNoCard):
		code = agentproto.ErrCodeNoCard
	case errors.Is(err, ErrNoReader):
		code = agentproto.ErrCodeNoReader
	case errors.Is(err, ErrCardBusy):
		code = agentproto.ErrCodeBusy
	case errors.Is(err, ErrNoTPM):
		code = agentproto.ErrCodeNoTPM
	case errors.Is(err, ErrNoSlot):
		code = agentproto.ErrCodeNoSlot
	case errors.Is(err, ErrNoStore):
		code = agentproto.ErrCodeNoStore
	case errors.Is(err, ErrNoKey):
		code = agentproto.ErrCodeNoKey
	}
	msg := err.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return &agentproto.Message{Error: &agentproto.Error{Code: code, Message: msg}}
}
