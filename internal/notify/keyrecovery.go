package notify

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
)

// KindKeyRecovered tells an owner that one of their archived keys was
// recovered (docs/lifecycle.md, "Key archival").
const KindKeyRecovered = "key_recovered"

func init() {
	kinds = append(kinds, kindInfo{KindKeyRecovered, "Key recovered: to the owner when one of their archived encryption keys is recovered as a PKCS #12 file", apiv1.MailTemplateInput{
		Subject: "Your encryption key was recovered",
		Text: `Hello {{.User.Name}},

the archived key of your {{.Template}} certificate was recovered as a password-protected file by {{.By}}{{if .Comment}} (certificate {{.Comment}}){{end}}.
If you did not expect this, tell your help desk at once.
` + signature}})
}

var _ archive.Notifier = (*Mailer)(nil)

// QueueKeyRecovered queues the owner's notice inside tx, the recovery's
// transaction; Wake after the commit. by is the login that took the key
// out; the notice never holds the key nor its password.
func (m *Mailer) QueueKeyRecovered(tx lanyard.Tx, to []string, owner *lanyard.User, k *lanyard.ArchivedKey, by string) (int64, error) {
	msg, err := m.queueIn(tx, KindKeyRecovered, to, Data{User: userData(owner), Template: k.Template, By: by, Comment: k.CertificateSerial}, nil)
	if err != nil {
		return 0, err
	}
	return msg.ID, nil
}
