package apdu_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/apdu/apdutest"
)

// BenchmarkClientWithCardFramer measures the package's own cost of an
// exchange, client and card side, without any transport.
func BenchmarkClientWithCardFramer(b *testing.B) {
	var card echoCard
	c := &apdu.Client{Transport: apdutest.NewCard(func(cmd apdu.Command) apdu.Response {
		card.seen = card.seen[:0]
		return card.handle(cmd)
	})}
	ctx := context.Background()
	for _, bm := range []struct {
		name string
		cmd  apdu.Command
	}{
		{"short", apdu.Command{INS: 0x02, P2: 8, Le: 256}},
		{"4KiB out", apdu.Command{INS: 0x01, Data: seq(4096)}},
		{"4KiB in", apdu.Command{INS: 0x02, P1: 0x10, Le: 256}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Do(ctx, bm.cmd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseTLVs(b *testing.B) {
	// A certificate object as GET DATA returns it: 53 { 70 cert, 71 00, FE 00 }.
	inner := apdu.AppendTLVs(nil, apdu.TLV{Tag: 0x70, Value: seq(1500)}, apdu.TLV{Tag: 0x71, Value: []byte{0}}, apdu.TLV{Tag: 0xFE})
	obj := apdu.AppendTLV(nil, 0x53, inner)
	b.ReportAllocs()
	for b.Loop() {
		v, err := apdu.Unwrap(obj, 0x53)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := apdu.ParseTLVs(v); err != nil {
			b.Fatal(err)
		}
	}
}
