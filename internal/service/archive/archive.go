// Package archive is the capability that archives the private keys of
// encryption (key-management) certificates so that they can be recovered
// (docs/lifecycle.md, "Key archival"; docs/security.md, "Key recovery
// key").
//
// For a template with archive key (lanyard.Template.KeyArchival) the key
// pair is generated here, on the server, never on a workstation or card;
// the private key is sealed under the current version of the key-recovery
// (KRA) key and stored (lanyard.ArchivedKey) before it goes anywhere. The
// KRA key is a random AES-256 key of its own, versioned and rotatable,
// itself sealed under the master key like every other secret at rest, and
// kept apart from the CA keys and the card admin master secrets: its own
// table (kra_keys), its own associated data. It only seals and opens
// archived keys: it never signs anything and no operation returns it.
package archive

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// Config holds the archive's dependencies; all are required.
type Config struct {
	Store lanyard.Store
	// Sealer is the master key's sealer; it seals the KRA key versions
	// (never an archived key directly).
	Sealer seal.Sealer
	Now    func() time.Time
	// Rand draws the KRA key versions.
	Rand io.Reader
	// CAs give recovered PKCS #12 files their chain (optional).
	CAs []ca.CA
	// SecondFactor is the step-up recovery asks for; without it recovery
	// is unavailable.
	SecondFactor SecondFactor
	// Notifier tells owners their key was recovered (optional).
	Notifier Notifier
	// RecoveryTTL is how long a key recovery request for someone else's
	// key waits for its decision before it expires (0:
	// DefaultRecoveryTTL).
	RecoveryTTL time.Duration
}

// Archive implements key archival.
type Archive struct {
	rec          lanyard.Recorder
	sealer       seal.Sealer
	rand         io.Reader
	cas          map[string]ca.CA
	secondFactor SecondFactor
	notifier     Notifier
	recoveryTTL  time.Duration
}

// New checks cfg and returns an Archive.
func New(cfg Config) (*Archive, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Now == nil || cfg.Rand == nil {
		return nil, errors.New("archive: Store, Sealer, Now and Rand are required")
	}
	a := &Archive{rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, sealer: cfg.Sealer, rand: cfg.Rand, cas: map[string]ca.CA{},
		secondFactor: cfg.SecondFactor, notifier: cfg.Notifier, recoveryTTL: cfg.RecoveryTTL}
	if a.recoveryTTL <= 0 {
		a.recoveryTTL = DefaultRecoveryTTL
	}
	for _, c := range cfg.CAs {
		a.cas[c.Name()] = c
	}
	return a, nil
}

// kraKeySize is the KRA key length: AES-256 (seal.KeySize).
const kraKeySize = seal.KeySize

// kraAAD binds a sealed KRA key to its version, so that one version's
// sealed value put in another's row fails to open; the "kra-key" label
// keeps it apart from every other value the master key seals (CA keys
// "ca-key:…", card admin master secrets "card-admin-master:…").
func kraAAD(version int) []byte { return []byte("kra-key:" + strconv.Itoa(version)) }

// EnsureKRA creates version 1 of the KRA key when there is none. Racing
// replicas are harmless: the loser's insert conflicts, and it finds the
// winner's version.
func (a *Archive) EnsureKRA(ctx context.Context) error {
	err := a.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		_, err := tx.CurrentKRAKey()
		if err == nil || !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		return a.createKRA(tx, lanyard.SystemPrincipal, 1, "kra.create")
	})
	if lanyard.IsCode(err, lanyard.EConflict) {
		return nil
	}
	return err
}

// RotateKRA makes a new version of the KRA key current (administrators
// only) and returns it. Keys archived from then on are sealed under it;
// keys archived before stay sealed under their version, which is kept, so
// they still open. Rotation limits what one version protects; it does not
// re-seal existing keys.
func (a *Archive) RotateKRA(ctx context.Context, p *lanyard.Principal) (int, error) {
	if !p.Has(lanyard.RoleAdministrator) {
		return 0, lanyard.Errorf(lanyard.EForbidden, "only an administrator rotates the key recovery key")
	}
	var version int
	err := a.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		cur, err := tx.CurrentKRAKey()
		switch {
		case err == nil:
			version = cur.Version + 1
		case lanyard.IsCode(err, lanyard.ENotFound):
			version = 1
		default:
			return err
		}
		return a.createKRA(tx, p, version, "kra.rotate")
	})
	if err != nil {
		return 0, err
	}
	return version, nil
}

// KRAStatus says which KRA key version is current, when it was made and
// how many archived keys each version holds, newest first (for the admin
// settings and `lanyard kra status`). It never returns key material.
func (a *Archive) KRAStatus(ctx context.Context, p *lanyard.Principal) ([]KRAVersion, error) {
	if !p.Has(lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only an administrator sees the key recovery key")
	}
	var out []KRAVersion
	err := a.rec.View(ctx, func(tx lanyard.Tx) error {
		cur, err := tx.CurrentKRAKey()
		if err != nil {
			return err
		}
		for v := cur.Version; v >= 1; v-- {
			k, err := tx.KRAKey(v)
			if err != nil {
				return err
			}
			n, err := tx.CountArchivedKeysUnder(v)
			if err != nil {
				return err
			}
			out = append(out, KRAVersion{Version: v, CreatedAt: k.CreatedAt, ArchivedKeys: n})
		}
		return nil
	})
	return out, err
}

// KRAVersion describes one version of the KRA key.
type KRAVersion struct {
	Version      int       `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	ArchivedKeys int       `json:"archived_keys"`
}

// createKRA draws version's key, seals it under the master key and
// records it with its event (kra.create or kra.rotate).
func (a *Archive) createKRA(tx lanyard.Tx, p *lanyard.Principal, version int, action string) error {
	secret := make([]byte, kraKeySize)
	if _, err := io.ReadFull(a.rand, secret); err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "no randomness for the key recovery key")
	}
	defer clear(secret)
	sealed, err := a.sealer.Seal(secret, kraAAD(version))
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "sealing the key recovery key failed")
	}
	if err := tx.CreateKRAKey(&lanyard.KRAKey{Version: version, SealedKey: sealed, CreatedAt: a.rec.Clock()}); err != nil {
		return err
	}
	return tx.AppendAudit(a.rec.Event(p, action, "kra_key", strconv.Itoa(version), map[string]any{"version": version}))
}

// kraSealer opens KRA key version and returns a sealer over it. The
// sealed values it makes carry the KRA key's own identifier (seal.New),
// so a value sealed under another version is reported as such.
func (a *Archive) kraSealer(tx lanyard.Tx, version int) (seal.Sealer, error) {
	k, err := tx.KRAKey(version)
	if err != nil {
		return nil, err
	}
	secret, err := a.sealer.Open(k.SealedKey, kraAAD(version))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, fmt.Sprintf("key recovery key version %d does not open (another master key?)", version))
	}
	defer clear(secret)
	s, err := seal.New(secret)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "key recovery key")
	}
	return s, nil
}

// keyAAD binds a sealed archived key to its owner, card, template,
// certificate serial and public key: a sealed value copied into another
// row, or a row edited to point at another owner or certificate, fails to
// open. Template names and serials hold no NUL (lanyard.Template.Validate,
// hex serials), so the fields cannot run into one another.
func keyAAD(k *lanyard.ArchivedKey) []byte {
	pub := sha256.Sum256(k.PublicKey)
	return fmt.Appendf(nil, "archived-key\x00%d\x00%d\x00%s\x00%s\x00%x", k.OwnerID, k.CardID, k.Template, k.CertificateSerial, pub)
}
