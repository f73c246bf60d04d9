package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// keyCommands let an owner list their archived encryption keys and
// recover one as a password-protected PKCS #12 file (docs/lifecycle.md,
// "Key archival").
func keyCommands() []command {
	return []command{
		{"key list", "key list [--template NAME] [--user LOGIN]", "list your archived keys (staff: another user's, to request a recovery), newest first", keyList},
		{"key recover", "key recover --out FILE [--code CODE] ID", "recover your archived key ID as a PKCS #12 file; reads the file's password, then your account password, from standard input (one line each)", keyRecover},
		{"key recovery list", "key recovery list [--state STATE]", "list requests to recover someone else's archived key (operators, administrators, auditors)", keyRecoveryList},
		{"key recovery request", "key recovery request --reason TEXT KEY-ID", "request the recovery of another user's archived key; an administrator who is neither you nor the owner decides it", keyRecoveryRequest},
		{"key recovery approve", "key recovery approve [--comment TEXT] [--code CODE] ID", "approve a pending key recovery request you did not make (administrators); reads your account password from standard input", keyRecoveryDecide("approve")},
		{"key recovery reject", "key recovery reject [--comment TEXT] ID", "reject a pending key recovery request (administrators)", keyRecoveryDecide("reject")},
		{"key recovery download", "key recovery download --out FILE [--code CODE] ID", "download the key of your approved recovery request once as a PKCS #12 file; reads the file's password, then your account password, from standard input", keyRecoveryDownload},
	}
}

func keyRecoveryList(ctx context.Context, args []string) error {
	cmd := newClientCmd("key recovery list")
	state := cmd.String("state", "", "pending, approved, rejected, downloaded or expired (default: all)")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var rs []apiv1.KeyRecoveryRequest
	if err := c.Get(ctx, "/api/v1/key-recoveries?state="+client.Esc(*state), &rs); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, rs, []string{"ID", "KEY", "OWNER", "REQUESTED BY", "STATE", "DECIDED BY", "CREATED", "REASON"}, func(r apiv1.KeyRecoveryRequest) []string {
		return []string{strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.ArchivedKeyID, 10), r.Owner, r.Requester,
			r.State, r.Decider, r.CreatedAt.Format(time.RFC3339), r.Reason}
	})
}

func keyRecoveryRequest(ctx context.Context, args []string) error {
	cmd := newClientCmd("key recovery request")
	reason := cmd.String("reason", "", "why the key must be recovered (required; the owner is told)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return errUsage
	}
	var out apiv1.KeyRecoveryRequest
	if _, err := c.Post(ctx, "/api/v1/key-recoveries", &apiv1.KeyRecoveryRequestInput{ArchivedKeyID: id, Reason: *reason}, &out); err != nil {
		return err
	}
	return printRecovery(&cmd.clientFlags, &out)
}

func keyRecoveryDecide(verb string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		cmd := newClientCmd("key recovery " + verb)
		comment := cmd.String("comment", "", "a comment for the record (the owner is told)")
		var code *string
		if verb == "approve" {
			code = cmd.String("code", "", "a current code from your authenticator app (asked on standard input when not given)")
		}
		pos, c, err := cmd.start(args, 1)
		if err != nil {
			return err
		}
		if _, err := strconv.ParseInt(pos[0], 10, 64); err != nil {
			return errUsage
		}
		d := apiv1.KeyRecoveryDecision{Comment: *comment}
		if verb == "approve" {
			// Approving takes the approver's step-up: the account password
			// from standard input, never a flag.
			line := stdinPrompter()
			if d.AccountPassword, err = line("Your account password:"); err != nil {
				return err
			}
			if d.Code = *code; d.Code == "" {
				if d.Code, err = line("Code from your authenticator app:"); err != nil {
					return err
				}
			}
		}
		var out apiv1.KeyRecoveryRequest
		if _, err := c.Post(ctx, "/api/v1/key-recoveries/"+pos[0]+"/"+verb, &d, &out); err != nil {
			return err
		}
		return printRecovery(&cmd.clientFlags, &out)
	}
}

func printRecovery(f *clientFlags, r *apiv1.KeyRecoveryRequest) error {
	if f.output == "json" {
		return printJSON(r)
	}
	fmt.Printf("key recovery request %d for archived key %d is %s\n", r.ID, r.ArchivedKeyID, r.State)
	return nil
}

func keyRecoveryDownload(ctx context.Context, args []string) error {
	return recoverTo(ctx, "key recovery download", args, func(id string) string { return "/api/v1/key-recoveries/" + id + "/download" })
}

func keyList(ctx context.Context, args []string) error {
	cmd := newClientCmd("key list")
	tpl := cmd.String("template", "", "only the archived keys of this template (default: every template)")
	user := cmd.String("user", "", "list this user's archived keys instead of yours (operators, administrators, auditors)")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	path := "/api/v1/me/archived-keys?template=" + client.Esc(*tpl)
	if *user != "" {
		if *tpl != "" {
			return fmt.Errorf("key list: --template lists your own keys (with --user every template is listed): %w", errUsage)
		}
		path = "/api/v1/users/" + client.Esc(*user) + "/archived-keys"
	}
	var ks []apiv1.ArchivedKey
	if err := c.Get(ctx, path, &ks); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, ks, []string{"ID", "TEMPLATE", "ALGORITHM", "CERTIFICATE", "STATE", "CREATED"}, func(k apiv1.ArchivedKey) []string {
		return []string{strconv.FormatInt(k.ID, 10), k.Template, k.KeyAlgorithm, k.CertificateSerial, k.State, k.CreatedAt.Format(time.RFC3339)}
	})
}

// keyRecover is the owner's recovery of their own key.
func keyRecover(ctx context.Context, args []string) error {
	return recoverTo(ctx, "key recover", args, func(id string) string { return "/api/v1/me/archived-keys/" + id + "/recover" })
}

// recoverTo reads the two passwords from standard input, never from
// flags (they would show in the process list and the shell history), and
// writes the PKCS #12 file the server answers at path(ID). The
// authenticator code may be a flag: it is good for one use within
// seconds.
func recoverTo(ctx context.Context, name string, args []string, path func(id string) string) error {
	cmd := newClientCmd(name)
	out := cmd.String("out", "", "file to write the PKCS #12 to (required; created, never overwritten)")
	code := cmd.String("code", "", "a current code from your authenticator app (asked on standard input when not given)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	if id, err := strconv.ParseInt(pos[0], 10, 64); err != nil || id <= 0 || *out == "" {
		return errUsage
	}
	line := stdinPrompter()
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
	if _, err := c.Post(ctx, path(pos[0]), &req, &pfx); err != nil {
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
