package sso

import (
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Change notices (docs/architecture.md, "Change notices"): a provider's
// cached discovery is made for one version of its row (discovered.updated),
// so a replica never uses it after a change; the notice frees the memory
// of a changed or deleted provider on every replica at once.

// notifyProvider tells every replica that provider id changed.
func notifyProvider(tx lanyard.NoticeStore, id int64) error {
	return tx.Notify(lanyard.NoticeCache, lanyard.NoticeCacheSSO+":"+strconv.FormatInt(id, 10))
}

// Follow drops cached discoveries on the notices of n and on their loss,
// until cancel is called.
func (s *SSO) Follow(n lanyard.Notices) (cancel func()) {
	stop1 := n.Subscribe(lanyard.NoticeCache, func(payload string) {
		if key, ok := strings.CutPrefix(payload, lanyard.NoticeCacheSSO+":"); ok {
			if id, err := strconv.ParseInt(key, 10, 64); err == nil {
				s.forget(id)
			}
		}
	})
	stop2 := n.OnLost(func() {
		s.mu.Lock()
		clear(s.discovery)
		s.mu.Unlock()
	})
	return func() { stop1(); stop2() }
}
