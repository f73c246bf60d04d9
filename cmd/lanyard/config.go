package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// configCommands manage templates, policies and card types. Each takes
// either flags for the common fields or --file with the full JSON object
// (as GET returns it), so anything the API can express the CLI can too.
func configCommands() []command {
	return []command{
		{"template list", "template list", "list certificate templates", templateList},
		{"template show", "template show NAME", "show a certificate template", showNamed("/api/v1/templates/", &lanyard.Template{})},
		{"template create", "template create NAME [--key ALG]... [--validity DAYS] [--ku USAGE]... [--eku USAGE]... [--cn TEXT] [--slot SLOT] [--san-email] [--san-upn] [--ca-approval] [--form-approval] [--card-keys-only] [--archive-key] [--renewal-key new_key|reuse_key] | --file FILE", "create a certificate template", templateSave(false)},
		{"template update", "template update NAME (--file FILE | --card-keys-only[=false])", "replace a certificate template, or switch whether it certifies only keys generated on a card", templateSave(true)},
		{"template delete", "template delete NAME", "delete a certificate template", deleteNamed("/api/v1/templates/")},
		{"policy list", "policy list", "list policies", policyList},
		{"policy show", "policy show NAME", "show a policy", showNamed("/api/v1/policies/", &lanyard.Policy{})},
		{"policy create", "policy create NAME [--priority N] [--assign user:LOGIN|group:NAME|group:DN|container:DN|everyone]... [--required TEMPLATE]... [--optional TEMPLATE]... [--card-type NAME]... | --file FILE", "create a policy", policySave(false)},
		{"policy update", "policy update NAME --file FILE", "replace a policy", policySave(true)},
		{"policy delete", "policy delete NAME", "delete a policy", deleteNamed("/api/v1/policies/")},
		{"card-type list", "card-type list", "list card types", cardTypeList},
		{"card-type show", "card-type show NAME", "show a card type", showNamed("/api/v1/card-types/", &lanyard.CardType{})},
		{"card-type create", "card-type create --file FILE", "create a card type", cardTypeSave(false)},
		{"card-type update", "card-type update NAME --file FILE", "replace a card type", cardTypeSave(true)},
		{"card-type delete", "card-type delete NAME", "delete a card type", deleteNamed("/api/v1/card-types/")},
		{"features show", "features show", "show the feature switches (TPM virtual smart card, platform credential)", featuresShow},
		{"features set", "features set [--tpm-virtual-card on|off] [--platform-credential on|off]", "turn virtual card kinds on or off (administrators)", featuresSet},
	}
}

func featuresShow(ctx context.Context, args []string) error {
	cmd := newClientCmd("features show")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var f apiv1.Features
	if err := c.Get(ctx, "/api/v1/features", &f); err != nil {
		return err
	}
	return printFeatures(&cmd.clientFlags, &f)
}

func printFeatures(cf *clientFlags, f *apiv1.Features) error {
	if cf.output == "json" {
		return printJSON(f)
	}
	onOff := map[bool]string{true: "on", false: "off"}
	fmt.Printf("Create TPM virtual smart card: %s\nCreate platform credential:    %s\n", onOff[f.TPMVirtualCard], onOff[f.PlatformCredential])
	return nil
}

func featuresSet(ctx context.Context, args []string) error {
	cmd := newClientCmd("features set")
	tpm := cmd.String("tpm-virtual-card", "", "on or off")
	platform := cmd.String("platform-credential", "", "on or off")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var f apiv1.Features
	if err := c.Get(ctx, "/api/v1/features", &f); err != nil {
		return err
	}
	for _, sw := range []struct {
		flag, value string
		to          *bool
	}{{"--tpm-virtual-card", *tpm, &f.TPMVirtualCard}, {"--platform-credential", *platform, &f.PlatformCredential}} {
		switch sw.value {
		case "":
		case "on":
			*sw.to = true
		case "off":
			*sw.to = false
		default:
			return fmt.Errorf("%s %q: want on or off", sw.flag, sw.value)
		}
	}
	if *tpm == "" && *platform == "" {
		return errUsage
	}
	if _, err := c.Do(ctx, http.MethodPut, "/api/v1/features", f, &f); err != nil {
		return err
	}
	return printFeatures(&cmd.clientFlags, &f)
}

func showNamed[T any](prefix string, v *T) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		cmd := newClientCmd("show")
		pos, c, err := cmd.start(args, 1)
		if err != nil {
			return err
		}
		if err := c.Get(ctx, prefix+client.Esc(pos[0]), v); err != nil {
			return err
		}
		return printJSON(v) // nested settings read best as JSON
	}
}

func deleteNamed(prefix string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		cmd := newClientCmd("delete")
		pos, c, err := cmd.start(args, 1)
		if err != nil {
			return err
		}
		_, err = c.Do(ctx, http.MethodDelete, prefix+client.Esc(pos[0]), nil, nil)
		return err
	}
}

// saveNamed sends in, a template, policy or card type, for the create
// and update commands: create POSTs it to collection, update PUTs it over
// the object called name. out gets the object as the server stored it.
func saveNamed(ctx context.Context, cmd *clientCmd, update bool, collection, name string, in, out any) error {
	c, err := cmd.client()
	if err != nil {
		return err
	}
	if update {
		_, err = c.Do(ctx, http.MethodPut, collection+"/"+client.Esc(name), in, out)
	} else {
		_, err = c.Post(ctx, collection, in, out)
	}
	return err
}

// listAll is a list command without filters: it gets the whole
// collection and prints a row per object, or the JSON.
func listAll[T any](collection string, cols []string, row func(*T) []string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		cmd := newClientCmd("list")
		_, c, err := cmd.start(args, 0)
		if err != nil {
			return err
		}
		var all []*T
		if err := c.Get(ctx, collection, &all); err != nil {
			return err
		}
		return printOut(&cmd.clientFlags, all, cols, row)
	}
}

// loadFile decodes a JSON file onto v, refusing unknown fields so typos
// are caught before they reach the server.
func loadFile(name string, v any) error {
	b, err := readInput(name)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}

var templateList = listAll("/api/v1/templates", []string{"NAME", "CA", "KEYS", "DAYS", "EKU", "CA-APPROVAL", "FORM-APPROVAL", "CARD-KEYS-ONLY", "HOLD-ON-DISABLE"}, func(t *lanyard.Template) []string {
	algs := make([]string, len(t.KeyAlgs))
	for i, a := range t.KeyAlgs {
		algs[i] = string(a)
	}
	return []string{t.Name, t.CA, strings.Join(algs, ","), strconv.Itoa(t.ValidityDays), strings.Join(t.ExtKeyUsage, ","),
		fmt.Sprint(t.RequiresCAApproval), fmt.Sprint(t.RequiresFormApproval), fmt.Sprint(t.CardKeysOnly), fmt.Sprint(t.RevokeOnDisable)}
})

func templateSave(update bool) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		var file, cn, slot, renewalKey string
		var keys, kus, ekus multi
		var validity int
		var sanEmail, sanUPN, caApproval, formApproval, cardKeysOnly, holdOnDisable, archiveKey bool
		cmd := newClientCmd("template")
		cmd.StringVar(&file, "file", "", "JSON file with the whole template (- for standard input)")
		cmd.Var(&keys, "key", "allowed key algorithm: ecp256, ecp384, rsa2048, rsa3072, rsa4096 (repeatable; first is generated on cards)")
		cmd.IntVar(&validity, "validity", 365, "validity in days")
		cmd.Var(&kus, "ku", "key usage: digital_signature, content_commitment, key_encipherment, key_agreement (repeatable)")
		cmd.Var(&ekus, "eku", "extended key usage: smartcard_logon, client_auth, email_protection, document_signing, … (repeatable)")
		cmd.StringVar(&cn, "cn", "{display_name}", "subject common name; {login} {display_name} {email} {upn} {group} are replaced")
		cmd.StringVar(&slot, "slot", "", "PIV slot on cards: 9a, 9c, 9d or 9e")
		cmd.BoolVar(&sanEmail, "san-email", false, "put the user's e-mail in the subject alternative name")
		cmd.BoolVar(&sanUPN, "san-upn", false, "put the user's UPN in the subject alternative name (smart card logon)")
		cmd.BoolVar(&caApproval, "ca-approval", false, "requests wait for a CA manager's approval")
		cmd.BoolVar(&formApproval, "form-approval", false, "the certificate form must be approved by an administrator")
		cmd.BoolVar(&archiveKey, "archive-key", false, "archive the key (generated on the server, sealed under the key recovery key); only with key usages among key_encipherment and key_agreement and extended usage email_protection or none")
		cmd.BoolVar(&cardKeysOnly, "card-keys-only", false, "certify only keys generated on a card (PIV, TPM virtual card, platform credential, AirCard); always on with smartcard_logon")
		// On for new templates: a card is disabled when it may be in the
		// wrong hands, and its certificates should not be trusted meanwhile.
		cmd.BoolVar(&holdOnDisable, "revoke-on-disable", true, "put the certificate on hold (certificateHold) while its card is disabled")
		cmd.StringVar(&renewalKey, "renewal-key", string(lanyard.RenewalNewKey), "what Update card contents does with the key of a certificate it renews: new_key (a new key pair) or reuse_key (certify the card's key again)")
		pos, err := parse(cmd.FlagSet, args)
		if err != nil || len(pos) > 1 || (update && len(pos) != 1) {
			return errUsage
		}
		var t lanyard.Template
		if file != "" {
			if err := loadFile(file, &t); err != nil {
				return err
			}
		} else if update {
			// Only the card-keys-only, revoke-on-disable and renewal-key
			// switches change without a file.
			set := map[string]bool{}
			cmd.Visit(func(f *flag.Flag) { set[f.Name] = true })
			if !set["card-keys-only"] && !set["revoke-on-disable"] && !set["renewal-key"] || len(pos) != 1 {
				return fmt.Errorf("template update needs --file (get the current one with template show NAME --output json), or --card-keys-only[=false], --revoke-on-disable[=false] or --renewal-key")
			}
			c, err := cmd.client()
			if err != nil {
				return err
			}
			if err := c.Get(ctx, "/api/v1/templates/"+client.Esc(pos[0]), &t); err != nil {
				return err
			}
			if set["card-keys-only"] {
				t.CardKeysOnly = cardKeysOnly
			}
			if set["revoke-on-disable"] {
				t.RevokeOnDisable = holdOnDisable
			}
			if set["renewal-key"] {
				t.RenewalKey = lanyard.RenewalKey(renewalKey)
			}
		} else {
			for _, k := range keys {
				t.KeyAlgs = append(t.KeyAlgs, lanyard.KeyAlgorithm(k))
			}
			if len(t.KeyAlgs) == 0 {
				t.KeyAlgs = []lanyard.KeyAlgorithm{lanyard.ECP256}
			}
			if len(kus) == 0 {
				kus = multi{lanyard.KUDigitalSignature}
			}
			t.ValidityDays, t.KeyUsage, t.ExtKeyUsage, t.Slot = validity, kus, ekus, slot
			t.Subject = lanyard.SubjectSpec{CommonName: cn, SANEmail: sanEmail, SANUPN: sanUPN}
			t.RequiresCAApproval, t.RequiresFormApproval, t.CardKeysOnly = caApproval, formApproval, cardKeysOnly
			t.RevokeOnDisable, t.KeyArchival = holdOnDisable, archiveKey
			t.RenewalKey = lanyard.RenewalKey(renewalKey)
		}
		if len(pos) == 1 {
			t.Name = pos[0]
		}
		if t.Name == "" {
			return errUsage
		}
		var out lanyard.Template
		if err := saveNamed(ctx, cmd, update, "/api/v1/templates", t.Name, &t, &out); err != nil {
			return err
		}
		return printJSONOrLine(&cmd.clientFlags, &out, "template "+out.Name+" saved")
	}
}

func printJSONOrLine(cf *clientFlags, v any, line string) error {
	if cf.output == "json" {
		return printJSON(v)
	}
	fmt.Println(line)
	return nil
}

var policyList = listAll("/api/v1/policies", []string{"NAME", "PRIORITY", "ASSIGNED", "REQUIRED", "OPTIONAL", "CARD TYPES"}, func(p *lanyard.Policy) []string {
	return []string{p.Name, strconv.Itoa(p.Priority), assignmentsString(p.Assignments),
		strings.Join(p.Settings.Certificates.Required, ","), strings.Join(p.Settings.Certificates.Optional, ","), strings.Join(p.Settings.AllowedCards, ",")}
})

func assignmentsString(as []lanyard.Assignment) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = string(a.Kind)
		if a.Name != "" {
			parts[i] += ":" + a.Name
		}
	}
	return strings.Join(parts, "; ") // distinguished names hold commas
}

func printPolicy(cf *clientFlags, p *lanyard.Policy) error {
	return printOne(cf, p, [][2]string{
		{"name", p.Name}, {"priority", strconv.Itoa(p.Priority)}, {"assigned", assignmentsString(p.Assignments)},
		{"required templates", strings.Join(p.Settings.Certificates.Required, ", ")},
		{"optional templates", strings.Join(p.Settings.Certificates.Optional, ", ")},
		{"card types", strings.Join(p.Settings.AllowedCards, ", ")},
		{"issue card", fmt.Sprint(p.Settings.Workflow.IssueCard)},
		{"issue AirCard", fmt.Sprint(p.Settings.Workflow.IssueAirCard)},
		{"documents check", string(p.Settings.Documents.Check)},
	})
}

func policySave(update bool) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		var file string
		var priority int
		var assign, required, optional, cardTypes multi
		cmd := newClientCmd("policy")
		cmd.StringVar(&file, "file", "", "JSON file with the whole policy (- for standard input); settings left out take their defaults")
		cmd.IntVar(&priority, "priority", 100, "priority: the lowest number wins when several policies apply")
		cmd.Var(&assign, "assign", "user:LOGIN, group:NAME, group:DN (a directory group, nested membership counts), container:DN (a directory OU) or everyone (repeatable)")
		cmd.Var(&required, "required", "required template (repeatable)")
		cmd.Var(&optional, "optional", "optional template (repeatable)")
		cmd.Var(&cardTypes, "card-type", "allowed card type (repeatable)")
		pos, err := parse(cmd.FlagSet, args)
		if err != nil || len(pos) > 1 || (update && len(pos) != 1) {
			return errUsage
		}
		p := apiv1.NewPolicyInput()
		set := map[string]bool{}
		cmd.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if file != "" {
			if err := loadFile(file, p); err != nil {
				return err
			}
		} else if update {
			return fmt.Errorf("policy update needs --file (get the current one with policy show NAME)")
		}
		if set["priority"] || file == "" {
			p.Priority = priority
		}
		for _, a := range assign {
			kind, name, _ := strings.Cut(a, ":")
			p.Assignments = append(p.Assignments, lanyard.Assignment{Kind: lanyard.AssignmentKind(kind), Name: name})
		}
		if set["required"] {
			p.Settings.Certificates.Required = required
		}
		if set["optional"] {
			p.Settings.Certificates.Optional = optional
		}
		if set["card-type"] {
			p.Settings.AllowedCards = cardTypes
		}
		if len(pos) == 1 {
			p.Name = pos[0]
		}
		if p.Name == "" {
			return errUsage
		}
		var out lanyard.Policy
		if err := saveNamed(ctx, cmd, update, "/api/v1/policies", p.Name, p, &out); err != nil {
			return err
		}
		return printJSONOrLine(&cmd.clientFlags, &out, "policy "+out.Name+" saved")
	}
}

var cardTypeList = listAll("/api/v1/card-types", []string{"NAME", "KIND", "ADMIN KEY", "MODE", "PIN", "INIT"}, func(t *lanyard.CardType) []string {
	return []string{t.Name, string(t.Kind), string(t.AdminKey), string(t.AdminMode),
		fmt.Sprintf("%d-%d, %d tries", t.PIN.MinLength, t.PIN.MaxLength, t.PIN.PINRetries), fmt.Sprint(t.SupportsInit)}
})

func cardTypeSave(update bool) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		var file string
		cmd := newClientCmd("card-type")
		cmd.StringVar(&file, "file", "", "JSON file with the card type (- for standard input); may include default_user_pin, default_puk, default_admin_key (hex)")
		pos, err := parse(cmd.FlagSet, args)
		if err != nil || file == "" || (update && len(pos) != 1) {
			return errUsage
		}
		var in apiv1.CardTypeInput
		if err := loadFile(file, &in); err != nil {
			return err
		}
		if len(pos) == 1 {
			in.Name = pos[0]
		}
		var out lanyard.CardType
		if err := saveNamed(ctx, cmd, update, "/api/v1/card-types", in.Name, &in, &out); err != nil {
			return err
		}
		return printJSONOrLine(&cmd.clientFlags, &out, "card type "+out.Name+" saved")
	}
}
