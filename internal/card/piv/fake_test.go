package piv_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// fakeCard is the smallest card the tests need where a transcript would
// be unwieldy: management key authentication (adminFake), data objects
// (GET DATA, PUT DATA after authentication) and the private key
// operations of GENERAL AUTHENTICATE with keys the test puts in its
// slots. It is written from SP 800-73-4 Part 2 independently of the
// package, and records every complete command.
type fakeCard struct {
	admin   *adminFake
	authed  bool
	objects map[string][]byte // by tag list (5C value) in hex
	keys    map[byte]crypto.Signer
	// corrupt, when set, makes private key operations answer with it.
	corrupt []byte
	log     []apdu.Command
}

func newFakeCard(tb testing.TB) *fakeCard {
	return &fakeCard{
		admin:   newAdminFake(tb, pivspec.Alg3DES, pivspec.DefaultManagementKey()),
		objects: map[string][]byte{},
		keys:    map[byte]crypto.Signer{},
	}
}

// adminSession returns an authenticated Admin for the fake.
func (f *fakeCard) adminSession(tb testing.TB) *piv.Admin {
	tb.Helper()
	c := mustCard(tb, newHandlerCard(f.handle))
	a, err := c.Authenticate(context.Background(), pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func (f *fakeCard) handle(c apdu.Command) apdu.Response {
	f.log = append(f.log, c)
	switch {
	case c.INS == 0x87 && c.P2 == 0x9B:
		r := f.admin.handle(c)
		f.authed = f.admin.authenticated
		return r
	case c.INS == 0x87:
		return f.privateKeyOp(c)
	case c.INS == 0xCB:
		tlvs, err := apdu.ParseTLVs(c.Data)
		if err != nil || len(tlvs) != 1 || tlvs[0].Tag != 0x5C {
			return apdu.Response{SW: apdu.SWIncorrectData}
		}
		v, ok := f.objects[string(tlvs[0].Value)]
		if !ok {
			return apdu.Response{SW: apdu.SWNotFound}
		}
		return apdu.Response{Data: apdu.AppendTLV(nil, 0x53, v), SW: apdu.SWOK}
	case c.INS == 0xDB:
		if !f.authed {
			return apdu.Response{SW: apdu.SWSecurityStatusNotSatisfied}
		}
		tlvs, err := apdu.ParseTLVs(c.Data)
		if err != nil || len(tlvs) != 2 || tlvs[0].Tag != 0x5C || tlvs[1].Tag != 0x53 {
			return apdu.Response{SW: apdu.SWIncorrectData}
		}
		if len(tlvs[1].Value) == 0 {
			delete(f.objects, string(tlvs[0].Value))
		} else {
			f.objects[string(tlvs[0].Value)] = bytes.Clone(tlvs[1].Value)
		}
		return apdu.Response{SW: apdu.SWOK}
	}
	return apdu.Response{SW: apdu.SWInstructionNotSupported}
}

// privateKeyOp answers 7C { 82 00, 81 challenge } with a signature or raw
// RSA block and 7C { 82 00, 85 point } with the ECDH secret.
func (f *fakeCard) privateKeyOp(c apdu.Command) apdu.Response {
	key, ok := f.keys[c.P2]
	if !ok {
		return apdu.Response{SW: apdu.SWReferenceNotFound}
	}
	v, err := apdu.Unwrap(c.Data, 0x7C)
	if err != nil {
		return apdu.Response{SW: apdu.SWIncorrectData}
	}
	tlvs, err := apdu.ParseTLVs(v)
	if err != nil {
		return apdu.Response{SW: apdu.SWIncorrectData}
	}
	var out []byte
	if ch, ok := apdu.Find(tlvs, 0x81); ok {
		switch k := key.(type) {
		case *rsa.PrivateKey:
			m := new(big.Int).SetBytes(ch.Value)
			if len(ch.Value) != k.Size() || m.Cmp(k.N) >= 0 {
				return apdu.Response{SW: apdu.SWIncorrectData}
			}
			out = new(big.Int).Exp(m, k.D, k.N).FillBytes(make([]byte, k.Size()))
		case *ecdsa.PrivateKey:
			if out, err = ecdsa.SignASN1(rand.Reader, k, ch.Value); err != nil {
				return apdu.Response{SW: apdu.SWNoPreciseDiagnosis}
			}
		}
	} else if p, ok := apdu.Find(tlvs, 0x85); ok {
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return apdu.Response{SW: apdu.SWIncorrectP1P2}
		}
		priv, err := k.ECDH()
		if err != nil {
			return apdu.Response{SW: apdu.SWNoPreciseDiagnosis}
		}
		peer, err := priv.Curve().NewPublicKey(p.Value)
		if err != nil {
			return apdu.Response{SW: apdu.SWIncorrectData}
		}
		if out, err = priv.ECDH(peer); err != nil {
			return apdu.Response{SW: apdu.SWIncorrectData}
		}
	} else {
		return apdu.Response{SW: apdu.SWIncorrectData}
	}
	if f.corrupt != nil {
		out = f.corrupt
	}
	return apdu.Response{Data: apdu.AppendTLV(nil, 0x7C, apdu.AppendTLV(nil, 0x82, out)), SW: apdu.SWOK}
}

// handlerAdmin returns an Admin for a card that answers management key
// authentication with the factory 3DES key (adminFake) and everything
// else with handle.
func handlerAdmin(tb testing.TB, handle func(apdu.Command) apdu.Response) *piv.Admin {
	tb.Helper()
	admin := newAdminFake(tb, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	c := mustCard(tb, newHandlerCard(func(c apdu.Command) apdu.Response {
		if c.INS == 0x87 && c.P2 == 0x9B {
			return admin.handle(c)
		}
		return handle(c)
	}))
	a, err := c.Authenticate(context.Background(), pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
