//go:build integration

package service_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// firstStart is what one replica does at start on url: open the store
// (migrating it), open or create the built-in CA, build the service and
// run Setup. It returns the bootstrap token and the CA's certificate.
func firstStart(ctx context.Context, url string, key []byte) (token string, caCert []byte, err error) {
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return "", nil, fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	sealer, err := seal.New(key)
	if err != nil {
		return "", nil, err
	}
	authority, err := ca.New(ctx, "builtin", ca.Config{Name: "builtin", Store: st, Sealer: sealer, BaseURL: "http://127.0.0.1:1",
		Now: time.Now, Rand: rand.Reader})
	if err != nil {
		return "", nil, fmt.Errorf("CA: %w", err)
	}
	chain, err := authority.Chain(ctx)
	if err != nil {
		return "", nil, err
	}
	svc, err := service.New(service.Config{Store: st, Sealer: sealer, CAs: []ca.CA{authority}, Now: time.Now, Rand: rand.Reader,
		BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		return "", nil, err
	}
	defer svc.Close()
	token, err = svc.Setup(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("setup: %w", err)
	}
	return token, chain[0].Raw, nil
}

// auditActions counts the audit events on url by action.
func auditActions(t *testing.T, url string) map[string]int {
	t.Helper()
	st, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var events []*lanyard.AuditEvent
	if err := st.View(t.Context(), func(tx lanyard.Tx) (err error) { events, err = tx.ListAudit(lanyard.AuditFilter{}); return }); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range events {
		out[e.Action]++
	}
	return out
}

// TestConcurrentFirstStart: two replicas start at the same moment on an
// empty PostgreSQL schema with one master key. Both start without an
// error, they use one CA, exactly one of them gets the bootstrap token,
// and the database holds what one first start makes, once: the same
// audit events, action by action, as a single replica's first start
// (one CA, one administrator, one token, one of each default, one key
// recovery key).
func TestConcurrentFirstStart(t *testing.T) {
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	single := pgtest.FreshSchema(t)
	if tok, _, err := firstStart(t.Context(), single, key); err != nil || tok == "" {
		t.Fatalf("a single first start: token %q, %v", tok, err)
	}
	want := auditActions(t, single)
	for round := range 4 {
		url := pgtest.FreshSchema(t)
		type result struct {
			token string
			cert  []byte
			err   error
		}
		results := make([]result, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				<-start
				r := &results[i]
				r.token, r.cert, r.err = firstStart(t.Context(), url, key)
			})
		}
		close(start)
		wg.Wait()
		tokens := 0
		for i, r := range results {
			if r.err != nil {
				t.Fatalf("round %d: replica %d: %v", round, i, r.err)
			}
			if r.token != "" {
				tokens++
			}
		}
		if tokens != 1 {
			t.Errorf("round %d: %d replicas got a bootstrap token, want 1", round, tokens)
		}
		if string(results[0].cert) != string(results[1].cert) {
			t.Errorf("round %d: the replicas use different CAs", round)
		}
		if got := auditActions(t, url); !maps.Equal(got, want) {
			t.Errorf("round %d: audit events by action %v, want those of one first start %v", round, got, want)
		}
	}
}
