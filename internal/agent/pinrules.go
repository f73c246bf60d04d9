package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// The owner's PIN rules for each card (review L6): `lanyard agent pin
// change` and `lanyard agent unblock --offline` set a PIN with the server
// possibly out of reach, so the agent keeps the rules the server gave at
// its last connection in its state directory (pinRulesFile), and the
// commands apply them; online, `agent pin change` asks the server first.

// pinRulesFile holds the last PIN rules the server gave, by serial.
const pinRulesFile = "pin-rules.json"

// pinRulesCache is pinRulesFile's content.
type pinRulesCache struct {
	Fetched time.Time                         `json:"fetched"`
	Cards   map[string]agentproto.CardPINRule `json:"cards"`
}

// FetchPINRules asks the server for the PIN rules of the cards this
// workstation may hold and keeps them in dir for use offline.
func FetchPINRules(ctx context.Context, dir string) ([]agentproto.CardPINRule, error) {
	var out agentproto.PINRules
	if err := callServer(ctx, dir, http.MethodGet, agentproto.PathPINRules, nil, &out); err != nil {
		return nil, err
	}
	c := pinRulesCache{Fetched: time.Now().UTC(), Cards: map[string]agentproto.CardPINRule{}}
	for _, r := range out.Cards {
		c.Cards[r.Serial] = r
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return out.Cards, writeFileAtomic(filepath.Join(dir, pinRulesFile), b)
}

// CachedPINRule is the rule for serial kept in dir at the agent's last
// connection; ok is false when none is kept.
func CachedPINRule(dir, serial string) (r agentproto.CardPINRule, ok bool, err error) {
	rules, err := cachedPINRules(dir)
	r, ok = rules[serial]
	return r, ok, err
}

// cachedPINRules are the rules kept in dir, by serial (none: empty).
func cachedPINRules(dir string) (map[string]agentproto.CardPINRule, error) {
	b, err := os.ReadFile(filepath.Join(dir, pinRulesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c pinRulesCache
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return c.Cards, nil
}

// PINRuleFor is the rule for serial: the server's when it answers
// (online is set), else the one kept at the last connection.
func PINRuleFor(ctx context.Context, dir, serial string) (r agentproto.CardPINRule, ok, online bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if rules, err := FetchPINRules(ctx, dir); err == nil {
		for _, x := range rules {
			if x.Serial == serial {
				return x, true, true
			}
		}
		return r, false, true
	}
	r, ok, _ = CachedPINRule(dir, serial)
	return r, ok, false
}

// keepPINRules fetches the PIN rules when the connection is up and again
// whenever a card the kept rules do not name arrives, until ctx ends.
// Each serial is asked for once per connection, and again once after the
// server worked on the card (inventory.worked: an issue gives the card its
// rules, and makes it the owner's for the offline unblock's roll-forward):
// a card the server does not know (or not as the owner's) stays without
// rules.
func (a *Agent) keepPINRules(ctx context.Context) {
	asked, reasked := map[string]bool{}, map[string]bool{}
	fetch := func() {
		if _, err := FetchPINRules(ctx, a.cfg.StateDir); err != nil && ctx.Err() == nil {
			a.log.Warn("fetching the cards' PIN rules failed; the ones kept stay in use", "err", err)
		}
	}
	fetch()
	for {
		readers, changed := a.inv.snapshot()
		unknown := false
		kept, _ := cachedPINRules(a.cfg.StateDir) // read once: an AirCard service has thousands of readers
		for _, r := range readers {
			if r.Serial == "" || asked[r.Serial] {
				continue
			}
			asked[r.Serial] = true
			if _, ok := kept[r.Serial]; !ok {
				unknown = true
			}
		}
		if unknown {
			fetch()
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case reader := <-a.inv.worked:
			for _, r := range readers {
				if r.Name == reader && !reasked[r.Serial] {
					reasked[r.Serial] = true // once: an AirCard service has sessions all day
					delete(asked, r.Serial)
				}
			}
		}
	}
}
