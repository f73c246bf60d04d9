package piv

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// maxCertificate caps a decompressed certificate; no PIV certificate
// object comes close.
const maxCertificate = 32 << 10

// PutCertificate stores cert in slot's certificate object (PUT DATA, SP
// 800-73-4 Part 2 3.3.1) as 53 { 70 cert, 71 00, FE 00 }, uncompressed.
// It does not check that cert matches the slot's key.
func (a *Admin) PutCertificate(ctx context.Context, slot Slot, cert *x509.Certificate) error {
	if err := checkSlot("PUT DATA", slot); err != nil {
		return err
	}
	if cert == nil || len(cert.Raw) == 0 {
		return errors.New("piv: PutCertificate without a certificate")
	}
	v := apdu.AppendTLV(nil, pivspec.TagCertificate, cert.Raw)
	v = apdu.AppendTLV(v, pivspec.TagCertInfo, []byte{0x00})
	v = apdu.AppendTLV(v, pivspec.TagErrorDetect, nil)
	return a.WriteObject(ctx, slot.Object(), v)
}

// DeleteCertificate empties slot's certificate object (PUT DATA with an
// empty 53). The key stays in the slot.
func (a *Admin) DeleteCertificate(ctx context.Context, slot Slot) error {
	if err := checkSlot("PUT DATA", slot); err != nil {
		return err
	}
	return a.WriteObject(ctx, slot.Object(), nil)
}

// Certificate reads the certificate of slot (GET DATA, SP 800-73-4 Part 2
// 3.1.2). An empty slot is ErrNotFound. Certificates that YubiKey tools
// stored gzip-compressed (CertInfo 01) are decompressed.
func (c *Card) Certificate(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	if err := checkSlot("GET DATA", slot); err != nil {
		return nil, err
	}
	v, err := c.ReadObject(ctx, slot.Object())
	if err != nil {
		return nil, err
	}
	cert, err := parseCertificateObject(v)
	if err != nil {
		return nil, fmt.Errorf("piv: certificate in slot %s: %w", slot, err)
	}
	return cert, nil
}

// SlotCertificate is a certificate and the slot it was read from.
type SlotCertificate struct {
	Slot        Slot
	Certificate *x509.Certificate
}

// Certificates reads the certificate objects of every key slot, 9A, 9C, 9D,
// 9E and the retired slots 82 to 95, and returns those that hold a
// certificate, in that order; it is how tracked certificates are
// discovered on a card. Objects that do not parse are left out and
// reported in the error, next to what was read; a card error (removal,
// ctx ending) stops the scan and returns the error with what was read so
// far.
func (c *Card) Certificates(ctx context.Context) ([]SlotCertificate, error) {
	var found []SlotCertificate
	var bad []error
	for _, slot := range pivspec.CertificateSlots() {
		cert, err := c.Certificate(ctx, slot)
		switch {
		case err == nil:
			found = append(found, SlotCertificate{Slot: slot, Certificate: cert})
		case errors.Is(err, ErrNotFound):
		case errors.Is(err, apdu.ErrMalformed), errors.Is(err, errBadCertificate):
			bad = append(bad, err)
		default:
			return found, err
		}
	}
	return found, errors.Join(bad...)
}

// errBadCertificate marks certificate objects whose contents do not parse.
var errBadCertificate = errors.New("bad certificate object")

// parseCertificateObject decodes the contents of a certificate object.
func parseCertificateObject(v []byte) (*x509.Certificate, error) {
	tlvs, err := apdu.ParseTLVs(v)
	if err != nil {
		return nil, err
	}
	der, ok := apdu.Find(tlvs, pivspec.TagCertificate)
	if !ok || len(der.Value) == 0 {
		return nil, fmt.Errorf("%w: no certificate (70)", errBadCertificate)
	}
	raw := der.Value
	if info, ok := apdu.Find(tlvs, pivspec.TagCertInfo); ok && len(info.Value) == 1 && info.Value[0]&0x01 != 0 {
		if raw, err = gunzip(raw); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadCertificate, err)
		}
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadCertificate, err)
	}
	return cert, nil
}

// gunzip decompresses at most maxCertificate bytes.
func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, maxCertificate+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxCertificate {
		return nil, fmt.Errorf("compressed certificate is larger than %d bytes", maxCertificate)
	}
	return out, nil
}
