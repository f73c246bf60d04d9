package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestCardContentStatus: the Card Monitor's statuses are in the card
// view, GET /api/v1/cards?content_status= filters by them (an unknown
// one is refused), GET /api/v1/card-content-status counts them for the
// dashboard, and /metrics has the lanyard_cards_content_status gauge.
func TestCardContentStatus(t *testing.T) {
	e := mustEnv(t)
	now := time.Now()
	err := e.store.Update(t.Context(), func(tx lanyard.Tx) error {
		for serial, st := range map[string]lanyard.ContentStatus{"7001": lanyard.ContentManagedExpiring, "7002": lanyard.ContentTrackedExpired, "7003": ""} {
			c := &lanyard.Card{Serial: serial, CardType: "piv", State: lanyard.CardIssued, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateCard(c); err != nil {
				return err
			}
			if st != "" {
				if err := tx.PutCardContents([]*lanyard.CardContent{{CardID: c.ID, Status: st, UpdatedAt: now}}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for st, want := range map[string]string{"managed_expiring": "7001", "tracked expired": "7002"} {
		var list []*apiv1.CardView
		e.must(200, "GET", "/api/v1/cards?content_status="+strings.ReplaceAll(st, " ", "+"), e.admin, nil).json(&list)
		if len(list) != 1 || list[0].Serial != want || list[0].ContentStatus.Label() != strings.ReplaceAll(st, "_", " ") {
			t.Errorf("content_status=%s: %+v, want only %s", st, list, want)
			continue
		}
		var one apiv1.CardView
		e.must(200, "GET", "/api/v1/cards/"+strconv.FormatInt(list[0].ID, 10), e.admin, nil).json(&one)
		if one.ContentStatus != list[0].ContentStatus {
			t.Errorf("card %s: content_status %q in its view, %q in the list", want, one.ContentStatus, list[0].ContentStatus)
		}
	}
	var list []*apiv1.CardView
	e.must(200, "GET", "/api/v1/cards?content_status=none", e.admin, nil).json(&list)
	for _, c := range list {
		if c.Serial == "7001" || c.Serial == "7002" || c.ContentStatus != lanyard.ContentNone {
			t.Errorf("content_status=none lists %s (%s)", c.Serial, c.ContentStatus)
		}
	}
	if p := e.must(400, "GET", "/api/v1/cards?content_status=expiring", e.admin, nil).problem(); !strings.Contains(p.Detail, "managed_expiring") {
		t.Errorf("content_status=expiring: problem %+v", p)
	}
	var counts []*apiv1.ContentStatusCount
	e.must(200, "GET", "/api/v1/card-content-status", e.admin, nil).json(&counts)
	got := map[lanyard.ContentStatus]int{}
	for _, c := range counts {
		got[c.Status] = c.Cards
	}
	if len(counts) != 5 || counts[0].Status != lanyard.ContentNone || got[lanyard.ContentManagedExpiring] != 1 || got[lanyard.ContentTrackedExpired] != 1 || got[lanyard.ContentNone] < 1 {
		t.Errorf("counts %+v", got)
	}
}

// TestContentMetricsFromMonitor: the open /metrics reports the counts of
// cards by content status as of the Card Monitor's last run, from memory:
// none before its first run, and a record changed since is not counted
// until the next run (a scrape queries nothing).
func TestContentMetricsFromMonitor(t *testing.T) {
	e := mustEnv(t)
	now := time.Now()
	put := func(serial string, st lanyard.ContentStatus) {
		t.Helper()
		err := e.store.Update(t.Context(), func(tx lanyard.Tx) error {
			c, err := tx.CardBySerial("piv", serial)
			if lanyard.IsCode(err, lanyard.ENotFound) {
				c = &lanyard.Card{Serial: serial, CardType: "piv", State: lanyard.CardIssued, CreatedAt: now, UpdatedAt: now}
				err = tx.CreateCard(c)
			}
			if err != nil {
				return err
			}
			return tx.PutCardContents([]*lanyard.CardContent{{CardID: c.ID, Status: st, UpdatedAt: now}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	gauge := func() string {
		t.Helper()
		var lines []string
		for l := range strings.Lines(string(e.must(200, "GET", "/metrics", "", nil).body)) {
			if strings.HasPrefix(l, "lanyard_cards_content_status{") {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		return strings.Join(lines, "\n")
	}
	put("7101", lanyard.ContentManagedExpired)
	if g := gauge(); g != "" {
		t.Errorf("before the monitor's first run /metrics has %s", g)
	}
	if _, err := e.mon.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := gauge()
	if !strings.Contains(after, `lanyard_cards_content_status{status="none"}`) || !strings.Contains(after, `{status="tracked_expired"} 0`) {
		t.Fatalf("after a run /metrics has %q", after)
	}
	put("7102", lanyard.ContentTrackedExpired) // written after the run
	if g := gauge(); g != after {
		t.Errorf("a scrape counted again: %q, want the run's %q", g, after)
	}
}
