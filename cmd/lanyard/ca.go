package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func caCommands() []command {
	return []command{
		{"ca issue", "ca issue --template NAME (--csr FILE | --public-key FILE) [--user LOGIN]", "issue a certificate and print it as PEM (exit 3 when it waits for approval)", caIssue},
		{"ca cert", "ca cert [--ca NAME]", "print the CA chain as PEM (issuing CA first)", caCert},
		{"ca revoke", "ca revoke SERIAL [--reason REASON] [--ca NAME]", "revoke a certificate (RFC 5280 reasons, e.g. key_compromise)", caRevoke},
		{"ca pending", "ca pending [--status pending|issued|rejected]", "list certificate requests waiting for approval", caPending},
		{"ca approve", "ca approve ID [--comment TEXT]", "approve a pending request (prints the certificate)", caDecide("approve")},
		{"ca reject", "ca reject ID [--comment TEXT]", "reject a pending request", caDecide("reject")},
		{"cert list", "cert list [--user LOGIN] [--status STATUS]", "list certificates", certList},
		{"cert show", "cert show SERIAL [--ca NAME]", "show a certificate (PEM with --output table)", certShow},
	}
}

func caIssue(ctx context.Context, args []string) error {
	var in apiv1.IssueInput
	var csrFile, keyFile string
	cmd := newClientCmd("ca issue")
	cmd.StringVar(&in.Template, "template", "", "certificate template")
	cmd.StringVar(&in.User, "user", "", "subject's login (default: yourself)")
	cmd.StringVar(&csrFile, "csr", "", "PKCS#10 request, PEM or DER (- for standard input)")
	cmd.StringVar(&keyFile, "public-key", "", "public key (SubjectPublicKeyInfo), PEM or DER")
	pos, err := parse(cmd.FlagSet, args)
	if err != nil || len(pos) != 0 || in.Template == "" || (csrFile == "") == (keyFile == "") {
		return errUsage
	}
	if csrFile != "" {
		b, err := readInput(csrFile)
		if err != nil {
			return err
		}
		in.CSR = pemOrBase64(b)
	} else {
		b, err := readInput(keyFile)
		if err != nil {
			return err
		}
		in.PublicKey = pemOrBase64(b)
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var res apiv1.IssueResult
	status, err := c.Post(ctx, "/api/v1/certificates", in, &res)
	if err != nil {
		return err
	}
	if cmd.output == "json" {
		if err := printJSON(&res); err != nil {
			return err
		}
	}
	if status == http.StatusAccepted && res.Request != nil {
		fmt.Fprintf(os.Stderr, "request %d waits for a CA manager's approval (lanyard ca approve %d)\n", res.Request.ID, res.Request.ID)
		return errPending
	}
	if cmd.output != "json" {
		fmt.Print(res.PEM)
	}
	return nil
}

// pemOrBase64 passes PEM through and base64-encodes DER.
func pemOrBase64(b []byte) string {
	if len(b) > 10 && string(b[:10]) == "-----BEGIN" {
		return string(b)
	}
	return encodeBase64(b)
}

func caCert(ctx context.Context, args []string) error {
	var name string
	cmd := newClientCmd("ca cert")
	cmd.StringVar(&name, "ca", "", "CA name (default: the first CA)")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var info apiv1.CAInfo
	if name == "" {
		var all []*apiv1.CAInfo
		if err := c.Get(ctx, "/api/v1/cas", &all); err != nil {
			return err
		}
		if len(all) == 0 {
			return fmt.Errorf("the server runs no CA")
		}
		info = *all[0]
	} else if err := c.Get(ctx, "/api/v1/cas/"+client.Esc(name), &info); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&info)
	}
	fmt.Print(info.Chain)
	return nil
}

func caRevoke(ctx context.Context, args []string) error {
	var in apiv1.RevokeInput
	cmd := newClientCmd("ca revoke")
	cmd.StringVar(&in.Reason, "reason", "unspecified", "RFC 5280 reason: unspecified, key_compromise, ca_compromise, affiliation_changed, superseded, cessation_of_operation, certificate_hold, privilege_withdrawn, aa_compromise")
	cmd.StringVar(&in.CA, "ca", "", "CA name (default: the first CA)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var cert lanyard.Certificate
	if _, err := c.Post(ctx, "/api/v1/certificates/"+client.Esc(pos[0])+"/revoke", in, &cert); err != nil {
		return err
	}
	return printJSONOrLine(&cmd.clientFlags, &cert, fmt.Sprintf("certificate %s revoked (%s)", cert.Serial, cert.ReasonName))
}

func caPending(ctx context.Context, args []string) error {
	var status string
	cmd := newClientCmd("ca pending")
	cmd.StringVar(&status, "status", "pending", "pending, issued, rejected or all")
	if pos, err := parse(cmd.FlagSet, args); err != nil || len(pos) != 0 {
		return errUsage
	}
	if status == "all" {
		status = ""
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var rs []*apiv1.RequestView
	if err := c.Get(ctx, "/api/v1/requests?status="+client.Esc(status), &rs); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, rs, []string{"ID", "TEMPLATE", "SUBJECT", "STATUS", "SIGNED FORM", "CREATED"}, func(r *apiv1.RequestView) []string {
		return []string{strconv.FormatInt(r.ID, 10), r.Template, r.Subject, string(r.Status), signedForm(r.SignedForm), r.CreatedAt.Format(time.RFC3339)}
	})
}

// signedForm is the SIGNED FORM column of `ca pending`: the state of the
// signed certificate request form a card's request waits for ("-": none
// needed), "waiting" while the CA manager may not approve yet.
func signedForm(f *apiv1.RequestForm) string {
	switch {
	case f == nil:
		return "-"
	case f.Ready:
		return string(f.State)
	default:
		return string(f.State) + " (waiting)"
	}
}

func caDecide(verb string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		var in apiv1.Decision
		cmd := newClientCmd("ca " + verb)
		cmd.StringVar(&in.Comment, "comment", "", "comment recorded with the decision")
		pos, c, err := cmd.start(args, 1)
		if err != nil {
			return err
		}
		path := "/api/v1/requests/" + client.Esc(pos[0]) + "/" + verb
		if verb == "approve" {
			var res apiv1.IssueResult
			if _, err := c.Post(ctx, path, in, &res); err != nil {
				return err
			}
			if cmd.output == "json" {
				return printJSON(&res)
			}
			fmt.Print(res.PEM)
			return nil
		}
		var r lanyard.CertRequest
		if _, err := c.Post(ctx, path, in, &r); err != nil {
			return err
		}
		return printJSONOrLine(&cmd.clientFlags, &r, fmt.Sprintf("request %d rejected", r.ID))
	}
}

func certList(ctx context.Context, args []string) error {
	var user, status string
	cmd := newClientCmd("cert list")
	cmd.StringVar(&user, "user", "", "owner login")
	cmd.StringVar(&status, "status", "", "status: valid, written, revoked, …")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var cs []*lanyard.Certificate
	if err := c.Get(ctx, "/api/v1/certificates?limit=1000&user="+client.Esc(user)+"&status="+client.Esc(status), &cs); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, cs, []string{"SERIAL", "TEMPLATE", "SUBJECT", "STATUS", "NOT AFTER"}, func(c *lanyard.Certificate) []string {
		return []string{c.Serial, c.Template, c.Subject, string(c.Status), c.NotAfter.Format(time.RFC3339)}
	})
}

func certShow(ctx context.Context, args []string) error {
	var caName string
	cmd := newClientCmd("cert show")
	cmd.StringVar(&caName, "ca", "", "CA name")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var res apiv1.IssueResult
	if err := c.Get(ctx, "/api/v1/certificates/"+client.Esc(pos[0])+"?ca="+client.Esc(caName), &res); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&res)
	}
	cert := res.Certificate
	printOne(&cmd.clientFlags, cert, [][2]string{{"serial", cert.Serial}, {"subject", cert.Subject}, {"template", cert.Template},
		{"status", string(cert.Status)}, {"not before", cert.NotBefore.Format(time.RFC3339)}, {"not after", cert.NotAfter.Format(time.RFC3339)}})
	fmt.Print(res.PEM)
	return nil
}
