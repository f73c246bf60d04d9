package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/lanyard-cms/lanyard/internal/directory"
)

// A sync: one full read, its state stored as JSON, then incremental reads
// from the stored state. (Not run: it needs a directory server.)
func Example() {
	ctx := context.Background()
	ca, _ := os.ReadFile("/etc/lanyard/directory-ca.pem")
	cfg := directory.Config{
		URL:          "ldaps://dc1.example.com",
		CAPEM:        ca,
		BindDN:       "CN=lanyard-reader,OU=Service,DC=example,DC=com",
		BindPassword: "…", // unsealed from the store, never logged
		BaseDN:       "OU=People,DC=example,DC=com",
		Kind:         directory.KindAD, // the zero Mapping takes PresetAD
	}
	snap, err := directory.Full(ctx, cfg)
	if err != nil {
		fmt.Println(err) // nothing to apply: a partial read is never returned
		return
	}
	for _, e := range snap.Entries {
		fmt.Println(e.ExternalID, e.Login, e.Groups, e.Disabled)
	}
	stored, _ := json.Marshal(snap.State)

	var st directory.State
	if err := json.Unmarshal(stored, &st); err != nil {
		fmt.Println(err)
		return
	}
	delta, next, err := directory.Incremental(ctx, cfg, st)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(delta.Changed), "changed,", len(delta.Removed), "removed")
	_ = next // stored in the same transaction as the delta's changes
}
