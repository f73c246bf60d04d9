package piv

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Admin is a Card whose management key has been authenticated, and the
// only way to call the operations that personalise a card (writing objects
// and certificates, generating and importing keys, changing the management
// key, setting retry counters). Only Authenticate makes one; the zero
// Admin refuses every operation. Card returns the Card for the others.
//
// The card's authenticated state is volatile: a SELECT, a reset or a
// removal ends it, and the card then refuses Admin's operations with
// ErrSecurityStatus until Authenticate runs again.
type Admin struct {
	c *Card
}

// Card returns the card a was authenticated on, nil for the zero Admin.
func (a *Admin) Card() *Card {
	if a == nil {
		return nil
	}
	return a.c
}

// errNoAdmin is the error of an Admin that Authenticate did not return.
var errNoAdmin = errors.New("piv: Admin was not returned by Card.Authenticate")

// card returns the card, or errNoAdmin.
func (a *Admin) card() (*Card, error) {
	if a == nil || a.c == nil {
		return nil, errNoAdmin
	}
	return a.c, nil
}

// do is Card.do for an authenticated card.
func (a *Admin) do(ctx context.Context, op string, cmd apdu.Command) ([]byte, error) {
	c, err := a.card()
	if err != nil {
		return nil, err
	}
	return c.do(ctx, op, cmd)
}

// Authenticate proves knowledge of the management key (key reference 9B)
// by mutual authentication with GENERAL AUTHENTICATE (SP 800-73-4 Part 2
// 3.2.4 and appendix A.1):
//
//  1. 7C 02 80 00 asks the card for a witness; it answers 7C { 80 W }, W a
//     random block encrypted under the key;
//  2. we send 7C { 80 D(W), 81 C }, the decrypted witness and a random
//     challenge C of one block; the card checks D(W) and answers
//     7C { 82 E(C) };
//  3. we check E(C), so a card that does not hold the key (a counterfeit
//     that accepts anything) fails with ErrCardAuthentication.
//
// alg is the card's management key algorithm: 3DES (03), AES-128 (08),
// AES-192 (0A) or AES-256 (0C). A wrong key, or an algorithm that is not
// the card's, fails with ErrManagementKey; an algorithm that is not one of
// these four, with ErrUnsupported before anything is sent.
func (c *Card) Authenticate(ctx context.Context, alg Algorithm, key []byte) (*Admin, error) {
	const op = "GENERAL AUTHENTICATE 9B"
	block, err := adminCipher(alg, key)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	n := block.BlockSize()

	// Step 1: request a witness.
	req := apdu.AppendTLV(nil, pivspec.TagDynamicAuth, apdu.AppendTLV(nil, pivspec.TagWitness, nil))
	resp, err := c.client.Do(ctx, apdu.Command{INS: pivspec.InsGeneralAuth, P1: byte(alg), P2: byte(pivspec.KeyAdmin), Data: req, Le: apdu.MaxShortLe})
	if err != nil {
		return nil, adminAuthError(op, alg, err)
	}
	witness, err := dynamicAuthValue(resp, pivspec.TagWitness)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: witness: %w", op, err)
	}
	if len(witness) != n {
		return nil, fmt.Errorf("piv: %s: %w witness of %d bytes, want one %s block of %d", op, apdu.ErrMalformed, len(witness), alg, n)
	}

	// Step 2: return the decrypted witness with our challenge.
	decrypted := make([]byte, n)
	block.Decrypt(decrypted, witness)
	challenge, err := c.randomBytes(n)
	if err != nil {
		return nil, err
	}
	inner := apdu.AppendTLV(nil, pivspec.TagWitness, decrypted)
	inner = apdu.AppendTLV(inner, pivspec.TagChallenge, challenge)
	resp, err = c.client.Do(ctx, apdu.Command{INS: pivspec.InsGeneralAuth, P1: byte(alg), P2: byte(pivspec.KeyAdmin), Data: apdu.AppendTLV(nil, pivspec.TagDynamicAuth, inner), Le: apdu.MaxShortLe})
	if err != nil {
		return nil, adminAuthError(op, alg, err)
	}

	// Step 3: the card must have encrypted our challenge with the same key.
	got, err := dynamicAuthValue(resp, pivspec.TagResponse)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: response: %w", op, err)
	}
	want := make([]byte, n)
	block.Encrypt(want, challenge)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, fmt.Errorf("%w (%s)", ErrCardAuthentication, op)
	}
	return &Admin{c: c}, nil
}

// SetManagementKey replaces the management key with key of algorithm alg
// (vendor instruction SET MANAGEMENT KEY, INS FF, P2 FF: no touch
// required). The card keeps the current session authenticated. YubiKeys
// before 5.4 accept only 3DES.
func (a *Admin) SetManagementKey(ctx context.Context, alg Algorithm, key []byte) error {
	const op = "SET MANAGEMENT KEY"
	if _, err := adminCipher(alg, key); err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	data := append([]byte{byte(alg), byte(pivspec.KeyAdmin), byte(len(key))}, key...)
	_, err := a.do(ctx, op, apdu.Command{INS: pivspec.InsSetManagementKey, P1: 0xFF, P2: 0xFF, Data: data})
	return err
}

// adminCipher returns the block cipher of a management key after checking
// its algorithm (ErrUnsupported unless 3DES or AES) and length.
func adminCipher(alg Algorithm, key []byte) (cipher.Block, error) {
	n := alg.ManagementKeyLen()
	if n == 0 {
		return nil, fmt.Errorf("%w: management key algorithm %s", ErrUnsupported, alg)
	}
	if len(key) != n {
		return nil, fmt.Errorf("a %s management key is %d bytes, not %d", alg, n, len(key))
	}
	if alg == pivspec.Alg3DES {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

// adminAuthError classifies the card's refusal of a management key: 6982
// (security status, the witness was wrong) and 6A80/6A86 (the algorithm
// is not the key's) mean the key is wrong.
func adminAuthError(op string, alg Algorithm, err error) error {
	var se *apdu.StatusError
	if errors.As(err, &se) {
		switch se.SW {
		case apdu.SWSecurityStatusNotSatisfied, apdu.SWIncorrectData, apdu.SWIncorrectP1P2:
			return fmt.Errorf("%w (%s with a %s key): %w", ErrManagementKey, op, alg, se)
		}
	}
	return wrap(op, err)
}

// dynamicAuthValue returns the value of tag inside the dynamic
// authentication template 7C of a GENERAL AUTHENTICATE response (SP
// 800-73-4 Part 2 3.2.4, table 7).
func dynamicAuthValue(resp []byte, tag uint32) ([]byte, error) {
	v, err := apdu.Unwrap(resp, pivspec.TagDynamicAuth)
	if err != nil {
		return nil, err
	}
	tlvs, err := apdu.ParseTLVs(v)
	if err != nil {
		return nil, err
	}
	t, ok := apdu.Find(tlvs, tag)
	if !ok {
		return nil, fmt.Errorf("%w dynamic authentication template: no tag %X", apdu.ErrMalformed, tag)
	}
	return t.Value, nil
}
