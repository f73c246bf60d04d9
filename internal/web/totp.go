package web

import "github.com/lanyard-cms/lanyard/internal/apiv1"

// totpRoutes are the authenticator app (TOTP second factor) routes: the
// caller's own under /me/totp, and staff's reset of another user's.
// Answers that carry the secret or its QR code are never cached.
func (s *Server) totpRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/me/totp", summary: "Whether the caller has an authenticator app (TOTP second factor), and whether it is confirmed", tag: "authenticator", roles: anyone, out: &apiv1.TOTPInfo{}, status: 200,
			h: func(c *call) (any, error) { return totpInfo(s.identity.TOTPStatus(c.r.Context(), c.p, c.p.User.Login)) }},
		{method: "POST", path: v1 + "/me/totp", summary: "Start enrolling an authenticator app: a new secret as otpauth URL, base32 and QR code PNG; replaces an unconfirmed enrollment, refused while a confirmed one exists", tag: "authenticator", roles: anyone, out: &apiv1.TOTPSetup{}, status: 201,
			h: func(c *call) (any, error) {
				c.w.Header().Set("Cache-Control", "no-store")
				return totpSetup(s.identity.BeginTOTPEnrollment(c.r.Context(), c.p))
			}},
		{method: "GET", path: v1 + "/me/totp/setup", summary: "The unconfirmed enrollment's setup again (otpauth URL, base32 secret, QR code); a confirmed secret is never shown again", tag: "authenticator", roles: anyone, out: &apiv1.TOTPSetup{}, status: 200,
			h: func(c *call) (any, error) {
				c.w.Header().Set("Cache-Control", "no-store")
				return totpSetup(s.identity.PendingTOTPSetup(c.r.Context(), c.p))
			}},
		{method: "GET", path: v1 + "/me/totp/qr.png", summary: "The unconfirmed enrollment's QR code as PNG (for the Self-Service page's image)", tag: "authenticator", roles: anyone, produces: "image/png", status: 200,
			h: func(c *call) (any, error) {
				setup, err := s.identity.PendingTOTPSetup(c.r.Context(), c.p)
				if err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store")
				c.w.Header().Set("X-Content-Type-Options", "nosniff")
				c.raw("image/png", setup.QRPNG)
				return nil, nil
			}},
		{method: "POST", path: v1 + "/me/totp/confirm", summary: "Confirm the enrollment with a current code from the app; from then on it is the caller's second factor", tag: "authenticator", roles: anyone, in: apiv1.TOTPCode{}, out: &apiv1.TOTPInfo{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.TOTPCode
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return totpInfo(s.identity.ConfirmTOTP(c.r.Context(), c.p, in.Code))
			}},
		{method: "DELETE", path: v1 + "/me/totp", summary: "Remove the caller's authenticator app; a confirmed one needs a current code (a lost phone: ask an operator)", tag: "authenticator", roles: anyone, in: apiv1.TOTPCode{}, status: 204,
			h: func(c *call) (any, error) {
				var in apiv1.TOTPCode
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return nil, s.identity.RemoveTOTP(c.r.Context(), c.p, c.p.User.Login, in.Code)
			}},
		{method: "GET", path: v1 + "/users/{login}/totp", summary: "Whether a user has an authenticator app (the user and staff)", tag: "authenticator", roles: anyone, out: &apiv1.TOTPInfo{}, status: 200,
			h: func(c *call) (any, error) {
				return totpInfo(s.identity.TOTPStatus(c.r.Context(), c.p, c.r.PathValue("login")))
			}},
		{method: "DELETE", path: v1 + "/users/{login}/totp", summary: "Reset a user's authenticator app (a lost phone): operators reset plain users', administrators anyone's; the user enrolls again", tag: "authenticator", roles: staff, status: 204,
			h: func(c *call) (any, error) {
				return nil, s.identity.ResetTOTP(c.r.Context(), c.p, c.r.PathValue("login"))
			}},
	}
}
