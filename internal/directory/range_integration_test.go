//go:build integration

package directory

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDirectoryRangeRetrieval follows AD range retrieval (MS-ADTS
// 3.1.1.3.1.3.3) on the Samba DC: a first answer of one value
// (member;range=0-0, as AD gives 0-1499 of a big group) must end in all
// the group's members.
func TestDirectoryRangeRetrieval(t *testing.T) {
	spec := map[string]string{}
	v := os.Getenv("LANYARD_TEST_SAMBA")
	if v == "" {
		t.Fatal("LANYARD_TEST_SAMBA is not set: run scripts/samba-test.sh (make test sets it)")
	}
	for _, f := range strings.Fields(v) {
		k, val, _ := strings.Cut(f, "=")
		spec[k] = val
	}
	ca, err := os.ReadFile(spec["ca"])
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{URL: spec["url"], CAPEM: ca, BindDN: spec["bind"], BindPassword: spec["password"], BaseDN: spec["base"], Kind: KindAD}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := connect(ctx, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	group := "CN=staff,OU=Groups,OU=Lanyard," + spec["base"] // seeded: engineers and eve
	whole, err := c.one(ctx, group, "(objectClass=*)", []string{"member"})
	if err != nil || whole == nil {
		t.Fatalf("%s: %v", group, err)
	}
	want := whole.GetAttributeValues("member")
	if len(want) < 2 {
		t.Fatalf("seeded group has %d members", len(want))
	}
	first, err := c.one(ctx, group, "(objectClass=*)", []string{"member;range=0-0"})
	if err != nil || first == nil {
		t.Fatal(err)
	}
	if len(first.Attributes) != 1 || !strings.HasPrefix(first.Attributes[0].Name, "member;range=0-0") {
		t.Fatalf("the server did not answer with a range: %+v", first.Attributes[0])
	}
	got, err := c.members(ctx, first, "member")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("range retrieval gave %v, want %v", got, want)
	}
}
