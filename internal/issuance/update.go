package issuance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// Update card contents (docs/lifecycle.md, "Update card contents"): the
// pure decisions. An update compares what the card holds with what its
// owner's policy wants now, and per slot keeps, renews, adds or removes
// a certificate. Nothing here touches the card or the store; the service
// gathers UpdateInput in one read transaction (and, when the policy
// tracks certificates, from the card) and runs the plan.

// HeldCert is a certificate bound to the card: one of Lanyard's own
// (managed), the newest per slot and not revoked with the card, or a
// tracked third-party record.
type HeldCert struct {
	Serial   string `json:"serial"`
	CA       string `json:"ca,omitempty"`
	Template string `json:"template,omitempty"`
	Slot     string `json:"slot"`
	Subject  string `json:"subject,omitempty"`
	// Issuer is the certificate's issuer name: a serial number is unique
	// per issuer only (RFC 5280 4.1.2.2), so a tracked certificate is
	// told apart from another system's by both.
	Issuer    string               `json:"issuer,omitempty"`
	NotAfter  time.Time            `json:"not_after"`
	Algorithm lanyard.KeyAlgorithm `json:"algorithm,omitempty"`
	// KeySHA256 is the SHA-256 of the certificate's public key
	// (SubjectPublicKeyInfo, hex); a reuse-key renewal checks that the
	// card's key is still this one before certifying it again.
	KeySHA256 string `json:"key_sha256,omitempty"`
	// Revoked: the certificate was revoked on its own (not with the
	// card); its key may be compromised, so it is renewed with a new key.
	Revoked bool `json:"revoked,omitempty"`
	// Archived: the server holds a copy of the certificate's key (key
	// archival). Such a key is certified again only under a template
	// that archives too, and one the server holds no copy of only under a
	// template that does not: a reuse-key renewal never turns an escrowed
	// key into a signing or logon key, nor claims an escrow that is not
	// there.
	Archived bool `json:"archived,omitempty"`
}

// UpdateInput is what the update decisions need: Input's card, owner,
// caller and policy, plus the card's certificates and abilities.
type UpdateInput struct {
	Input
	Now time.Time // the service's clock
	// Held are Lanyard's certificates bound to the card (HeldCert).
	Held []HeldCert
	// TrackedRecs are the tracked third-party certificates bound to the
	// card; Input.Found is what the card holds now (read only when the
	// policy searches for tracked certificates).
	TrackedRecs []HeldCert
	// CanMove: the card can move a key between slots (MOVE KEY), so a new
	// key is generated in a spare slot and replaces the old one only once
	// its certificate is on the card. Without it a new key overwrites the
	// old one in place.
	CanMove bool
	// HistoryKeys is how many earlier keys the card's Key History Object
	// counts (retired slots 82 up; read with CanMove).
	HistoryKeys int
	// Auto: the update runs without anyone choosing (update automatically
	// on connect): no optional template is added and no tracked
	// certificate is picked.
	Auto bool
	// Unfinished is the kind of an unfinished operation on the card that
	// must be continued first (lanyard.OpIssue, "update"); "" when none.
	Unfinished lanyard.OperationKind
}

// SlotAction is what an update does to one slot.
type SlotAction string

// Slot actions.
const (
	ActionKeep   SlotAction = "keep"   // the certificate stays as it is
	ActionRenew  SlotAction = "renew"  // a new certificate for the same template and slot
	ActionAdd    SlotAction = "add"    // a certificate for a template the card does not hold
	ActionRemove SlotAction = "remove" // the certificate is deleted from the card and revoked (superseded)
)

// UpdateReason says why a slot changes.
type UpdateReason string

// Update reasons.
const (
	ReasonExpired           UpdateReason = "expired"             // not after now
	ReasonExpiring          UpdateReason = "expiring"            // within the policy's renewal window
	ReasonAdded             UpdateReason = "added"               // the policy names a template the card lacks
	ReasonRemovedFromPolicy UpdateReason = "removed_from_policy" // the policy no longer names the template
	// ReasonTemplateChanged: the template's slot changed (the old slot is
	// removed and the new one added) or it no longer allows the key's
	// algorithm.
	ReasonTemplateChanged  UpdateReason = "template_changed"
	ReasonRevokedElsewhere UpdateReason = "revoked_elsewhere" // revoked on its own, not with the card
	ReasonRequested        UpdateReason = "requested"         // staff asked for a renewal (UpdateChoice.Renew)
)

// UpdateSlot is one row of an update: the slot, what happens to it and
// why. For renew and add, SlotPlan is the certificate to issue, with the
// approvals it needs, as for an issue.
type UpdateSlot struct {
	SlotPlan
	Action  SlotAction         `json:"action"`
	Key     lanyard.RenewalKey `json:"key,omitempty"` // renew and add only; add is always new_key
	Reasons []UpdateReason     `json:"reasons,omitempty"`
	Old     string             `json:"old,omitempty"` // serial replaced or removed ("" for add and keep)
	OldCA   string             `json:"old_ca,omitempty"`
	// OldKey is the held key's SHA-256 (HeldCert.KeySHA256) on a
	// reuse-key renewal: the key that must still be in Slot.
	OldKey string `json:"old_key_sha256,omitempty"`
	// NotAfter is the held certificate's expiry (keep, renew, remove).
	NotAfter time.Time `json:"not_after,omitzero"`
	// Staged: the new key is generated in a spare slot and moved into
	// Slot once its certificate is written there (the card can MOVE
	// KEY); false: generated in place, reused, or imported (archive key).
	Staged bool `json:"staged,omitempty"`
	// Retire: the old key of a staged key-management renewal that does
	// not archive its keys is kept on the card as an earlier key (moved
	// into the next retired slot with its certificate, the Key History
	// Object counting it), so that data encrypted to the old certificate
	// still opens (retireOld).
	Retire bool `json:"retire,omitempty"`
}

// Changes reports whether the row changes the card.
func (u UpdateSlot) Changes() bool { return u.Action != ActionKeep }

// UpdateOptions is what the Update card dialog shows: the proposal for
// the policy's defaults, and what the user may change in it.
type UpdateOptions struct {
	// Due: the proposal changes something; false: the card is up to date
	// (only picking optional or tracked certificates would change it).
	Due   bool         `json:"due"`
	Slots []UpdateSlot `json:"slots"`
	// Optional are the policy's optional templates; Held marks those the
	// card holds (they are kept). The others may be added when
	// OptionalSelectable.
	Optional           []OptionalInfo `json:"optional_templates"`
	OptionalSelectable bool           `json:"optional_selectable"`
	Tracked            []Found        `json:"tracked"`   // third-party certificates found on the card, not yet tracked
	Untracked          []string       `json:"untracked"` // serials of tracked records no longer on the card (they are unbound)
	TrackedSelectable  bool           `json:"tracked_selectable"`
	// Cautions must be accepted (UpdateChoice.AcceptKeyLoss) before the
	// update runs: a key-management key would be lost.
	Cautions []string `json:"cautions,omitempty"`
}

// OptionalInfo is an optional template in the Update card dialog.
type OptionalInfo struct {
	TemplateInfo
	Held bool `json:"held"`
}

// UpdateChoice is what the user chose in the Update card dialog.
type UpdateChoice struct {
	Optional []string // optional templates to add (held ones are kept anyway)
	Tracked  []string // slots of found certificates to track
	// Renew are templates the card holds that staff want renewed now
	// although they are not due.
	Renew []string
	// AcceptKeyLoss: the user accepted UpdateOptions.Cautions.
	AcceptKeyLoss bool
}

// UpdatePlan is an update decided; it is recorded in the operation.
// Slots holds every row, keep included, in this order: the policy's
// templates (required, then optional, as the policy lists them), then the
// removals by slot.
type UpdatePlan struct {
	Slots     []UpdateSlot `json:"slots"`
	Tracked   []string     `json:"tracked,omitempty"`
	Untracked []string     `json:"untracked,omitempty"`
	// AcceptedKeyLoss records that the user accepted the cautions.
	AcceptedKeyLoss bool `json:"accepted_key_loss,omitempty"`
}

// IssuePlan is the part of the update that issues certificates (renew and
// add rows) as an issue Plan, so that the issue's certificate steps (CA
// approval, documents, signing) run on it unchanged. An update never
// initializes the card nor touches its PINs.
func (p *UpdatePlan) IssuePlan() Plan {
	out := Plan{Slots: []SlotPlan{}, Tracked: slices.Clone(p.Tracked)}
	for _, u := range p.Slots {
		if u.Action == ActionRenew || u.Action == ActionAdd {
			out.Slots = append(out.Slots, u.SlotPlan)
		}
	}
	return out
}

// Changes is the rows of p that change the card.
func (p *UpdatePlan) Changes() []UpdateSlot {
	return slices.DeleteFunc(slices.Clone(p.Slots), func(u UpdateSlot) bool { return !u.Changes() })
}

// UpdateDue is the changes an update of the card would make now, from the
// records alone (no card I/O, no choices: what an automatic update would
// do), for the Self-Service banner, the card view and the arrival hook.
// None (nil) when the card is up to date or is not an issued card. An
// error means the policy cannot be applied (a template it names is gone):
// an update would be refused with that error too.
func UpdateDue(in UpdateInput) ([]UpdateSlot, error) {
	if in.Card == nil || in.Card.State != lanyard.CardIssued || in.CardType == nil {
		return nil, nil
	}
	// Whether the card can move keys decides how, not whether: refusals
	// for cards that cannot are OfferUpdate's, with the card at hand.
	in.Auto, in.CanMove = true, true
	rows, _, err := planSlots(&in, nil, nil)
	if err != nil {
		return nil, err
	}
	if rows = slices.DeleteFunc(rows, func(u UpdateSlot) bool { return !u.Changes() }); len(rows) == 0 {
		return nil, nil
	}
	return rows, nil
}

// OfferUpdate decides whether the card may be updated and what the dialog
// offers. Whether the caller may update this card at all (the owner's
// user permission, staff roles) is cardperm's decision, made before.
// Errors carry the message the user sees.
func OfferUpdate(in UpdateInput) (*UpdateOptions, error) {
	if err := updatable(&in); err != nil {
		return nil, err
	}
	s := in.Settings
	rows, cautions, err := planSlots(&in, nil, nil)
	if err != nil {
		return nil, err
	}
	o := &UpdateOptions{
		Slots:              rows,
		Optional:           []OptionalInfo{},
		OptionalSelectable: !in.Auto && (in.Staff || s.Workflow.SelectOptionalOnUpdate),
		TrackedSelectable:  !in.Auto && s.Workflow.SearchTrackedCertificates && s.Workflow.AllowUserSelectTracked,
		Cautions:           cautions,
	}
	o.Due = slices.ContainsFunc(rows, UpdateSlot.Changes)
	// The checks of the Issue card dialog (the owner's details fill the
	// subject, the card can hold the key), so that a certificate the CA
	// would refuse is refused here, before the card is touched.
	if _, err := templateInfos(in.Input, s.Certificates.Required); err != nil {
		return nil, err
	}
	infos, err := templateInfos(in.Input, s.Certificates.Optional)
	if err != nil {
		return nil, err
	}
	for _, ti := range infos {
		o.Optional = append(o.Optional, OptionalInfo{TemplateInfo: ti, Held: heldTemplate(in.Held, ti.Name)})
	}
	o.Tracked, o.Untracked = trackedChanges(&in, rows)
	return o, nil
}

// DecideUpdate turns the user's choice into the plan, checking it against
// what OfferUpdate allowed. An update that would change nothing is
// refused: the card is up to date.
func DecideUpdate(in UpdateInput, o *UpdateOptions, ch UpdateChoice) (*UpdatePlan, error) {
	if err := updatable(&in); err != nil {
		return nil, err
	}
	if err := checkOptionalChoice(&in, o, ch.Optional); err != nil {
		return nil, err
	}
	if len(ch.Renew) > 0 && !in.Staff {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only an operator or administrator renews certificates that are not due")
	}
	rows, cautions, err := planSlots(&in, ch.Optional, ch.Renew)
	if err != nil {
		return nil, err
	}
	if len(cautions) > 0 && !ch.AcceptKeyLoss {
		return nil, lanyard.Errorf(lanyard.EInvalid, "%s; accept this to update the card", strings.Join(cautions, "; "))
	}
	p := &UpdatePlan{Slots: rows, AcceptedKeyLoss: len(cautions) > 0}
	found, gone := trackedChanges(&in, rows)
	p.Untracked = gone
	if p.Tracked, err = pickTracked(o, found, ch.Tracked); err != nil {
		return nil, err
	}
	if len(p.Changes()) == 0 && len(p.Tracked) == 0 && len(p.Untracked) == 0 {
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s is up to date: every certificate the policy names is on it and none expires within %d days",
			in.Card.Serial, int(in.Settings.RenewalWindow()/(24*time.Hour)))
	}
	return p, nil
}

// updatable refuses a card an update cannot run on, with the message the
// user sees.
func updatable(in *UpdateInput) error {
	c := in.Card
	if c == nil {
		return lanyard.Errorf(lanyard.EInvalid, "this card is not registered in Lanyard; issue it first")
	}
	if in.CardType == nil {
		return lanyard.Errorf(lanyard.EInvalid, "this card is not of a card type Lanyard knows; ask your administrator to add its card type")
	}
	switch c.State {
	case lanyard.CardDisabled:
		return lanyard.Errorf(lanyard.EConflict, "card %s is disabled: a disabled card cannot be issued, updated or unblocked; enable it first", c.Serial)
	case lanyard.CardRevoked:
		return lanyard.Errorf(lanyard.EConflict, "card %s is revoked and cannot be updated", c.Serial)
	case lanyard.CardPending:
		return lanyard.Errorf(lanyard.EConflict, "card %s has a card issue pending; continue it from the card menu", c.Serial)
	case lanyard.CardPINSetup:
		return lanyard.Errorf(lanyard.EConflict, "card %s waits for its user to set up the PIN (Set up PIN); it is updated after that", c.Serial)
	case lanyard.CardIssued:
	default:
		return lanyard.Errorf(lanyard.EConflict, "card %s is not issued (%s); issue it instead", c.Serial, c.State)
	}
	if err := OtherOwner(c, in.OwnerID); err != nil {
		return err
	}
	switch in.Unfinished {
	case "":
	case lanyard.OpIssue:
		return lanyard.Errorf(lanyard.EConflict, "card %s has an unfinished card issue; continue it (Continue card issue) first", c.Serial)
	case lanyard.OpRecoverKeys:
		return lanyard.Errorf(lanyard.EConflict, "card %s has an unfinished key recovery onto it; finish it (Recover keys onto card) first", c.Serial)
	default:
		return lanyard.Errorf(lanyard.EConflict, "card %s has an unfinished card update; continue it (Continue card update)", c.Serial)
	}
	if !policy.CardTypeAllowed(in.Settings, in.CardType.Name) {
		return lanyard.Errorf(lanyard.EForbidden, "cards of type %q are not allowed by the policy %q; replace the card with one of an allowed type", in.CardType.Name, in.PolicyName)
	}
	return nil
}

// checkOptionalChoice checks the optional templates the user chose to add.
func checkOptionalChoice(in *UpdateInput, o *UpdateOptions, chosen []string) error {
	if len(chosen) == 0 {
		return nil
	}
	if in.Auto || !o.OptionalSelectable {
		return lanyard.Errorf(lanyard.EForbidden, "your policy does not let you select optional certificates when the card is updated")
	}
	c := in.Settings.Certificates
	for _, name := range chosen {
		switch {
		case slices.Contains(c.Required, name):
			return lanyard.Errorf(lanyard.EInvalid, "certificate %q is required and always included; it cannot be selected", name)
		case !slices.Contains(c.Optional, name):
			return lanyard.Errorf(lanyard.EInvalid, "certificate %q is not offered by your policy", name)
		}
	}
	return nil
}

// wantedTemplates is what the card should hold after the update, in the
// policy's order: the required templates, the optional ones it holds
// (an update never takes away an optional certificate the policy still
// offers) and the optional ones chosen.
func wantedTemplates(in *UpdateInput, chosen []string) []string {
	c := in.Settings.Certificates
	out := slices.Clone(c.Required)
	for _, name := range c.Optional {
		if !slices.Contains(out, name) && (heldTemplate(in.Held, name) || slices.Contains(chosen, name)) {
			out = append(out, name)
		}
	}
	return out
}

func heldTemplate(held []HeldCert, name string) bool {
	return slices.ContainsFunc(held, func(h HeldCert) bool { return h.Template == name })
}

// planSlots computes every row of the update, and the cautions that must
// be accepted. renew are templates staff asked to renew.
func planSlots(in *UpdateInput, chosen, renew []string) ([]UpdateSlot, []string, error) {
	names := wantedTemplates(in, chosen)
	for _, name := range renew {
		if !slices.Contains(names, name) || !heldTemplate(in.Held, name) {
			return nil, nil, lanyard.Errorf(lanyard.EInvalid, "the card holds no certificate of template %q to renew", name)
		}
	}
	var rows, removed []UpdateSlot
	var cautions []string
	used := map[string]string{} // slot → template written there
	for _, name := range names {
		t := in.Templates[name]
		if t == nil {
			return nil, nil, lanyard.Errorf(lanyard.EUnavailable, "template %q does not exist; ask your administrator", name)
		}
		slot := SlotName(t)
		if other, taken := used[slot]; taken {
			return nil, nil, lanyard.Errorf(lanyard.EConflict, "templates %q and %q both use card slot %s; ask your administrator to change one", other, name, slot)
		}
		used[slot] = name
		row, gone, caution, err := planTemplate(in, t, slices.Contains(renew, name))
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, row)
		removed = append(removed, gone...)
		if caution != "" {
			cautions = append(cautions, caution)
		}
	}
	for _, h := range in.Held {
		if !slices.Contains(names, h.Template) {
			removed = append(removed, removeRow(h, ReasonRemovedFromPolicy))
		}
	}
	slices.SortStableFunc(removed, func(a, b UpdateSlot) int { return strings.Compare(a.Slot, b.Slot) })
	cautions = append(cautions, retireOld(in, rows)...)
	return append(rows, removed...), cautions, nil
}

// retiredSlots is how many retired key management slots a PIV card has
// (82 to 95, SP 800-73-4 Part 1, 3.1.1).
const retiredSlots = int(pivspec.SlotRetiredLast-pivspec.SlotRetiredFirst) + 1

// retireOld decides, for each staged renewal of a key-management template
// (key encipherment or key agreement) that does not archive its keys,
// that its old key is kept on the card as an earlier key (Retire), so that
// data encrypted to the old certificate still opens: without it the old
// key, which exists only on the card, would be deleted. The retired slots
// are shared by the card's key history (in.HistoryKeys, from 82 up) and
// the update's staging slots (one per staged row, from 95 down); a row
// for which none is left gets the caution instead (the key is lost once
// accepted; an automatic update, which accepts nothing, is refused).
func retireOld(in *UpdateInput, rows []UpdateSlot) []string {
	staged := 0
	for _, r := range rows {
		if r.Staged {
			staged++
		}
	}
	room := retiredSlots - in.HistoryKeys - staged
	var cautions []string
	for i := range rows {
		r := &rows[i]
		t := in.Templates[r.Template]
		if !r.Staged || t == nil || !keyManagement(t) {
			continue
		}
		if room > 0 {
			r.Retire, room = true, room-1
			continue
		}
		cautions = append(cautions, fmt.Sprintf("renewing %q replaces the card's decryption key in slot %s, and the card has no free retired slot to keep the old one: data encrypted to the old certificate will no longer open (clear old keys from the card, or turn on archive key on the template)", t.Name, r.Slot))
	}
	return cautions
}

// keyManagement reports whether t's keys decrypt (key encipherment or key
// agreement).
func keyManagement(t *lanyard.Template) bool {
	return slices.Contains(t.KeyUsage, lanyard.KUKeyEncipherment) || slices.Contains(t.KeyUsage, lanyard.KUKeyAgreement)
}

func removeRow(h HeldCert, why UpdateReason) UpdateSlot {
	return UpdateSlot{SlotPlan: SlotPlan{Slot: h.Slot, Template: h.Template, Algorithm: h.Algorithm}, Action: ActionRemove,
		Reasons: []UpdateReason{why}, Old: h.Serial, OldCA: h.CA, NotAfter: h.NotAfter}
}

// planTemplate is the row of one wanted template t, plus the removals it
// causes (a held certificate of t in a slot t no longer uses) and a
// caution to accept.
func planTemplate(in *UpdateInput, t *lanyard.Template, force bool) (UpdateSlot, []UpdateSlot, string, error) {
	slot := SlotName(t)
	var held *HeldCert
	var gone []UpdateSlot
	for i := range in.Held {
		h := &in.Held[i]
		switch {
		case h.Template != t.Name:
		case h.Slot == slot:
			held = h
		default:
			gone = append(gone, removeRow(*h, ReasonTemplateChanged))
		}
	}
	if held == nil {
		row, err := newRow(in, t, ActionAdd, nil, addReason(gone))
		return row, gone, "", err
	}
	reasons := renewReasons(in, t, held, force)
	if len(reasons) == 0 {
		return UpdateSlot{SlotPlan: SlotPlan{Slot: slot, Template: t.Name, Algorithm: held.Algorithm}, Action: ActionKeep,
			NotAfter: held.NotAfter}, gone, "", nil
	}
	row, err := newRow(in, t, ActionRenew, held, reasons)
	if err != nil {
		return row, nil, "", err
	}
	caution, err := inPlaceRisk(in, t, &row)
	return row, gone, caution, err
}

// addReason: a template whose certificate moves to another slot is added
// there because the template changed; otherwise because the policy
// names it.
func addReason(gone []UpdateSlot) []UpdateReason {
	if len(gone) > 0 {
		return []UpdateReason{ReasonTemplateChanged}
	}
	return []UpdateReason{ReasonAdded}
}

// renewReasons says why the held certificate h of template t is renewed;
// none: it is kept. The renewal window ends exactly at Now+window: a
// certificate expiring then is renewed, one expiring a second later is
// kept.
func renewReasons(in *UpdateInput, t *lanyard.Template, h *HeldCert, force bool) []UpdateReason {
	var out []UpdateReason
	switch {
	case !h.NotAfter.After(in.Now):
		out = append(out, ReasonExpired)
	case !h.NotAfter.After(in.Now.Add(in.Settings.RenewalWindow())):
		out = append(out, ReasonExpiring)
	}
	if !t.AllowsKey(h.Algorithm) {
		out = append(out, ReasonTemplateChanged)
	}
	if h.Revoked {
		out = append(out, ReasonRevokedElsewhere)
	}
	if force && len(out) == 0 {
		out = append(out, ReasonRequested)
	}
	return out
}

// newRow is a renew or add row for template t: its key (the template's
// renewal key, a new key whenever the held key no longer fits), algorithm
// and approvals.
func newRow(in *UpdateInput, t *lanyard.Template, action SlotAction, held *HeldCert, reasons []UpdateReason) (UpdateSlot, error) {
	if err := Issuable(t, in.CardType); err != nil {
		return UpdateSlot{}, err
	}
	row := UpdateSlot{Action: action, Key: lanyard.RenewalNewKey, Reasons: reasons}
	alg := lanyard.KeyAlgorithm("")
	if held != nil {
		row.Old, row.OldCA, row.NotAfter = held.Serial, held.CA, held.NotAfter
		if t.RenewalKey.Mode() == lanyard.RenewalReuseKey && keyFits(t, held) {
			row.Key, row.OldKey, alg = lanyard.RenewalReuseKey, held.KeySHA256, held.Algorithm
		}
	}
	if alg == "" {
		var err error
		if alg, err = KeyAlgorithm(t, in.CardType); err != nil {
			return UpdateSlot{}, err
		}
	}
	row.SlotPlan = slotPlan(in.Settings, t, SlotName(t), alg, in.OnBehalf())
	row.Staged = row.Key == lanyard.RenewalNewKey && held != nil && in.CanMove && !t.KeyArchival
	return row, nil
}

// keyFits reports whether the key of the held certificate h may be
// certified again under t: t still allows its algorithm, it was not
// revoked on its own (its key may be compromised), and the server holds a
// copy of it exactly when t archives keys (HeldCert.Archived), t's
// archival rule still holding. Otherwise a reuse-key template renews with
// a new key.
func keyFits(t *lanyard.Template, h *HeldCert) bool {
	return t.AllowsKey(h.Algorithm) && !h.Revoked && h.Archived == t.KeyArchival && t.CheckKeyArchival() == nil
}

// inPlaceRisk checks a renewal with a new key on a card that cannot move
// keys: the new key overwrites the old one in the slot, so the card has
// no working pair until the new certificate is written. That is refused
// when the certificate waits for an approval (it could take days), and
// for a key-management key it loses the old key, which must be accepted
// (the caution returned). Archive-key templates import the new key from
// the server once the certificate is signed, so neither applies.
func inPlaceRisk(in *UpdateInput, t *lanyard.Template, row *UpdateSlot) (string, error) {
	if row.Key != lanyard.RenewalNewKey || in.CanMove || t.KeyArchival {
		return "", nil
	}
	if row.NeedCA || row.NeedForm {
		return "", lanyard.Errorf(lanyard.EConflict, "the certificate of template %q needs an approval before it is written, and this card cannot keep its old key while the new one waits: "+
			"set the template's renewal key to reuse key, use a card that can move keys, or replace the card", t.Name)
	}
	if keyManagement(t) {
		return fmt.Sprintf("renewing %q replaces the card's decryption key in slot %s: data encrypted to the old certificate will no longer open (turn on archive key on the template to keep such keys)", t.Name, row.Slot), nil
	}
	return "", nil
}

// slotPlan is the certificate to issue for template t into slot with a key
// of alg, with the approvals the policy's documents check asks for; an
// issue and an update decide them alike.
func slotPlan(s lanyard.PolicySettings, t *lanyard.Template, slot string, alg lanyard.KeyAlgorithm, onBehalf bool) SlotPlan {
	needCA, needForm := Approvals(s.Documents, t, onBehalf)
	signed := needCA && (s.Documents.Check == lanyard.DocsCARequest || s.Documents.Check == lanyard.DocsRequestForm)
	return SlotPlan{Slot: slot, Template: t.Name, Algorithm: alg, NeedCA: needCA, NeedForm: needForm,
		SignedRequest: signed, Precheck: signed && s.Documents.Precheck}
}

// trackedChanges is what the update does to tracked certificates, when the
// policy searches for them: the third-party certificates found on the
// card that are not tracked yet (and not in a slot the update writes),
// and the tracked records no longer on the card or in a slot the update
// writes over.
func trackedChanges(in *UpdateInput, rows []UpdateSlot) (found []Found, gone []string) {
	found, gone = []Found{}, []string{}
	if !in.Settings.Workflow.SearchTrackedCertificates {
		return found, gone
	}
	written := map[string]bool{}
	for _, u := range rows {
		if u.Action == ActionRenew || u.Action == ActionAdd {
			written[u.Slot] = true
		}
	}
	same := func(h HeldCert, f Found) bool {
		return h.Serial == f.Serial && (h.Issuer == "" || h.Issuer == f.Issuer)
	}
	known := func(recs []HeldCert, f Found) bool {
		return slices.ContainsFunc(recs, func(h HeldCert) bool { return same(h, f) })
	}
	for _, f := range in.Found {
		if !written[f.Slot] && !known(in.TrackedRecs, f) && !known(in.Held, f) {
			found = append(found, f)
		}
	}
	for _, r := range in.TrackedRecs {
		onCard := slices.ContainsFunc(in.Found, func(f Found) bool { return same(r, f) && f.Slot == r.Slot })
		if !onCard || written[r.Slot] {
			gone = append(gone, r.Serial)
		}
	}
	return found, gone
}

// pickTracked is the slots of found certificates the update tracks: the
// user's pick when the policy lets them choose, else every one found.
func pickTracked(o *UpdateOptions, found []Found, chosen []string) ([]string, error) {
	if !o.TrackedSelectable {
		if len(chosen) > 0 {
			return nil, lanyard.Errorf(lanyard.EForbidden, "your policy does not let you select tracked certificates")
		}
		var all []string
		for _, f := range found {
			all = append(all, f.Slot)
		}
		return all, nil
	}
	for _, slot := range chosen {
		if !slices.ContainsFunc(found, func(f Found) bool { return f.Slot == slot }) {
			return nil, lanyard.Errorf(lanyard.EInvalid, "no third-party certificate to track was found in card slot %q", slot)
		}
	}
	return slices.Clone(chosen), nil
}
