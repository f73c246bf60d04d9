package apdu_test

import (
	"bytes"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

func TestCommandChain(t *testing.T) {
	put := func(cla byte, data []byte, le int) apdu.Command {
		return apdu.Command{CLA: cla, INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data, Le: le}
	}
	type step struct {
		cmd       apdu.Command
		wantDone  bool
		wantReply apdu.SW // when not done
		wantFull  apdu.Command
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"unchained command passes through", []step{
			{cmd: put(0x00, []byte{1}, 256), wantDone: true, wantFull: put(0x00, []byte{1}, 256)},
		}},
		{"three blocks", []step{
			{cmd: put(0x10, []byte{1, 2}, 0), wantReply: apdu.SWOK},
			{cmd: put(0x10, []byte{3}, 0), wantReply: apdu.SWOK},
			{cmd: put(0x00, []byte{4}, 8), wantDone: true, wantFull: put(0x00, []byte{1, 2, 3, 4}, 8)},
		}},
		{"last block without data", []step{
			{cmd: put(0x10, []byte{1}, 0), wantReply: apdu.SWOK},
			{cmd: put(0x00, nil, 0), wantDone: true, wantFull: put(0x00, []byte{1}, 0)},
		}},
		{"chain on a logical channel keeps its class", []step{
			{cmd: apdu.Command{CLA: 0x11, INS: 0x87, Data: []byte{1}}, wantReply: apdu.SWOK},
			{cmd: apdu.Command{CLA: 0x01, INS: 0x87, Data: []byte{2}}, wantDone: true, wantFull: apdu.Command{CLA: 0x01, INS: 0x87, Data: []byte{1, 2}}},
		}},
		{"another instruction abandons the chain", []step{
			{cmd: put(0x10, []byte{1}, 0), wantReply: apdu.SWOK},
			{cmd: apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{9}}, wantDone: true, wantFull: apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{9}}},
			{cmd: put(0x00, []byte{2}, 0), wantDone: true, wantFull: put(0x00, []byte{2}, 0)},
		}},
		{"another P2 abandons the chain", []step{
			{cmd: put(0x10, []byte{1}, 0), wantReply: apdu.SWOK},
			{cmd: apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFE, Data: []byte{2}}, wantDone: true, wantFull: apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFE, Data: []byte{2}}},
		}},
		{"another P1 abandons the chain", []step{
			{cmd: put(0x10, []byte{1}, 0), wantReply: apdu.SWOK},
			{cmd: apdu.Command{INS: 0xDB, P1: 0x3E, P2: 0xFF, Data: []byte{2}}, wantDone: true, wantFull: apdu.Command{INS: 0xDB, P1: 0x3E, P2: 0xFF, Data: []byte{2}}},
		}},
		{"another class abandons the chain", []step{
			{cmd: put(0x10, []byte{1}, 0), wantReply: apdu.SWOK},
			{cmd: put(0x01, []byte{2}, 0), wantDone: true, wantFull: put(0x01, []byte{2}, 0)},
		}},
		{"a new chain replaces an abandoned one", []step{
			{cmd: put(0x10, []byte{1}, 0), wantReply: apdu.SWOK},
			{cmd: apdu.Command{CLA: 0x10, INS: 0x87, Data: []byte{7}}, wantReply: apdu.SWOK},
			{cmd: apdu.Command{INS: 0x87, Data: []byte{8}}, wantDone: true, wantFull: apdu.Command{INS: 0x87, Data: []byte{7, 8}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a apdu.CommandChain
			for i, s := range tt.steps {
				full, done, reply := a.Add(s.cmd)
				if done != s.wantDone {
					t.Fatalf("step %d: done = %v", i, done)
				}
				if done && !sameCommand(full, s.wantFull) {
					t.Fatalf("step %d: full = %+v, want %+v", i, full, s.wantFull)
				}
				if !done && reply != s.wantReply {
					t.Fatalf("step %d: reply %v, want %v", i, reply, s.wantReply)
				}
				if a.Active() == done {
					t.Fatalf("step %d: Active() = %v after done = %v", i, a.Active(), done)
				}
			}
		})
	}
}

func TestCommandChainLimit(t *testing.T) {
	var a apdu.CommandChain
	block := apdu.Command{CLA: 0x10, INS: 0xDB, Data: seq(255)}
	sent := 0
	for sent+255 <= apdu.MaxChainData {
		if _, done, reply := a.Add(block); done || reply != apdu.SWOK {
			t.Fatalf("block at %d: done %v, reply %v", sent, done, reply)
		}
		sent += 255
	}
	// Exactly MaxChainData is accepted.
	last := apdu.Command{INS: 0xDB, Data: seq(apdu.MaxChainData - sent)}
	full, done, _ := a.Add(last)
	if !done || len(full.Data) != apdu.MaxChainData {
		t.Fatalf("at the limit: done %v, %d bytes", done, len(full.Data))
	}
	// One more byte is refused and drops the chain.
	for range sent / 255 {
		a.Add(block)
	}
	last.Data = seq(apdu.MaxChainData - sent + 1)
	if _, done, reply := a.Add(last); done || reply != apdu.SWNotEnoughMemory {
		t.Fatalf("over the limit: done %v, reply %v; want 6A84", done, reply)
	}
	if a.Active() {
		t.Fatal("chain still active after being refused")
	}
}

func TestCommandChainReset(t *testing.T) {
	var a apdu.CommandChain
	a.Add(apdu.Command{CLA: 0x10, INS: 0xDB, Data: []byte{1}})
	a.Reset()
	full, done, _ := a.Add(apdu.Command{INS: 0xDB, Data: []byte{2}})
	if !done || !bytes.Equal(full.Data, []byte{2}) {
		t.Fatalf("after Reset: %+v, done %v; want only the new block", full, done)
	}
}

func TestResponseBuffer(t *testing.T) {
	getResponse := func(le int) apdu.Command { return apdu.Command{INS: 0xC0, Le: le} }
	type step struct {
		cmd      apdu.Command
		wantData int // bytes, continuing the sequence served
		wantSW   apdu.SW
	}
	tests := []struct {
		name  string
		size  int
		le    int
		final apdu.SW
		first step // wantData/wantSW of Serve
		steps []step
	}{
		{"fits", 100, 256, apdu.SWOK, step{wantData: 100, wantSW: apdu.SWOK}, nil},
		{"exactly 256", 256, 0, apdu.SWOK, step{wantData: 256, wantSW: apdu.SWOK}, nil},
		{"257 without Le", 257, 0, apdu.SWOK, step{wantData: 256, wantSW: 0x6101}, []step{
			{getResponse(0), 1, apdu.SWOK},
		}},
		// 600 = 256 + 256 + 88; SW2 counts the bytes left, 00 for 256 or more.
		{"600 in 256-byte pieces", 600, 256, apdu.SWOK, step{wantData: 256, wantSW: 0x6100}, []step{
			{getResponse(256), 256, 0x6158},
			{getResponse(0x58), 0x58, apdu.SWOK},
		}},
		{"Le 8 then the rest", 20, 8, apdu.SWOK, step{wantData: 8, wantSW: 0x610C}, []step{
			{getResponse(12), 12, apdu.SWOK},
		}},
		{"GET RESPONSE Le smaller than announced", 20, 8, apdu.SWOK, step{wantData: 8, wantSW: 0x610C}, []step{
			{getResponse(5), 5, 0x6107},
			{getResponse(0), 7, apdu.SWOK},
		}},
		{"final status word kept for the last piece", 300, 256, 0x6282, step{wantData: 256, wantSW: 0x612C}, []step{
			{getResponse(256), 44, 0x6282},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b apdu.ResponseBuffer
			r := b.Serve(apdu.Response{Data: seq(tt.size), SW: tt.final}, tt.le)
			got := append([]byte(nil), r.Data...)
			if len(r.Data) != tt.first.wantData || r.SW != tt.first.wantSW {
				t.Fatalf("Serve = %d bytes %v, want %d bytes %v", len(r.Data), r.SW, tt.first.wantData, tt.first.wantSW)
			}
			for i, s := range tt.steps {
				r, ok := b.Intercept(s.cmd)
				if !ok {
					t.Fatalf("step %d: GET RESPONSE not intercepted", i)
				}
				if len(r.Data) != s.wantData || r.SW != s.wantSW {
					t.Fatalf("step %d: %d bytes %v, want %d bytes %v", i, len(r.Data), r.SW, s.wantData, s.wantSW)
				}
				got = append(got, r.Data...)
			}
			if !bytes.Equal(got, seq(tt.size)) {
				t.Fatalf("pieces join to %d bytes, not the %d served", len(got), tt.size)
			}
			if b.Pending() != 0 {
				t.Fatalf("%d bytes still pending", b.Pending())
			}
		})
	}
}

func TestResponseBufferRefusals(t *testing.T) {
	tests := []struct {
		name        string
		cmd         apdu.Command
		wantSW      apdu.SW
		wantPending int
	}{
		{"P1-P2 not 0000", apdu.Command{INS: 0xC0, P2: 0x01}, apdu.SWIncorrectP1P2, 100},
		{"with data", apdu.Command{INS: 0xC0, Data: []byte{1}}, apdu.SWWrongLength, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b apdu.ResponseBuffer
			b.Serve(apdu.Response{Data: seq(356), SW: apdu.SWOK}, 256)
			r, ok := b.Intercept(tt.cmd)
			if !ok || r.SW != tt.wantSW || len(r.Data) != 0 {
				t.Fatalf("Intercept = %+v, %v; want %v", r, ok, tt.wantSW)
			}
			if b.Pending() != tt.wantPending {
				t.Fatalf("Pending() = %d, want %d", b.Pending(), tt.wantPending)
			}
		})
	}
	t.Run("nothing pending", func(t *testing.T) {
		var b apdu.ResponseBuffer
		if r, ok := b.Intercept(apdu.Command{INS: 0xC0}); !ok || r.SW != apdu.SWConditionsNotSatisfied {
			t.Fatalf("Intercept = %+v, %v; want 6985", r, ok)
		}
	})
	t.Run("other commands discard the pending response", func(t *testing.T) {
		for _, cmd := range []apdu.Command{{INS: 0xCB}, {CLA: 0x80, INS: 0xC0}} {
			var b apdu.ResponseBuffer
			b.Serve(apdu.Response{Data: seq(356), SW: apdu.SWOK}, 256)
			if _, ok := b.Intercept(cmd); ok {
				t.Fatalf("%+v intercepted", cmd)
			}
			if b.Pending() != 0 {
				t.Fatalf("%+v left %d bytes pending", cmd, b.Pending())
			}
		}
	})
	t.Run("Serve replaces what was pending", func(t *testing.T) {
		var b apdu.ResponseBuffer
		b.Serve(apdu.Response{Data: seq(356), SW: apdu.SWOK}, 256)
		if r := b.Serve(apdu.Response{Data: []byte{1}, SW: apdu.SWOK}, 256); r.SW != apdu.SWOK || b.Pending() != 0 {
			t.Fatalf("Serve = %v with %d pending", r.SW, b.Pending())
		}
	})
}
