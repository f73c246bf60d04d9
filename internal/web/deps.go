package web

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The web server's dependencies, declared here where they are consumed
// (issue 15, step 10): each is only the methods the handlers call.

// Notifications is the administration of e-mail notifications
// (internal/notify implements it; the web layer serves it to
// administrators): SMTP settings, the editable templates, a test e-mail
// and the outbox. Role checks happen at the edge; p attributes the audit
// event of each change.
type Notifications interface {
	MailSettings(ctx context.Context) (*apiv1.MailSettings, error)
	PutMailSettings(ctx context.Context, p *lanyard.Principal, in apiv1.MailSettingsInput) (*apiv1.MailSettings, error)
	MailTemplates(ctx context.Context) ([]*apiv1.MailTemplate, error)
	// PutMailTemplate replaces the template of one kind after parsing and
	// trying it on sample data; an empty input restores the default.
	PutMailTemplate(ctx context.Context, p *lanyard.Principal, kind string, in apiv1.MailTemplateInput) (*apiv1.MailTemplate, error)
	// SendTestMail queues the test e-mail to one address.
	SendTestMail(ctx context.Context, p *lanyard.Principal, to string) (*lanyard.MailMessage, error)
	ListMail(ctx context.Context, f lanyard.MailFilter) ([]*lanyard.MailMessage, error)
	// RetryMail queues a failed message again with fresh attempts.
	RetryMail(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.MailMessage, error)
}
