package catalog

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// Change notices (docs/architecture.md, "Change notices"): a change to
// templates or policies tells every replica to purge its read cache, so
// that issuance everywhere sees it at once rather than within
// ttlcache.ReadTTL. This process purges its own right after the commit
// as well, whether or not Follow was called.

func notifyTemplates(tx lanyard.NoticeStore) error {
	return tx.Notify(lanyard.NoticeCache, lanyard.NoticeCacheTemplates)
}

func notifyPolicies(tx lanyard.NoticeStore) error {
	return tx.Notify(lanyard.NoticeCache, lanyard.NoticeCachePolicies)
}

// Follow purges the catalog's caches on the notices of n (changes made
// on any replica) and on their loss, until cancel is called.
func (s *Catalog) Follow(n lanyard.Notices) (cancel func()) {
	stop1 := n.Subscribe(lanyard.NoticeCache, func(payload string) {
		switch payload {
		case lanyard.NoticeCacheTemplates:
			s.templates.Purge()
		case lanyard.NoticeCachePolicies:
			s.policies.Purge()
		}
	})
	stop2 := n.OnLost(func() {
		s.templates.Purge()
		s.policies.Purge()
	})
	return func() { stop1(); stop2() }
}
