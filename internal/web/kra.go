package web

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
)

// KeyArchive is what the web layer asks of key archival
// (internal/service/archive): the key-recovery key's versions and its
// rotation. Administrators only; the service checks it again.
type KeyArchive interface {
	KRAStatus(ctx context.Context, p *lanyard.Principal) ([]archive.KRAVersion, error)
	RotateKRA(ctx context.Context, p *lanyard.Principal) (int, error)
	// Recovery by the owner (keyrecovery.go).
	OwnKeys(ctx context.Context, p *lanyard.Principal, template string) ([]*lanyard.ArchivedKey, error)
	RecoverOwn(ctx context.Context, p *lanyard.Principal, in archive.RecoverInput) (*archive.Recovered, error)
	// Recovery for someone else under dual control (keyrecovery.go).
	RequestRecovery(ctx context.Context, p *lanyard.Principal, keyID int64, reason string) (*lanyard.KeyRecoveryRequest, error)
	DecideRecovery(ctx context.Context, p *lanyard.Principal, id int64, approve bool, comment string) (*lanyard.KeyRecoveryRequest, error)
	DownloadRecovery(ctx context.Context, p *lanyard.Principal, id int64, in archive.RecoverInput) (*archive.Recovered, error)
	RecoveryRequests(ctx context.Context, p *lanyard.Principal, state lanyard.KeyRecoveryState) ([]*lanyard.KeyRecoveryRequest, error)
	// Staff pick another user's key to request its recovery (keyrecovery.go).
	UserKeys(ctx context.Context, p *lanyard.Principal, login string) ([]*lanyard.ArchivedKey, error)
	Logins(ctx context.Context, ids []int64) (map[int64]string, error)
}

// kraRoutes are the key-recovery key's settings (docs/security.md, "Key
// recovery key").
func (s *Server) kraRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/settings/kra", summary: "The key recovery key's versions, newest (current) first, with the number of archived keys each seals; never the key", tag: "settings", roles: admins,
			out: []apiv1.KRAVersion{}, status: 200,
			h: func(c *call) (any, error) {
				vs, err := s.archive.KRAStatus(c.r.Context(), c.p)
				if err != nil {
					return nil, err
				}
				out := make([]apiv1.KRAVersion, len(vs))
				for i, v := range vs {
					out[i] = apiv1.KRAVersion{Version: v.Version, CreatedAt: v.CreatedAt, Current: i == 0, ArchivedKeys: v.ArchivedKeys}
				}
				return out, nil
			}},
		{method: "POST", path: v1 + "/settings/kra/rotate", summary: "Rotate the key recovery key: a new version seals the keys archived from now on; earlier versions are kept and still open the keys they sealed", tag: "settings", roles: admins,
			out: &apiv1.KRARotation{}, status: 200,
			h: func(c *call) (any, error) {
				v, err := s.archive.RotateKRA(c.r.Context(), c.p)
				if err != nil {
					return nil, err
				}
				return &apiv1.KRARotation{Version: v}, nil
			}},
	}
}
