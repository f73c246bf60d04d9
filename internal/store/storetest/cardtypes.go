package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testCardTypes(t *testing.T, s lanyard.Store) {
	type C = lanyard.CardType
	testNamed(t, s, named[C]{
		kind:  "card type",
		fresh: NewCardType,
		bare: func(name string) *C {
			return &C{Name: name, Kind: lanyard.KindSoftwareStore, CreatedAt: t0, UpdatedAt: t0}
		},
		order: []string{"alpha", "beta", "gamma"},
		change: func(c *C) {
			c.Description = "changed"
			c.Kind = lanyard.KindTPMVirtualCard
			c.ATRPatterns = []string{"3b xx"}
			c.AdminKey = lanyard.AdminKey3DES
			c.AdminMode = lanyard.AdminKeyDefault
			c.SealedSecrets = []byte("resealed")
			c.HasDefaultAdminKey, c.HasDefaultUserPIN, c.HasDefaultPUK = false, false, false
			c.PIN = lanyard.PINPolicy{MinLength: 4, MaxLength: 16, PINRetries: 10, PUKRetries: 10}
			c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.RSA4096}
			c.SupportsInit = false
			c.UpdatedAt = at(2 * time.Hour)
		},
		id:        func(c *C) int64 { return c.ID },
		setID:     func(c *C, id int64) { c.ID = id },
		name:      func(c *C) string { return c.Name },
		setName:   func(c *C, n string) { c.Name = n },
		createdAt: func(c *C) *time.Time { return &c.CreatedAt },
		lists: func(c *C) map[string]bool {
			return map[string]bool{"ATRPatterns": c.ATRPatterns == nil, "KeyAlgorithms": c.KeyAlgorithms == nil}
		},
		create: lanyard.Tx.CreateCardType,
		update: lanyard.Tx.UpdateCardType,
		byName: lanyard.Tx.CardTypeByName,
		list:   lanyard.Tx.ListCardTypes,
		delete: lanyard.Tx.DeleteCardType,
	})
}
