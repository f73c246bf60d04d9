package tpmkeys

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// ATR and PlatformATR are the Answers To Reset of the two TPM-backed card
// kinds, by which the server's card types tell them from other cards: the
// TPM virtual smart card and the platform credential.
var (
	ATR         = pivspec.ATRWithIssuerData("LanyardTPM")
	PlatformATR = pivspec.ATRWithIssuerData("LanyardPC")
)

// ErrForeignBlob: a blob does not load under this TPM's storage root key.
// It was made by another TPM, or this TPM's owner hierarchy was cleared
// (TPM2_Clear makes a new storage seed).
var ErrForeignBlob = errors.New("tpmkeys: the blob was not made by this TPM (another TPM, or its storage hierarchy was cleared since)")

// errRSAOnly is the error for every key that is not RSA 2048 or 3072.
var errRSAOnly = fmt.Errorf("tpmkeys: a TPM virtual smart card holds RSA keys only (RSA 2048, and RSA 3072 where the TPM supports it): %w", emu.ErrNotSupported)

// Store is an emu.KeyStore and emu.PINGuard whose keys, PIN and PUK are
// TPM objects under the storage root key (see the package documentation).
// It is safe for concurrent use; the TPM commands of one operation run
// under its lock.
type Store struct {
	mu     sync.Mutex
	tpm    transport.TPM
	srk    tpm2.NamedHandle
	srkPub tpm2.TPMTPublic
	closed bool
}

// New creates the storage root key in the TPM's owner hierarchy and
// returns a Store that keeps it loaded until Close. The SRK is the TCG's
// standard ECC P-256 SRK (TCG TPM v2.0 Provisioning Guidance, 7.5.1):
// derived from the storage seed, so it is the same key after every
// restart for as long as the owner hierarchy is not cleared, and any
// program making the standard SRK gets the same one. ECC because
// creating it is fast (an RSA primary key costs a prime search on every
// start) and every PC Client TPM has P-256. The owner authorization must
// be empty, as Linux leaves it.
//
// t is used by this Store alone while an operation runs; on a TPM without
// a resource manager (the simulator, swtpm: 3 object slots) use one Store
// per TPM, since each keeps its SRK loaded and needs two slots more.
func New(t transport.TPM) (*Store, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("tpmkeys: creating the storage root key (TPM2_CreatePrimary under the owner hierarchy): %w", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(t)
		return nil, fmt.Errorf("tpmkeys: storage root key: %w", err)
	}
	return &Store{
		tpm:    t,
		srk:    tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		srkPub: *pub,
	}, nil
}

// Close flushes the storage root key. The TPM stays open.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	_, err := tpm2.FlushContext{FlushHandle: s.srk.Handle}.Execute(s.tpm)
	return err
}

// lock takes the store's lock for one operation.
func (s *Store) lock() (func(), error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("tpmkeys: store closed")
	}
	return s.mu.Unlock, nil
}

// authSession is a one-use HMAC session that proves knowledge of auth
// without sending it (TPM 2.0 Library Part 1, "HMAC Computation"), salted with the SRK
// so that the session key, and so the HMAC, are unknown to anyone
// watching the TPM's bus: an unsalted HMAC of a 6-digit PIN could be
// searched offline. encrypt also encrypts the command's first parameter
// (Part 1, "Session-based Encryption": a new authorization value, a sealed object's sensitive
// area).
func (s *Store) authSession(auth []byte, encrypt bool) tpm2.Session {
	opts := []tpm2.AuthOption{tpm2.Auth(auth), tpm2.Salted(s.srk.Handle, s.srkPub)}
	if encrypt {
		opts = append(opts, tpm2.AESEncryption(128, tpm2.EncryptIn))
	}
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, opts...)
}

// parent is the SRK as the parent of a command, authorized with its empty
// authorization; encrypt as for authSession.
func (s *Store) parent(encrypt bool) tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: s.srk.Handle, Name: s.srk.Name, Auth: s.authSession(nil, encrypt)}
}

// object is a TPM object as it is kept: its public and private areas.
type object struct {
	pub  tpm2.TPM2BPublic
	priv tpm2.TPM2BPrivate
}

// create makes an object under the SRK (TPM2_Create, Part 3, 12.1), with
// auth as its authorization value and data as the sealed data of a sealed
// object; the sensitive area travels encrypted.
func (s *Store) create(tmpl tpm2.TPMTPublic, auth, data []byte) (object, error) {
	sens := tpm2.TPMSSensitiveCreate{UserAuth: tpm2.TPM2BAuth{Buffer: auth}}
	if data != nil {
		sens.Data = tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: data})
	}
	rsp, err := tpm2.Create{
		ParentHandle: s.parent(true),
		InSensitive:  tpm2.TPM2BSensitiveCreate{Sensitive: &sens},
		InPublic:     tpm2.New2B(tmpl),
	}.Execute(s.tpm)
	if err != nil {
		return object{}, err
	}
	return object{pub: rsp.OutPublic, priv: rsp.OutPrivate}, nil
}

// load loads o under the SRK (TPM2_Load, Part 3, 12.2); the caller
// flushes it. A blob of another TPM fails its integrity check here.
func (s *Store) load(o object) (tpm2.NamedHandle, error) {
	rsp, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: s.srk.Handle, Name: s.srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    o.priv,
		InPublic:     o.pub,
	}.Execute(s.tpm)
	if err != nil {
		var rc tpm2.TPMRC
		if errors.As(err, &rc) && !rc.IsWarning() {
			return tpm2.NamedHandle{}, fmt.Errorf("%w: TPM2_Load: %w", ErrForeignBlob, err)
		}
		return tpm2.NamedHandle{}, fmt.Errorf("tpmkeys: TPM2_Load: %w", err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, nil
}

// flush unloads a transient object or session (TPM2_FlushContext, Part 3,
// 28.4); the TPM has only a few slots.
func (s *Store) flush(h tpm2.TPMHandle) {
	tpm2.FlushContext{FlushHandle: h}.Execute(s.tpm)
}

// authError sorts a TPM error of an authorization with the PIN or PUK
// (what) for the card: TPM_RC_AUTH_FAIL (a wrong value, counted by the
// TPM's dictionary-attack protection) and TPM_RC_BAD_AUTH match
// emu.ErrWrongReference, TPM_RC_LOCKOUT emu.ErrLockedOut.
func authError(err error, what string) error {
	switch {
	case errors.Is(err, tpm2.TPMRCAuthFail), errors.Is(err, tpm2.TPMRCBadAuth):
		return fmt.Errorf("tpmkeys: the TPM refused the %s: %w (%w)", what, emu.ErrWrongReference, err)
	case errors.Is(err, tpm2.TPMRCLockout):
		return fmt.Errorf("tpmkeys: the TPM is in dictionary-attack lockout and checks no %s until it recovers: %w (%w)", what, emu.ErrLockedOut, err)
	}
	return fmt.Errorf("tpmkeys: checking the %s: %w", what, err)
}
