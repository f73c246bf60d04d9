package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// notificationRoutes serve the administration of e-mail notifications:
// SMTP settings (the password is write-only), templates, a test e-mail
// and the outbox.
func (s *Server) notificationRoutes(v1 string) []*route {
	p := v1 + "/notifications"
	return []*route{
		{method: "GET", path: p + "/settings", summary: "SMTP settings (the password is never returned)", tag: "notifications", roles: admins, out: &apiv1.MailSettings{}, status: 200,
			h: func(c *call) (any, error) {
				n, err := s.notifications()
				if err != nil {
					return nil, err
				}
				return n.MailSettings(c.r.Context())
			}},
		{method: "PUT", path: p + "/settings", summary: "Replace the SMTP settings (an empty password keeps the stored one)", tag: "notifications", roles: admins,
			in: apiv1.MailSettingsInput{}, out: &apiv1.MailSettings{}, status: 200,
			h: func(c *call) (any, error) {
				n, err := s.notifications()
				if err != nil {
					return nil, err
				}
				var in apiv1.MailSettingsInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return n.PutMailSettings(c.r.Context(), c.p, in)
			}},
		{method: "GET", path: p + "/templates", summary: "The e-mail template of each notification kind", tag: "notifications", roles: admins, out: []*apiv1.MailTemplate{}, status: 200,
			h: func(c *call) (any, error) {
				n, err := s.notifications()
				if err != nil {
					return nil, err
				}
				return n.MailTemplates(c.r.Context())
			}},
		{method: "PUT", path: p + "/templates/{kind}", summary: "Replace a notification kind's template (checked first; empty restores the default)", tag: "notifications", roles: admins,
			in: apiv1.MailTemplateInput{}, out: &apiv1.MailTemplate{}, status: 200,
			h: func(c *call) (any, error) {
				n, err := s.notifications()
				if err != nil {
					return nil, err
				}
				var in apiv1.MailTemplateInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return n.PutMailTemplate(c.r.Context(), c.p, c.r.PathValue("kind"), in)
			}},
		{method: "POST", path: p + "/test", summary: "Queue a test e-mail to an address", tag: "notifications", roles: admins,
			in: apiv1.TestMailInput{}, out: &lanyard.MailMessage{}, status: 202,
			h: func(c *call) (any, error) {
				n, err := s.notifications()
				if err != nil {
					return nil, err
				}
				var in apiv1.TestMailInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return n.SendTestMail(c.r.Context(), c.p, in.To)
			}},
		{method: "GET", path: p + "/outbox", summary: "The e-mail outbox, newest first (bodies are never shown)", tag: "notifications", roles: admins, out: []*lanyard.MailMessage{}, status: 200,
			query: []param{{"state", "string", "queued, sending, sent or failed"}, {"limit", "integer", "at most this many (max 1000)"}, {"offset", "integer", "skip this many"}},
			h: func(c *call) (any, error) {
				n, err := s.notifications()
				if err != nil {
					return nil, err
				}
				limit, offset, err := c.page()
				if err != nil {
					return nil, err
				}
				return n.ListMail(c.r.Context(), lanyard.MailFilter{State: lanyard.MailState(c.r.URL.Query().Get("state")), Limit: limit, Offset: offset})
			}},
		{method: "POST", path: p + "/outbox/{id}/retry", summary: "Queue a failed message again with fresh attempts", tag: "notifications", roles: admins,
			out: &lanyard.MailMessage{}, status: 200,
			h: func(c *call) (any, error) {
				n, err := s.notifications()
				if err != nil {
					return nil, err
				}
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				return n.RetryMail(c.r.Context(), c.p, id)
			}},
	}
}

// notifications is the configured administration, or the error every
// route answers on a server without e-mail notifications.
func (s *Server) notifications() (Notifications, error) {
	if s.notify == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "e-mail notifications are not available on this server")
	}
	return s.notify, nil
}
