package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

// kraCommands manage the key-recovery (KRA) key that seals archived
// encryption keys (docs/security.md, "Key recovery key"). Administrators
// only; the key itself never leaves the server.
func kraCommands() []command {
	return []command{
		{"kra status", "kra status", "list the key recovery key's versions, current first, with the archived keys each seals", kraStatus},
		{"kra rotate", "kra rotate", "make a new key recovery key version current; earlier versions still open the keys they sealed", kraRotate},
	}
}

func kraStatus(ctx context.Context, args []string) error {
	cmd := newClientCmd("kra status")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var vs []apiv1.KRAVersion
	if err := c.Get(ctx, "/api/v1/settings/kra", &vs); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, vs, []string{"VERSION", "CREATED", "CURRENT", "ARCHIVED KEYS"}, func(v apiv1.KRAVersion) []string {
		return []string{strconv.Itoa(v.Version), v.CreatedAt.Format(time.RFC3339), strconv.FormatBool(v.Current), strconv.Itoa(v.ArchivedKeys)}
	})
}

func kraRotate(ctx context.Context, args []string) error {
	cmd := newClientCmd("kra rotate")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var out apiv1.KRARotation
	if _, err := c.Post(ctx, "/api/v1/settings/kra/rotate", nil, &out); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&out)
	}
	fmt.Printf("key recovery key version %d is current\n", out.Version)
	return nil
}
