package web

import (
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
)

// keyRecoveryRoutes let an owner list their archived keys and recover one
// as a password-protected PKCS #12 file (docs/lifecycle.md, "Key
// archival"). The file is answered once, never cached.
func (s *Server) keyRecoveryRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/me/archived-keys", summary: "The caller's archived keys of a template, newest first; never the keys", tag: "pki",
			query: []param{{"template", "string", "the template whose archived keys to list (required)"}},
			out:   []apiv1.ArchivedKey{}, status: 200,
			h: func(c *call) (any, error) {
				ks, err := s.archive.OwnKeys(c.r.Context(), c.p, c.r.URL.Query().Get("template"))
				if err != nil {
					return nil, err
				}
				out := make([]apiv1.ArchivedKey, len(ks))
				for i, k := range ks {
					out[i] = archivedKey(k)
				}
				return out, nil
			}},
		{method: "POST", path: v1 + "/me/archived-keys/{id}/recover", summary: "Recover one of the caller's active archived keys as a PKCS #12 file (key, certificate, CA chain) encrypted with the password given; needs the caller's account password and a current authenticator code. Answered once, not cached", tag: "pki",
			in: &apiv1.KeyRecoverInput{}, produces: "application/x-pkcs12", status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.KeyRecoverInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				rec, err := s.archive.RecoverOwn(c.r.Context(), c.p, archive.RecoverInput{KeyID: id, Password: in.Password, AccountPassword: in.AccountPassword, Code: in.Code})
				if err != nil {
					return nil, err
				}
				c.download("application/x-pkcs12", rec.Key.Template+"-"+strconv.FormatInt(rec.Key.ID, 10)+".p12", rec.PFX)
				return nil, nil
			}},
	}
}

func archivedKey(k *lanyard.ArchivedKey) apiv1.ArchivedKey {
	return apiv1.ArchivedKey{ID: k.ID, CardID: k.CardID, Template: k.Template, KeyAlgorithm: string(k.Algorithm),
		CertificateSerial: k.CertificateSerial, State: string(k.State), CreatedAt: k.CreatedAt}
}
