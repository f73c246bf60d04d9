package workstations

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// StartPairing records a pending workstation for an agent's pairing
// request and returns it (its ID and PairingExpiresAt are what the agent
// learns). It is called by the agent listener, before anyone is
// authenticated: nothing is issued until a person confirms the code that
// both sides compute (agentproto.PairingCode). The same key asking again
// (an agent restarted, or its code expired) renews its pending record
// rather than adding one.
func (s *Workstations) StartPairing(ctx context.Context, remote string, in lanyard.PairingRequest) (*lanyard.Workstation, error) {
	csr, err := ca.ParseCSR(in.CSR)
	if err != nil {
		return nil, err
	}
	k, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, lanyard.Errorf(lanyard.EKeyNotAllowed, "an agent key must be ECDSA P-256")
	}
	in.Hostname, in.AgentVersion = strings.TrimSpace(in.Hostname), strings.TrimSpace(in.AgentVersion)
	if in.Hostname == "" || len(in.Hostname) > 253 || len(in.AgentVersion) > 64 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "hostname (1-253 characters) and agent version (up to 64) are required")
	}
	role := lanyard.RoleWorkstation
	switch in.Role {
	case "", lanyard.RoleWorkstation:
	case lanyard.RoleAirCardService:
		role = lanyard.RoleAirCardService
	default:
		return nil, lanyard.Errorf(lanyard.EInvalid, "unknown agent role %q", in.Role)
	}
	root, err := s.AgentRoot(ctx)
	if err != nil {
		return nil, err
	}
	code := agentproto.PairingCode(csr.RawSubjectPublicKeyInfo, root.Raw)
	sum := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
	now := s.rec.Clock()
	w := &lanyard.Workstation{
		Name: in.Hostname, Status: lanyard.WorkstationPending, PublicKey: csr.RawSubjectPublicKeyInfo,
		KeySHA256: hex.EncodeToString(sum[:]), PairingCode: agentproto.HashPairingCode(code),
		TPM: in.TPM, AgentVersion: in.AgentVersion, CreatedAt: now, PairingExpiresAt: now.Add(PairingTTL), Role: role,
	}
	agent := &lanyard.Principal{User: &lanyard.User{Login: "agent"}, RemoteAddr: remote}
	err = s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		old, err := tx.WorkstationByPairingCode(w.PairingCode)
		switch {
		case err == nil:
			w.ID, w.CreatedAt = old.ID, old.CreatedAt
			err = tx.UpdateWorkstation(w)
		case lanyard.IsCode(err, lanyard.ENotFound):
			err = tx.CreateWorkstation(w)
		}
		if err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(agent, "workstation.pair_request", "workstation", strconv.FormatInt(w.ID, 10),
			map[string]any{"name": w.Name, "key_sha256": w.KeySHA256, "agent_version": w.AgentVersion, "tpm": w.TPM, "role": string(w.Role)}))
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// PairingStatus answers an agent's poll: proof is its signature over
// agentproto.ProofMessage(id, at) with the key it asked to pair.
func (s *Workstations) PairingStatus(ctx context.Context, id int64, at time.Time, proof []byte) (*lanyard.PairingOutcome, error) {
	var w *lanyard.Workstation
	var cert *lanyard.Certificate
	c, _, err := s.machineCA()
	if err != nil {
		return nil, err
	}
	err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if w, err = tx.WorkstationByID(id); err != nil {
			return err
		}
		if w.CertSerial != "" {
			cert, err = tx.CertificateBySerial(c.Name(), w.CertSerial)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := checkProof(w, at, proof, s.rec.Clock()); err != nil {
		return nil, err
	}
	switch {
	case w.Status == lanyard.WorkstationRevoked:
		return &lanyard.PairingOutcome{State: lanyard.PairingRevoked}, nil
	case w.Status == lanyard.WorkstationPending && s.rec.Clock().After(w.PairingExpiresAt):
		return &lanyard.PairingOutcome{State: lanyard.PairingExpired}, nil
	case w.Status == lanyard.WorkstationPending:
		return &lanyard.PairingOutcome{State: lanyard.PairingPending}, nil
	}
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	st := &lanyard.PairingOutcome{State: lanyard.PairingActive, Certificate: cert.DER}
	for _, ch := range chain {
		st.Chain = append(st.Chain, ch.Raw)
	}
	return st, nil
}

// checkProof verifies the agent's signature; every failure looks like a
// missing workstation, so that polling reveals nothing to others.
func checkProof(w *lanyard.Workstation, at time.Time, proof []byte, now time.Time) error {
	bad := lanyard.Errorf(lanyard.ENotFound, "workstation %d not found", w.ID)
	if d := now.Sub(at); d > agentproto.ProofWindow || d < -agentproto.ProofWindow {
		return lanyard.Errorf(lanyard.EInvalid, "the pairing proof is dated %s; check the workstation's clock", at.UTC().Format(time.RFC3339))
	}
	pub, err := x509.ParsePKIXPublicKey(w.PublicKey)
	if err != nil {
		return bad
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return bad
	}
	sum := sha256.Sum256(agentproto.ProofMessage(w.ID, at.Unix()))
	if !ecdsa.VerifyASN1(k, sum[:], proof) {
		return bad
	}
	return nil
}

// ConfirmPairing confirms the code an agent shows: the workstation's
// client certificate is issued, recorded and the workstation activated in
// one transaction with one audit event. Users confirm for themselves;
// operators and administrators may name an owner.
func (s *Workstations) ConfirmPairing(ctx context.Context, p *lanyard.Principal, in PairConfirm) (*lanyard.Workstation, error) {
	code, ok := agentproto.NormalizePairingCode(in.Code)
	if !ok {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a pairing code is 10 letters and digits 2-7, shown as XXXXX-XXXXX")
	}
	staff := p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator)
	if in.Owner != "" && in.Owner != p.User.Login && !staff {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only operators and administrators can pair a workstation for someone else")
	}
	if in.Owner == "" && !staff {
		in.Owner = p.User.Login
	}
	authority, signer, err := s.machineCA()
	if err != nil {
		return nil, err
	}
	hash := agentproto.HashPairingCode(code)
	var w *lanyard.Workstation
	var owner *lanyard.User
	err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if w, err = tx.WorkstationByPairingCode(hash); err != nil {
			return lanyard.Errorf(lanyard.ENotFound, "no workstation waits for pairing code %s; check the code the agent shows", code)
		}
		if in.Owner != "" {
			owner, err = tx.UserByLogin(in.Owner)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if w.Role == lanyard.RoleAirCardService {
		// An AirCard service hosts every user's AirCards: only an
		// administrator lets one in, and nobody owns it.
		if !p.Has(lanyard.RoleAdministrator) {
			return nil, lanyard.Errorf(lanyard.EForbidden, "pairing code %s belongs to an AirCard service; only an administrator can pair it", code)
		}
		owner = nil
	}
	if now := s.rec.Clock(); now.After(w.PairingExpiresAt) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "pairing code %s expired %s ago; the agent renews it by itself within a minute, or restart the agent",
			code, now.Sub(w.PairingExpiresAt).Round(time.Second))
	}
	if owner != nil && owner.Disabled {
		return nil, lanyard.Errorf(lanyard.EConflict, "user %q is disabled", owner.Login)
	}
	pub, err := x509.ParsePKIXPublicKey(w.PublicKey)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "stored agent key does not parse")
	}
	// Signed outside the transaction; if the transaction fails the
	// certificate is discarded and never leaves the server.
	cert, err := signer.SignMachine(ctx, &ca.MachineRequest{
		PublicKey: pub, CommonName: WorkstationCommonName(w.ID), Usage: x509.ExtKeyUsageClientAuth, Validity: WorkstationCertValidity,
	})
	if err != nil {
		return nil, err
	}
	now := s.rec.Clock()
	rec := machineCertRecord(cert, authority.Name(), workstationTemplate, now)
	err = s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		cur, err := tx.WorkstationByID(w.ID)
		if err != nil {
			return err
		}
		if cur.Status != lanyard.WorkstationPending || cur.PairingCode != hash {
			return lanyard.Errorf(lanyard.EConflict, "workstation %d was paired or revoked meanwhile", w.ID)
		}
		if owner != nil {
			cur.OwnerID, rec.UserID = owner.ID, owner.ID
		}
		if err := tx.CreateCertificate(rec); err != nil {
			return err
		}
		cur.Status, cur.CertSerial, cur.PairingCode, cur.PairingExpiresAt, cur.PairedAt = lanyard.WorkstationActive, rec.Serial, "", time.Time{}, now
		if err := tx.UpdateWorkstation(cur); err != nil {
			return err
		}
		if err := lanyard.NotifyIDs(tx, lanyard.NoticePairing, cur.ID); err != nil {
			return err
		}
		w = cur
		details := map[string]any{"name": cur.Name, "serial": rec.Serial, "key_sha256": cur.KeySHA256}
		if owner != nil {
			details["owner"] = owner.Login
		}
		return tx.AppendAudit(s.rec.Event(p, "workstation.pair", "workstation", strconv.FormatInt(cur.ID, 10), details))
	})
	if err != nil {
		return nil, err
	}
	s.pairingSettled(w.ID)
	return w, nil
}

// machineCertRecord describes a machine certificate for the store.
func machineCertRecord(cert *x509.Certificate, caName, kind string, now time.Time) *lanyard.Certificate {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return &lanyard.Certificate{
		Serial: cert.SerialNumber.Text(16), CA: caName, Template: kind, // as the store keys serials: lower-case hex
		Subject: cert.Subject.String(), NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(),
		Status: lanyard.CertValid, Source: lanyard.SourceManaged, KeySHA256: hex.EncodeToString(sum[:]),
		DER: cert.Raw, CreatedAt: now, UpdatedAt: now,
	}
}
