package agent_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// forgedCard is an emulated card that answers GET SERIAL with another
// card's serial, as a card (or an agent) made to pass for it would.
type forgedCard struct {
	*emu.Card
	serial uint32
}

func (c forgedCard) Transmit(cmd []byte) []byte {
	if len(cmd) >= 2 && cmd[1] == pivspec.InsGetSerial {
		return append(binary.BigEndian.AppendUint32(nil, c.serial), 0x90, 0x00)
	}
	return c.Card.Transmit(cmd)
}

// emuTransport is an apdu.Transport straight into an emulated card.
type emuTransport struct{ c *emu.Card }

func (e emuTransport) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	return e.c.Transmit(cmd), nil
}

// forge makes a card that says it is serial, its PIN blocked when block.
func forge(t *testing.T, serial uint32, block bool) forgedCard {
	t.Helper()
	c := newCard(t)
	if block {
		pc, err := piv.New(emuTransport{c}, piv.Config{Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.Select(context.Background()); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			_ = pc.VerifyPIN(context.Background(), "99999999")
		}
	}
	return forgedCard{Card: c, serial: serial}
}

// userWithEmail creates a user with roles and address and returns a
// client acting as them.
func userWithEmail(t *testing.T, s *server, login string, roles ...lanyard.Role) (*client.Client, *lanyard.User) {
	t.Helper()
	ctx := context.Background()
	var u lanyard.User
	email := login + "@example.test"
	if _, err := s.admin.Post(ctx, "/api/v1/users", apiv1.UserInput{Login: login, Email: &email, Roles: (*lanyard.Roles)(&roles)}, &u); err != nil {
		t.Fatal(err)
	}
	var tok apiv1.NewToken
	if _, err := s.admin.Post(ctx, "/api/v1/tokens", apiv1.TokenInput{User: login}, &tok); err != nil {
		t.Fatal(err)
	}
	return s.client(t, tok.Secret), &u
}

// A workstation's agent reports, by serial, a card that belongs to
// another user (docs/security.md, "Agent reports"): mallory's agent holds
// a card that says it is vera's, its PIN blocked. The server records
// nothing of it (no PIN status, no card.pin.status event, no mail to the
// operators or vera) and tells mallory's agent nothing of vera's card,
// which is disabled. The same serial at vera's own workstation is
// recorded and told.
func TestReportsOfAnotherOwnersCardIgnored(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if _, err := s.admin.Do(ctx, "PUT", "/api/v1/notifications/settings",
		apiv1.MailSettingsInput{Enabled: true, Host: "localhost", Port: 25, Security: apiv1.SMTPNone, From: "lanyard@example.test"}, nil); err != nil {
		t.Fatal(err)
	}
	userWithEmail(t, s, "opal", lanyard.RoleUser, lanyard.RoleOperator)
	veraClient, vera := userWithEmail(t, s, "vera", lanyard.RoleUser)
	malloryClient, _ := userWithEmail(t, s, "mallory", lanyard.RoleUser)

	// Vera's card, disabled, as the server knows it.
	const serial = 305419896
	card := &lanyard.Card{Serial: strconv.Itoa(serial), OwnerID: vera.ID, State: lanyard.CardDisabled, PUKState: lanyard.PUKRandom,
		IssuedAt: time.Now(), CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.Store.Update(ctx, func(tx lanyard.Tx) error {
		types, err := tx.ListCardTypes()
		if err != nil || len(types) == 0 {
			t.Fatalf("card types %d, %v", len(types), err)
		}
		card.CardType = types[0].Name
		return tx.CreateCard(card)
	}); err != nil {
		t.Fatal(err)
	}

	malloryReaders := agent.NewMemReaders("r")
	if err := malloryReaders.Insert("r", forge(t, serial, true)); err != nil {
		t.Fatal(err)
	}
	malloryDir := filepath.Join(t.TempDir(), "mallory")
	_, malloryWS := pairAgent(t, s, malloryClient, malloryDir, malloryReaders)
	waitState(t, s.Hub, malloryWS, "reporting the card blocked", func(st lanyard.WorkstationState) bool {
		r := reader(st, "r")
		return r.Serial == card.Serial && r.PIN != nil && r.PIN.Blocked()
	})

	// The same serial at vera's own workstation, not blocked: taken, and
	// told. Pairing takes far longer than handling mallory's arrival,
	// queued before.
	veraReaders := agent.NewMemReaders("r")
	if err := veraReaders.Insert("r", forge(t, serial, false)); err != nil {
		t.Fatal(err)
	}
	veraDir := filepath.Join(t.TempDir(), "vera")
	_, veraWS := pairAgent(t, s, veraClient, veraDir, veraReaders)
	var st *lanyard.CardPINStatus
	deadline := time.Now().Add(15 * time.Second)
	for st == nil || st.WorkstationID != veraWS {
		if time.Now().After(deadline) {
			t.Fatalf("vera's workstation's report not recorded: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
		if err := s.Store.View(ctx, func(tx lanyard.Tx) (err error) {
			if st, err = tx.CardPINStatus(card.ID); lanyard.IsCode(err, lanyard.ENotFound) {
				st, err = nil, nil
			}
			return
		}); err != nil {
			t.Fatal(err)
		}
	}
	told := func(dir string) bool {
		got, err := agent.QueryStatus(dir)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(got.CardStates, func(cs agentproto.CardState) bool { return cs.Serial == card.Serial })
	}
	for !told(veraDir) {
		if time.Now().After(deadline) {
			t.Fatal("vera's agent was not told her card is disabled")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if st.Blocked || st.TriesLeft != 3 {
		t.Errorf("the card's PIN status %+v, want 3 tries left", st)
	}
	var events []*lanyard.AuditEvent
	if err := s.Store.View(ctx, func(tx lanyard.Tx) (err error) {
		events, err = tx.ListAudit(lanyard.AuditFilter{Action: "card.pin.status", ObjectType: "card", ObjectID: strconv.FormatInt(card.ID, 10)})
		return
	}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		var d struct {
			WorkstationID int64 `json:"workstation_id"`
		}
		if err := json.Unmarshal(ev.Details, &d); err != nil || d.WorkstationID != veraWS {
			t.Errorf("card.pin.status event from workstation %d (mallory's %d): %s", d.WorkstationID, malloryWS, ev.Details)
		}
	}
	if len(events) != 1 {
		t.Errorf("%d card.pin.status events, want 1 (vera's workstation's)", len(events))
	}
	mails, err := s.Mailer.ListMail(ctx, lanyard.MailFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		t.Errorf("mail %q to %v queued", m.Subject, m.To)
	}
	if told(malloryDir) {
		t.Error("mallory's agent was told the state of vera's card")
	}
}
