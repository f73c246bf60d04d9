package directory

import (
	"context"
	"fmt"
)

// Check connects, binds as the service account and reads the base DN: the
// console's "test connection". It returns the same errors as Full
// (ErrConfig, ErrUnreachable, ErrTLS, ErrServiceBind) and an error naming
// the base DN when it cannot be read.
func Check(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	c, err := connect(ctx, &cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	e, err := c.one(ctx, cfg.BaseDN, "(objectClass=*)", []string{"1.1"})
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("directory %s: base DN %q not found or not readable by %q", c.addr, cfg.BaseDN, cfg.BindDN)
	}
	return nil
}

// Preset returns the attribute mapping of a kind (KindAD, KindOpenLDAP);
// the zero Mapping for another.
func Preset(kind string) Mapping {
	switch kind {
	case KindAD:
		return PresetAD()
	case KindOpenLDAP:
		return PresetOpenLDAP()
	}
	return Mapping{}
}
