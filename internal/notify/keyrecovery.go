package notify

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
)

// Key recovery notices, all to the archived key's owner (docs/lifecycle.md,
// "Key archival"): .Template is the key's template, .Comment its
// certificate serial, .By who acted, .Reason the request's reason or the
// decider's comment.
const (
	KindKeyRecovered        = "key_recovered"
	KindKeyRecoveryRequest  = "key_recovery_requested"
	KindKeyRecoveryApproved = "key_recovery_approved"
	KindKeyRecoveryRejected = "key_recovery_rejected"
	KindKeyRecoveredToCard  = "key_recovered_to_card"
)

var keyRecoveryKinds = []kindInfo{
	{KindKeyRecovered, "Key recovered: to the owner when one of their archived encryption keys is recovered as a PKCS #12 file", apiv1.MailTemplateInput{
		Subject: "Your encryption key was recovered",
		Text: `Hello {{.User.Name}},

the archived key of your {{.Template}} certificate {{.Comment}} was recovered as a password-protected file by {{.By}}.
If you did not expect this, tell your help desk at once.
` + signature}},
	{KindKeyRecoveryRequest, "Key recovery requested: to the owner when someone asks to recover one of their archived encryption keys", apiv1.MailTemplateInput{
		Subject: "Recovery of your encryption key was requested",
		Text: `Hello {{.User.Name}},

{{.By}} asked to recover the archived key of your {{.Template}} certificate {{.Comment}}, giving this reason:
{{.Reason}}
A second person must approve before anyone can take the key out. If this is unexpected, tell your help desk at once.
` + signature}},
	{KindKeyRecoveryApproved, "Key recovery approved: to the owner when a second person approves a request to recover their archived key", apiv1.MailTemplateInput{
		Subject: "Recovery of your encryption key was approved",
		Text: `Hello {{.User.Name}},

{{.By}} approved the request to recover the archived key of your {{.Template}} certificate {{.Comment}}.{{if .Reason}}
Comment: {{.Reason}}{{end}}
` + signature}},
	{KindKeyRecoveryRejected, "Key recovery rejected: to the owner when a second person rejects a request to recover their archived key", apiv1.MailTemplateInput{
		Subject: "Recovery of your encryption key was rejected",
		Text: `Hello {{.User.Name}},

{{.By}} rejected the request to recover the archived key of your {{.Template}} certificate {{.Comment}}.{{if .Reason}}
Comment: {{.Reason}}{{end}}
` + signature}},
	{KindKeyRecoveredToCard, "Keys recovered onto a card: to the owner when their earlier archived encryption keys are put on their new or replacement card", apiv1.MailTemplateInput{
		Subject: "Your earlier encryption keys were put on your card",
		Text: `Hello {{.User.Name}},

{{.By}} put the archived keys of your earlier encryption certificates on your card: {{.Reason}}.
With them your card opens mail encrypted to those certificates. If you did not expect this, tell your help desk at once.
` + signature}},
}

func init() { kinds = append(kinds, keyRecoveryKinds...) }

var _ archive.Notifier = (*Mailer)(nil)

// QueueKeyRecovery queues a key recovery notice inside tx, the
// transaction that records what it tells; Wake after the commit. It never
// holds the key nor a password.
func (m *Mailer) QueueKeyRecovery(tx lanyard.Tx, to []string, n archive.Notice) (int64, error) {
	kind := map[string]string{archive.NoticeRecovered: KindKeyRecovered, archive.NoticeRequested: KindKeyRecoveryRequest,
		archive.NoticeApproved: KindKeyRecoveryApproved, archive.NoticeRejected: KindKeyRecoveryRejected,
		archive.NoticeRecoveredToCard: KindKeyRecoveredToCard}[n.Kind]
	if kind == "" {
		return 0, lanyard.Errorf(lanyard.EInternal, "unknown key recovery notice %q", n.Kind)
	}
	msg, err := m.queueIn(tx, kind, to, Data{User: userData(n.Owner), Template: n.Key.Template, Comment: n.Key.CertificateSerial, By: n.By, Reason: n.Reason}, nil)
	if err != nil {
		return 0, err
	}
	return msg.ID, nil
}
