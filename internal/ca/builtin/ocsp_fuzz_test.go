package builtin_test

import (
	"crypto/x509"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/ca/catest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// FuzzParseOCSPRequest: requests come from anyone on the network. No input
// may panic, errors are EInvalid, and ok implies a serial to look up.
func FuzzParseOCSPRequest(f *testing.F) {
	c := mustNew(f, config(catest.NewStore(), catest.NewSealer(f), time.Now, nil))
	issuing, root := mustChain(f, c)
	leaf := mustSign(f, c, logonTemplate(), leafKey(f, lanyard.ECP256).Public())
	for _, pair := range [][2]*x509.Certificate{{leaf, issuing}, {issuing, root}} {
		req, err := ocsp.CreateRequest(pair[0], pair[1], nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(req)
		f.Add(req[:len(req)/2])
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		req, ok, err := c.ParseOCSPRequest(in)
		if err != nil {
			if !lanyard.IsCode(err, lanyard.EInvalid) || ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			return
		}
		if ok && req.Serial == nil {
			t.Fatal("ok without a serial")
		}
	})
}
