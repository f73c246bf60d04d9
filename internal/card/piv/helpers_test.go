package piv_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/apdu/apdutest"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// seqReader is a deterministic randomness source: 00 01 02 … FF 00 …, so
// that challenges and salts in transcripts are known.
type seqReader struct{ next byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// mustHex decodes hex with optional spaces.
func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// mustCard returns a Card over t with deterministic randomness.
func mustCard(tb testing.TB, t apdu.Transport) *piv.Card {
	tb.Helper()
	c, err := piv.New(t, piv.Config{Rand: &seqReader{}})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// replayCard returns a Card that must exchange exactly the transcript (see
// apdu.Transcript for its form); left-over exchanges fail the test.
func replayCard(tb testing.TB, transcript string) *piv.Card {
	tb.Helper()
	return mustCard(tb, apdutest.NewReplay(tb, apdutest.MustTranscript(tb, transcript)))
}

// auth3DES is the mutual authentication with the factory 3DES key as a
// transcript, computed with OpenSSL (des-ede3, ECB, no padding)
// independently of the package: the card's witness 0011223344556677
// decrypts to 24F248A3CCEBC299, and the challenge that seqReader gives a
// fresh Card, 0001020304050607, encrypts to 90152A4C1CF42780.
const auth3DES = `
# GENERAL AUTHENTICATE 9B, 3DES: witness request (SP 800-73-4 Part 2 A.1)
> 00 87 03 9B 04 7C02 8000 00
< 7C0A 8008 0011223344556677 9000
# decrypted witness and our challenge
> 00 87 03 9B 16 7C14 8008 24F248A3CCEBC299 8108 0001020304050607 00
< 7C0A 8208 90152A4C1CF42780 9000
`

// replayAdmin returns an Admin over a transcript that must start with
// auth3DES.
func replayAdmin(tb testing.TB, transcript string) *piv.Admin {
	tb.Helper()
	c := replayCard(tb, auth3DES+transcript)
	a, err := c.Authenticate(context.Background(), pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		tb.Fatalf("Authenticate: %v", err)
	}
	return a
}

// newHandlerCard returns a Transport for a card that answers complete
// commands with handle (apdutest.Card: chaining and GET RESPONSE on the
// wire as a real card does).
func newHandlerCard(handle func(apdu.Command) apdu.Response) apdu.Transport {
	return apdutest.NewCard(handle)
}
