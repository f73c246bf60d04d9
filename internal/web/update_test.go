package web_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// The Update card contents routes read their bodies strictly before any
// card is touched: a malformed body, an unknown field (an update names no
// user and asks no PIN) and a cancel without a comment are 400 with a
// message that names the problem.
func TestUpdateRoutesRefuseBadBodies(t *testing.T) {
	e := mustEnv(t)
	e.mustUser("alice")
	card := e.mustIssuedCard("alice", "0DA7E1")
	base := "/api/v1/cards/" + strconv.FormatInt(card.ID, 10) + "/update"
	for _, c := range []struct {
		path, body, want string
	}{
		{base + "/options", `{"workstation_id":1,`, "malformed JSON"},
		{base + "/options", `{"workstation_id":1,"reader":"R","user":"alice"}`, `unknown field "user"`},
		{base + "/options", `{"workstation_id":"one"}`, `field "workstation_id"`},
		{base, `{"workstation_id":1,"reader":"R","user_pin":"123456"}`, `unknown field "user_pin"`},
		{base, `{"workstation_id":1,"reader":"R","templates":"Signing"}`, `field "templates"`},
		{base, `{"workstation_id":1,"reader":"R","accept_key_loss":"yes"}`, `field "accept_key_loss"`},
		{base, ``, "request body is empty"},
		{base + "/continue", `{"workstation_id":1,"reader":"R","admin_pin":"x"}`, `unknown field "admin_pin"`},
		{base + "/continue", `[]`, "expected"},
		{base + "/cancel", `{"comment":"x","reason":"lost"}`, `unknown field "reason"`},
		{base + "/cancel", `{}`, "comment is required"},
		{base + "/cancel", `{"comment":"   "}`, "comment is required"},
		{"/api/v1/cards/x/update", `{}`, `id "x" must be a positive integer`},
	} {
		r := e.do("POST", c.path, e.admin, c.body)
		if r.status != 400 || !strings.Contains(r.problem().Detail, c.want) {
			t.Errorf("POST %s %s: %d %q, want 400 with %q", c.path, c.body, r.status, r.problem().Detail, c.want)
		}
	}
}

// The path names the card to update, the body the reader; the service
// updates whatever card is in the reader. So a reader that holds another
// card is refused (409) before the service opens it, and the message says
// which card is there.
func TestUpdateRouteRefusesAnotherCardInTheReader(t *testing.T) {
	access := cardtest.New()
	newCardSwapEnv(t, access, access).checkRefused()
}

// cardSwapEnv is alice's card there in reader "Reader 0" of workstation 7
// and her card other elsewhere, on a server whose card access is given.
type cardSwapEnv struct {
	*env
	alice        string
	inReader     string
	there, other *lanyard.Card
}

func newCardSwapEnv(t *testing.T, access *cardtest.Access, served lanyard.CardAccess) *cardSwapEnv {
	t.Helper()
	st, err := sqlitetest.Open(context.Background(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := webtest.StartWith(t, st, webtest.Options{Cards: func(lanyard.CardAccess) lanyard.CardAccess { return served }})
	e := &cardSwapEnv{env: &env{t: t, url: s.URL, admin: s.AdminToken, svc: s.Service, store: st, srv: s.Web}}
	e.alice = e.mustUser("alice")
	var u lanyard.User
	e.must(200, "GET", "/api/v1/users/alice", e.admin, nil).json(&u)
	if e.inReader, err = cardtest.Serial(access.Add(t, 7, u.ID, "Reader 0")); err != nil {
		t.Fatal(err)
	}
	e.there = e.mustIssuedCard("alice", e.inReader)
	e.other = e.mustIssuedCard("alice", "0DA7E2")
	return e
}

// checkRefused checks that the update of card other and its options are
// refused (409) naming card there in the reader.
func (e *cardSwapEnv) checkRefused() {
	e.t.Helper()
	body := map[string]any{"workstation_id": 7, "reader": "Reader 0"}
	for _, tail := range []string{"", "/options"} {
		r := e.do("POST", "/api/v1/cards/"+strconv.FormatInt(e.other.ID, 10)+"/update"+tail, e.alice, body)
		want := "holds card " + e.inReader + " (ID " + strconv.FormatInt(e.there.ID, 10) + "), not card " + strconv.FormatInt(e.other.ID, 10)
		if r.status != 409 || !strings.Contains(r.problem().Detail, want) {
			e.t.Errorf("update%s of card %d with card %d in the reader: %d %q, want 409 with %q", tail, e.other.ID, e.there.ID, r.status, r.problem().Detail, want)
		}
	}
}

// mustIssuedCard records an issued PIV card of the user (no certificates).
func (e *env) mustIssuedCard(login, serial string) *lanyard.Card {
	e.t.Helper()
	var u lanyard.User
	e.must(200, "GET", "/api/v1/users/"+login, e.admin, nil).json(&u)
	card := &lanyard.Card{Serial: serial, CardType: "piv", OwnerID: u.ID, State: lanyard.CardIssued, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := e.store.Update(context.Background(), func(tx lanyard.Tx) error { return tx.CreateCard(card) }); err != nil {
		e.t.Fatal(err)
	}
	return card
}

// The service binds the path's card too: here the card is swapped between
// the route's check and the service opening the reader (the
// workstation's report the route reads still names card other in the
// reader, the one the service reads names card there), so the route's
// early check passes. The update and its options are refused (409,
// naming the card read) and card there is left as it was.
func TestUpdateRouteBindsThePathCardInTheService(t *testing.T) {
	access := cardtest.New()
	stale := &staleReport{Access: access, serials: map[string]string{}}
	e := newCardSwapEnv(t, access, stale)
	stale.serials["Reader 0"] = e.other.Serial
	e.checkRefused()
	st, there := e.store, e.there
	var n int
	if err := st.View(context.Background(), func(tx lanyard.Tx) error {
		ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: there.ID})
		n = len(ops)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d operations on card %d, the card in the reader, want none", n, there.ID)
	}
}

// staleReport is an Access whose workstation list (what the connected
// cards show) reports the serials given per reader, an older report than
// the one the card is opened by.
type staleReport struct {
	*cardtest.Access
	serials map[string]string
}

func (a *staleReport) Workstations(ownerID int64) []lanyard.WorkstationState {
	out := a.Access.Workstations(ownerID)
	for i := range out {
		for j, r := range out[i].Readers {
			if s, ok := a.serials[r.Name]; ok {
				out[i].Readers[j].Serial = s
			}
		}
	}
	return out
}
