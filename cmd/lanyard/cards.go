package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func cardIssueCommands() []command {
	return []command{
		{"card list", "card list [--user LOGIN] [--puk-state default|unknown|random] [--connected]", "list your cards (--connected: the cards in your workstations' readers; --puk-state default: the cards that still have the shared PUK)", cardList},
		{"card show", "card show ID", "show a card and its contents", cardShow},
		{"card issue", "card issue [--card SERIAL | --create tpm|platform|aircard|software-machine|software-user [--workstation ID]] [--template NAME]... [--initialize] [--user-pin PIN] [--admin-pin PIN] [--name NAME] [--user LOGIN] [--recover-keys [--code CODE] | --recovery-requests ID,ID]",
			"issue a card connected at your workstation, or create a TPM virtual smart card, platform credential or AirCard and issue it (prints a random PIN once when the policy sets one); software-machine and software-user issue a software store, reading the key container password from standard input", cardIssue},
		{"card continue", "card continue ID [--user-pin PIN] [--admin-pin PIN]", "continue an interrupted or approved card issue", cardContinue},
		{"card computers", "card computers ID", "list the computers allowed to use an AirCard", cardComputers},
		{"card computer remove", "card computer remove ID WORKSTATION", "remove a computer from an AirCard's allowed computers (it is disconnected there)", cardComputerRemove},
		{"card aircard-code", "card aircard-code ID", "create a one-hour, single-use code that connects another computer to an AirCard (operators); --mail also sends it to the owner", cardAirCardCode},
		{"card pin-setup", "card pin-setup ID --code CODE [--pin PIN] (password on standard input)", "set up the PIN of a new platform credential: your password (first line of standard input) and a code from your authenticator app", cardPINSetup},
		{"card clear", "card clear ID [--admin-pin PIN] [--initialize]", "revoke and clear a card whose issue cannot finish, or a revoked card (the card must be connected); --initialize wipes it completely", cardClear},
	}
}

func cardList(ctx context.Context, args []string) error {
	cmd := newClientCmd("card list")
	user := cmd.String("user", "", "owner's login (staff)")
	connected := cmd.Bool("connected", false, "list the cards in your workstations' readers instead")
	pukState := cmd.String("puk-state", "", "only the cards holding this PUK: default (the card type's shared one), unknown or random (their own)")
	pinBlocked := cmd.Bool("pin-blocked", false, "only the cards whose PIN an agent last saw blocked")
	content := cmd.String("content-status", "", "only the cards the Card Monitor last found so: none, managed_expiring, managed_expired, tracked_expiring or tracked_expired")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	if *connected {
		var cards []*apiv1.ConnectedCard
		if err := c.Get(ctx, "/api/v1/connected-cards", &cards); err != nil {
			return err
		}
		return printOut(&cmd.clientFlags, cards, []string{"WORKSTATION", "READER", "SERIAL", "CARD TYPE", "STATE", "OWNER"}, func(k *apiv1.ConnectedCard) []string {
			state := string(k.State)
			if k.CardID == 0 {
				state = "not registered"
			}
			return []string{k.Workstation, k.Reader, k.Serial, k.CardType, state, k.Owner}
		})
	}
	q := url.Values{}
	if *user != "" {
		q.Set("user", *user)
	}
	if *pukState != "" {
		q.Set("puk_state", *pukState) // the server refuses a state it does not know
	}
	if *pinBlocked {
		q.Set("pin_blocked", "true")
	}
	if *content != "" {
		q.Set("content_status", *content) // the server refuses a status it does not know
	}
	path := "/api/v1/cards"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var cards []*apiv1.CardView
	if err := c.Get(ctx, path, &cards); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, cards, []string{"ID", "SERIAL", "CARD TYPE", "NAME", "STATE", "OWNER", "CERTIFICATES", "ISSUED", "PUK", "CONTENT"}, func(v *apiv1.CardView) []string {
		issued := ""
		if !v.IssuedAt.IsZero() {
			issued = v.IssuedAt.Format("2006-01-02")
		}
		state := string(v.State)
		if v.RevocationReason != "" {
			state += " (" + string(v.RevocationReason) + ")"
		}
		return []string{strconv.FormatInt(v.ID, 10), v.Serial, v.CardType, v.Name, state, v.Owner, strconv.Itoa(len(v.Certificates)), issued, string(v.PUKState), v.ContentStatus.Label()}
	})
}

func cardShow(ctx context.Context, args []string) error {
	cmd := newClientCmd("card show")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var v apiv1.CardView
	if err := c.Get(ctx, "/api/v1/cards/"+client.Esc(pos[0]), &v); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&v)
	}
	printCard(&v)
	return nil
}

func printCard(v *apiv1.CardView) {
	state := string(v.State)
	if v.RevocationReason != "" {
		state += " (" + string(v.RevocationReason) + ")"
	}
	fmt.Printf("Card %d: %s %s, %s, owner %s\n", v.ID, v.CardType, v.Serial, state, v.Owner)
	if v.PUKState != "" {
		// Which Admin PIN (PUK) the card holds: its own (random) or a
		// shared one still to be replaced (issue 13).
		fmt.Printf("  Admin PIN (PUK): %s\n", v.PUKState)
	}
	if v.ContentStatus != "" && v.ContentStatus != lanyard.ContentNone {
		fmt.Printf("  Content status: %s\n", v.ContentStatus.Label())
	}
	if v.PIN != nil {
		fmt.Printf("  PIN: %s\n", pinLine(v.PIN))
	}
	for _, cc := range v.Certificates {
		status := string(cc.Status)
		if cc.OnHold {
			status = "on hold"
		}
		fmt.Printf("  %-4s %-18s %-9s %-8s %s (serial %s, until %s)\n", cc.Slot, cc.Template, status, cc.Source, cc.Subject, cc.Serial, cc.NotAfter)
	}
	if line := cardUpdateLine(v); line != "" {
		fmt.Printf("  Update: %s\n", line)
	}
	if r := v.ReplacedBy; r != nil {
		fmt.Printf("  Replaced by: card %d (%s), %s replacement, %s\n", r.NewCardID, r.NewSerial, r.Kind, r.State)
	}
	if r := v.Replaces; r != nil {
		fmt.Printf("  Replaces: card %d (%s), %s replacement, %s\n", r.OldCardID, r.OldSerial, r.Kind, r.State)
	}
	fmt.Printf("  Allowed operations: %s\n", allowedLine(v))
}

// pinFlags are the PIN flags of card issue and card continue.
type pinFlags struct{ user, admin string }

func (p *pinFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.user, "user-pin", "", "new user PIN (default: the card type's; not allowed when the policy sets a random PIN)")
	fs.StringVar(&p.admin, "admin-pin", "", "the card's current Admin PIN (PUK), when it is not the card type's default (a card used before); the card gets its own random one")
}

func cardIssue(ctx context.Context, args []string) error {
	cmd := newClientCmd("card issue")
	serial := cmd.String("card", "", "serial of the card to issue (default: the only card connected)")
	var templates multi
	cmd.Var(&templates, "template", "optional certificate template to include (repeatable); required ones are always included")
	initialize := cmd.Bool("initialize", false, "confirm that the card is initialized: ALL of its contents are deleted (required when the policy initializes cards)")
	name := cmd.String("name", "", "a name for the card")
	user := cmd.String("user", "", "issue for this user (operators)")
	create := cmd.String("create", "", "create a virtual card first: tpm (TPM virtual smart card), platform (platform credential) or aircard (on the AirCard service, bound to the workstation); or issue a software store: software-machine or software-user (key container password on standard input)")
	wsID := cmd.Int64("workstation", 0, "with --create: the workstation (default: the only one that can create it)")
	var pins pinFlags
	pins.register(cmd.FlagSet)
	var history historyFlags
	history.register(cmd.FlagSet)
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var target *apiv1.CardTarget
	switch {
	case *create != "" && *serial != "":
		return errors.New("--card and --create exclude each other")
	case strings.HasPrefix(*create, "software-"):
		if *initialize || pins.user != "" || pins.admin != "" {
			return errors.New("a software store has no PINs and is not initialized; its key container password is read from standard input")
		}
		return issueSoftwareStore(ctx, c, &cmd.clientFlags, *create, *wsID, *user, *name, templates)
	case *create != "":
		target, err = createVirtual(ctx, c, *create, *wsID, *user, *name)
	default:
		target, err = pickCard(ctx, c, *serial)
	}
	if err != nil {
		return err
	}
	target.User = *user
	var opts apiv1.IssueOptionsResult
	if _, err := c.Post(ctx, "/api/v1/issue/options", target, &opts); err != nil {
		return err
	}
	switch {
	case opts.Initialize && !*initialize:
		return fmt.Errorf("the policy initializes this card, which deletes all of its contents; run again with --initialize to confirm")
	case !opts.Initialize && *initialize:
		return fmt.Errorf("cards of type %s are not initialized (by this policy or by the card type's rules); run without --initialize", opts.Card.CardType)
	case opts.PINSetup && (pins.user != "" || pins.admin != ""):
		return fmt.Errorf("the PIN of a %s is set up after the issue (lanyard card pin-setup); run without --user-pin and --admin-pin", opts.Card.CardType)
	}
	in := apiv1.IssueCardInput{CardTarget: *target, UserPIN: pins.user, AdminPIN: pins.admin, Name: *name}
	if in.Recovery, err = history.authority("card issue"); err != nil {
		return err
	}
	for _, t := range templates {
		if !slices.ContainsFunc(opts.Required, func(r issuance.TemplateInfo) bool { return r.Name == t }) {
			in.Templates = append(in.Templates, t)
		}
	}
	var res apiv1.IssueCardResult
	if _, err := c.Post(ctx, "/api/v1/issue", in, &res); err != nil {
		return err
	}
	return printIssue(&cmd.clientFlags, &res)
}

func printIssue(f *clientFlags, res *apiv1.IssueCardResult) error {
	if f.output == "json" {
		return printJSON(res)
	}
	if res.State == "pending" {
		fmt.Println("Card issue pending: approvals are needed before the certificates are written (lanyard card continue).")
	}
	printCard(res.Card)
	if res.Card != nil && res.Card.State == "pin_setup" {
		fmt.Fprintf(os.Stderr, "Set up the PIN now: lanyard card pin-setup %d (you need your password and your authenticator app)\n", res.Card.ID)
	}
	if res.RandomPIN != "" {
		fmt.Fprintln(os.Stderr, "The card's user PIN was generated by policy. It is shown once, now; keep it safe:")
		fmt.Println("User PIN:", res.RandomPIN)
	}
	if res.SecretQuestionsNeeded {
		fmt.Fprintln(os.Stderr, "You have not set your secret questions yet: set them in Self-Service.")
	}
	printRecoveryNote(res)
	if res.State == "pending" {
		return errPending
	}
	return nil
}

// pickCard finds the connected card to issue: the one with serial, or the
// only one connected. An AirCard may be listed more than once: it is in
// a reader of each computer connected to it and of its AirCard service,
// and any of them reaches it (the first, as the pages take it). Any other
// card listed twice is ambiguous, whatever its serial says: a reader may
// claim any serial (sameRegisteredCard).
func pickCard(ctx context.Context, c *client.Client, serial string) (*apiv1.CardTarget, error) {
	var cards []*apiv1.ConnectedCard
	if err := c.Get(ctx, "/api/v1/connected-cards", &cards); err != nil {
		return nil, err
	}
	return chooseConnected(cards, serial)
}

// chooseConnected is pickCard's choice among the connected cards.
func chooseConnected(cards []*apiv1.ConnectedCard, serial string) (*apiv1.CardTarget, error) {
	var match []*apiv1.ConnectedCard
	for _, k := range cards {
		if serial == "" || k.Serial == serial {
			match = append(match, k)
		}
	}
	switch {
	case len(match) == 1, len(match) > 1 && serial != "" && sameRegisteredCard(match):
		return &apiv1.CardTarget{WorkstationID: match[0].WorkstationID, Reader: match[0].Reader}, nil
	case len(cards) == 0:
		return nil, errors.New("no card is connected at your workstations (is the agent running and paired? see lanyard card list --connected)")
	case len(match) == 0:
		return nil, fmt.Errorf("card %s is not connected at your workstations", serial)
	}
	var names []string
	for _, k := range match {
		names = append(names, k.Serial+" ("+k.Workstation+", "+k.Reader+")")
	}
	if serial != "" {
		return nil, fmt.Errorf("card %s is connected in several readers that are not one registered card (%s): take the others out, or issue it in the browser, where the reader is chosen", serial, strings.Join(names, "; "))
	}
	return nil, fmt.Errorf("several cards are connected; choose one with --card: %s", strings.Join(names, "; "))
}

// sameRegisteredCard reports whether every listing in cards is one
// registered AirCard. The server names a listing's card by the serial
// its reader claims, so two listings of one known serial may be the card
// and a reader elsewhere pretending to hold it; only an AirCard is
// legitimately in several readers at once (its computers and its AirCard
// service), and an AirCard is always registered with a key of its own
// that a pretender cannot prove.
func sameRegisteredCard(cards []*apiv1.ConnectedCard) bool {
	for _, k := range cards {
		if k.Kind != lanyard.KindAirCard || k.CardID == 0 || k.CardID != cards[0].CardID {
			return false
		}
	}
	return true
}

// connectedCard finds registered card id among the connected cards.
func connectedCard(ctx context.Context, c *client.Client, id string) (*apiv1.CardTarget, error) {
	var v apiv1.CardView
	if err := c.Get(ctx, "/api/v1/cards/"+client.Esc(id), &v); err != nil {
		return nil, err
	}
	return pickCard(ctx, c, v.Serial)
}

func cardContinue(ctx context.Context, args []string) error {
	cmd := newClientCmd("card continue")
	var pins pinFlags
	pins.register(cmd.FlagSet)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	target, err := connectedCard(ctx, c, pos[0])
	if err != nil {
		return err
	}
	var res apiv1.IssueCardResult
	in := apiv1.ContinueInput{CardTarget: *target, UserPIN: pins.user, AdminPIN: pins.admin}
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/continue", in, &res); err != nil {
		return err
	}
	return printIssue(&cmd.clientFlags, &res)
}

func cardClear(ctx context.Context, args []string) error {
	cmd := newClientCmd("card clear")
	adminPIN := cmd.String("admin-pin", "", "the Admin PIN chosen at an issue before cards got their own (PUK state unknown); other cards need none")
	initialize := cmd.Bool("initialize", false, "wipe the whole card (vendor reset) instead of removing Lanyard's keys and certificates, for a card type that supports initialization")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	target, err := connectedCard(ctx, c, pos[0])
	if err != nil {
		return err
	}
	var out apiv1.CardView
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/revoke-clear", apiv1.ClearInput{CardTarget: *target, AdminPIN: *adminPIN, Initialize: *initialize}, &out); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&out)
	}
	printCard(&out)
	return nil
}

// createVirtual has a workstation's agent create a virtual card of kind
// (tpm or platform) and returns where it is.
func createVirtual(ctx context.Context, c *client.Client, kind string, wsID int64, user, name string) (*apiv1.CardTarget, error) {
	var k lanyard.CardKind
	switch kind {
	case "tpm":
		k = lanyard.KindTPMVirtualCard
	case "platform":
		k = lanyard.KindPlatformCredential
	case "aircard":
		k = lanyard.KindAirCard
	default:
		return nil, fmt.Errorf("--create %q: want tpm, platform or aircard", kind)
	}
	if wsID == 0 {
		path := "/api/v1/virtual-cards/options"
		if user != "" {
			path += "?user=" + client.Esc(user)
		}
		var opts []apiv1.VirtualOption
		if err := c.Get(ctx, path, &opts); err != nil {
			return nil, err
		}
		var avail, reasons []string
		for _, o := range opts {
			if o.Kind != k {
				continue
			}
			if o.Available {
				avail = append(avail, o.Workstation)
				wsID = o.WorkstationID
			} else {
				reasons = append(reasons, o.Reason)
			}
		}
		switch {
		case len(avail) > 1:
			return nil, fmt.Errorf("several workstations can create it (%s); choose one with --workstation", strings.Join(avail, ", "))
		case len(avail) == 0 && len(reasons) > 0:
			return nil, errors.New(strings.Join(reasons, "; "))
		case len(avail) == 0:
			return nil, errors.New("none of your workstations is connected (is the agent running and paired?)")
		}
	}
	var cc apiv1.ConnectedCard
	if _, err := c.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: wsID, Kind: k, User: user, Name: name}, &cc); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "Created %s %s in reader %q of %s.\n", cc.CardType, cc.Serial, cc.Reader, cc.Workstation)
	return &apiv1.CardTarget{WorkstationID: cc.WorkstationID, Reader: cc.Reader}, nil
}

// cardPINSetup is Set up PIN: the password comes from standard input (so
// it is not in the process list or the shell history), then the PIN
// unless --pin gives it.
func cardPINSetup(ctx context.Context, args []string) error {
	cmd := newClientCmd("card pin-setup")
	code := cmd.String("code", "", "the code your authenticator app shows now (required)")
	pin := cmd.String("pin", "", "the new PIN (default: the second line of standard input)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	if *code == "" {
		return errUsage
	}
	// One prompter for both lines (it reads ahead from a pipe); no echo
	// on a terminal.
	ask := stdinPrompter()
	password, err := ask("Password:")
	if err != nil {
		return err
	}
	if *pin == "" {
		if *pin, err = ask("New PIN:"); err != nil {
			return err
		}
	}
	var v apiv1.CardView
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/pin-setup", apiv1.PINSetupInput{Password: password, Code: *code, PIN: *pin}, &v); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&v)
	}
	fmt.Fprintln(os.Stderr, "PIN set up.")
	printCard(&v)
	return nil
}

func cardComputers(ctx context.Context, args []string) error {
	cmd := newClientCmd("card computers")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var list []apiv1.AirCardComputer
	if err := c.Get(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/computers", &list); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, list, []string{"WORKSTATION", "NAME", "ONLINE", "ADDED BY", "ADDED"}, func(k apiv1.AirCardComputer) []string {
		online := "no"
		if k.Online {
			online = "yes"
		}
		return []string{strconv.FormatInt(k.WorkstationID, 10), k.Workstation, online, k.AddedBy, k.AddedAt.Format("2006-01-02 15:04")}
	})
}

func cardComputerRemove(ctx context.Context, args []string) error {
	cmd := newClientCmd("card computer remove")
	pos, c, err := cmd.start(args, 2)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodDelete, "/api/v1/cards/"+client.Esc(pos[0])+"/computers/"+client.Esc(pos[1]), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Workstation %s may no longer use the AirCard; it was disconnected there.\n", pos[1])
	return nil
}

func cardAirCardCode(ctx context.Context, args []string) error {
	cmd := newClientCmd("card aircard-code")
	mail := cmd.Bool("mail", false, "also send the code to the card's owner by e-mail")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var code apiv1.AirCardCode
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/aircard-codes", apiv1.AirCardCodeInput{Mail: *mail}, &code); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&code)
	}
	switch {
	case len(code.MailedTo) > 0:
		fmt.Fprintf(os.Stderr, "The code was sent to %s.\n", strings.Join(code.MailedTo, ", "))
	case code.MailNote != "":
		fmt.Fprintf(os.Stderr, "The code was not sent: %s.\n", code.MailNote)
	default:
		fmt.Fprintln(os.Stderr, "Give this code to the user.")
	}
	fmt.Fprintf(os.Stderr, "On the computer to connect, the user runs: lanyard agent aircard add CODE\nIt works once, until %s.\n", code.ExpiresAt.Local().Format("15:04"))
	fmt.Println(code.Code)
	return nil
}
