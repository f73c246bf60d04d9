package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// keyCommands let an owner list their archived encryption keys and
// recover one as a password-protected PKCS #12 file (docs/lifecycle.md,
// "Key archival").
func keyCommands() []command {
	return []command{
		{"key list", "key list --template NAME", "list your archived keys of a template, newest first", keyList},
		{"key recover", "key recover --out FILE [--code CODE] ID", "recover your archived key ID as a PKCS #12 file; reads the file's password, then your account password, from standard input (one line each)", keyRecover},
	}
}

func keyList(ctx context.Context, args []string) error {
	cmd := newClientCmd("key list")
	tpl := cmd.String("template", "", "the template whose archived keys to list (required)")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var ks []apiv1.ArchivedKey
	if err := c.Get(ctx, "/api/v1/me/archived-keys?template="+client.Esc(*tpl), &ks); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, ks, []string{"ID", "TEMPLATE", "ALGORITHM", "CERTIFICATE", "STATE", "CREATED"}, func(k apiv1.ArchivedKey) []string {
		return []string{strconv.FormatInt(k.ID, 10), k.Template, k.KeyAlgorithm, k.CertificateSerial, k.State, k.CreatedAt.Format(time.RFC3339)}
	})
}

// keyRecover reads the two passwords from standard input, never from
// flags (they would show in the process list and the shell history). The
// authenticator code is a flag: it is good for one use within seconds.
func keyRecover(ctx context.Context, args []string) error {
	cmd := newClientCmd("key recover")
	out := cmd.String("out", "", "file to write the PKCS #12 to (required; created, never overwritten)")
	code := cmd.String("code", "", "a current code from your authenticator app (asked on standard input when not given)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 || *out == "" {
		return errUsage
	}
	in := bufio.NewScanner(os.Stdin)
	line := func(prompt string) (string, error) {
		fmt.Fprintln(os.Stderr, prompt)
		if !in.Scan() {
			return "", errors.New("standard input ended before: " + prompt)
		}
		return strings.TrimRight(in.Text(), "\r"), nil
	}
	var req apiv1.KeyRecoverInput
	if req.Password, err = line("Password for the PKCS #12 file (the policy's rule for key container passwords):"); err != nil {
		return err
	}
	if req.AccountPassword, err = line("Your account password:"); err != nil {
		return err
	}
	if req.Code = *code; req.Code == "" {
		if req.Code, err = line("Code from your authenticator app:"); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	var pfx []byte
	if _, err := c.Post(ctx, "/api/v1/me/archived-keys/"+strconv.FormatInt(id, 10)+"/recover", &req, &pfx); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if _, err := f.Write(pfx); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes); keep it safe and delete it once imported\n", *out, len(pfx))
	return nil
}
