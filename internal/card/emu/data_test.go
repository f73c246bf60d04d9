package emu_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestFactoryObjects(t *testing.T) {
	c := newCard(t)

	chuid := c.getData(mustHex(t, "5FC102"))
	if chuid.SW != apdu.SWOK {
		t.Fatalf("CHUID: %v", chuid.SW)
	}
	guid, ok := c.card.GUID()
	if !ok || !bytes.Equal(field(t, chuid.Data, 0x34), guid[:]) {
		t.Fatalf("CHUID GUID %X, card says %X", field(t, chuid.Data, 0x34), guid)
	}
	if guid[6]>>4 != 4 || guid[8]>>6 != 2 {
		t.Fatalf("GUID %X is not an RFC 4122 version 4 UUID", guid)
	}
	if len(field(t, chuid.Data, 0x30)) != 25 {
		t.Fatal("CHUID without a 25-byte FASC-N")
	}

	ccc := c.getData(mustHex(t, "5FC107"))
	if id := field(t, ccc.Data, 0xF0); len(id) != 21 || !bytes.HasPrefix(id, mustHex(t, "A000000116FF02")) {
		t.Fatalf("CCC card identifier %X", id)
	}

	disc := c.getData([]byte{0x7E})
	want := mustHex(t, "7E 12 4F 0B A0000003080000100001 00 5F2F 02 4000")
	if disc.SW != apdu.SWOK || !bytes.Equal(disc.Data, want) {
		t.Fatalf("Discovery object: %X %v, want %X", disc.Data, disc.SW, want)
	}

	// Two cards differ in GUID and serial number.
	other := newCard(t)
	g2, _ := other.card.GUID()
	if g2 == guid || other.card.Serial() == c.card.Serial() {
		t.Fatal("two new cards share their GUID or serial number")
	}
	if s := c.card.Serial(); s < 10_000_000 || s > 99_999_999 {
		t.Fatalf("serial %d is not 8 digits", s)
	}
}

// OpenSC reads the start of an object with Le = 8 and fetches the rest
// with GET RESPONSE; the card must honour Le on the wire.
func TestGetDataHonoursLe(t *testing.T) {
	c := newCard(t)
	full := c.getData(mustHex(t, "5FC102")).Data
	r := c.raw(mustHex(t, "00CB3FFF 05 5C035FC102 08"))
	if !bytes.Equal(r.Data, full[:8]) {
		t.Fatalf("first piece %X, want %X", r.Data, full[:8])
	}
	if n, ok := r.SW.Available(); !ok || n != len(full)-8 {
		t.Fatalf("status %v, want 61%02X", r.SW, len(full)-8)
	}
	rest := c.raw([]byte{0x00, 0xC0, 0x00, 0x00, byte(len(full) - 8)})
	if rest.SW != apdu.SWOK || !bytes.Equal(rest.Data, full[8:]) {
		t.Fatalf("GET RESPONSE: %X %v", rest.Data, rest.SW)
	}
}

func TestPutGetData(t *testing.T) {
	c := newCard(t)
	cert := bytes.Repeat([]byte{0xAB}, 2000) // chained in and 61XX out
	value := append(tlv(0x70, cert), mustHex(t, "710100 FE00")...)

	c.expect(apdu.SWSecurityStatusNotSatisfied, 0xDB, 0x3F, 0xFF, append(tlv(0x5C, mustHex(t, "5FC105")), tlv(0x53, value)...))
	c.authDefault()
	var tags [][]byte
	for i := byte(0x01); i <= 0x23; i++ {
		tags = append(tags, []byte{0x5F, 0xC1, i})
	}
	tags = append(tags, mustHex(t, "5FFF00"), mustHex(t, "5FFF01"), mustHex(t, "5FFF15"))
	for i, tag := range tags {
		t.Run(fmt.Sprintf("%X", tag), func(t *testing.T) {
			c := c.with(t)
			v := append(bytes.Clone(value), byte(i))
			if sw := c.putData(tag, v); sw != apdu.SWOK {
				t.Fatalf("PUT DATA: %v", sw)
			}
			switch tag[2] {
			case 0x03, 0x08, 0x09, 0x21, 0x23:
				if tag[1] == 0xC1 {
					return // read needs the PIN; TestPINProtectedObjects
				}
			}
			r := c.getData(tag)
			if r.SW != apdu.SWOK || !bytes.Equal(r.Data, tlv(0x53, v)) {
				t.Fatalf("GET DATA: %d bytes %v", len(r.Data), r.SW)
			}
		})
	}
	for _, tag := range []string{"5FC100", "5FC124", "5FFF16"} {
		if sw := c.putData(mustHex(t, tag), value); sw != apdu.SWIncorrectData {
			t.Fatalf("PUT DATA %s: %v, want 6A80", tag, sw)
		}
	}

	// An empty 53 deletes the object; deleting an absent one is fine.
	tag := mustHex(t, "5FC10A")
	if sw := c.putData(tag, nil); sw != apdu.SWOK {
		t.Fatalf("delete: %v", sw)
	}
	if sw := c.getData(tag).SW; sw != apdu.SWNotFound {
		t.Fatalf("GET DATA after delete: %v", sw)
	}
	if sw := c.putData(tag, nil); sw != apdu.SWOK {
		t.Fatalf("delete again: %v", sw)
	}

	// The Discovery object is written as itself.
	disc := mustHex(t, "7E 12 4F 0B A0000003080000100001 00 5F2F 02 6000")
	c.must(0xDB, 0x3F, 0xFF, disc)
	if got := c.getData([]byte{0x7E}).Data; !bytes.Equal(got, disc) {
		t.Fatalf("Discovery object %X, want %X", got, disc)
	}
}

func TestDataErrors(t *testing.T) {
	c := newCard(t)
	c.authDefault()
	tests := []struct {
		name string
		ins  byte
		p1p2 [2]byte
		data string
		want apdu.SW
	}{
		{"GET absent object", 0xCB, [2]byte{0x3F, 0xFF}, "5C035FC105", apdu.SWNotFound},
		{"GET unknown object", 0xCB, [2]byte{0x3F, 0xFF}, "5C035FC201", apdu.SWNotFound},
		{"GET bad P1-P2", 0xCB, [2]byte{0x3F, 0xFE}, "5C035FC102", apdu.SWIncorrectP1P2},
		{"GET no tag list", 0xCB, [2]byte{0x3F, 0xFF}, "", apdu.SWIncorrectData},
		{"GET truncated TLV", 0xCB, [2]byte{0x3F, 0xFF}, "5C035FC1", apdu.SWIncorrectData},
		{"GET wrong wrapper", 0xCB, [2]byte{0x3F, 0xFF}, "53035FC102", apdu.SWIncorrectData},
		{"GET two tag lists", 0xCB, [2]byte{0x3F, 0xFF}, "5C017E5C017E", apdu.SWIncorrectData},
		{"GET four-byte tag", 0xCB, [2]byte{0x3F, 0xFF}, "5C045FC1C102", apdu.SWIncorrectData},
		{"GET invalid tag", 0xCB, [2]byte{0x3F, 0xFF}, "5C025FC1", apdu.SWIncorrectData},
		{"PUT unknown object", 0xDB, [2]byte{0x3F, 0xFF}, "5C035FC2015301AA", apdu.SWIncorrectData},
		{"PUT Discovery in 53", 0xDB, [2]byte{0x3F, 0xFF}, "5C017E5301AA", apdu.SWIncorrectData},
		{"PUT without 53", 0xDB, [2]byte{0x3F, 0xFF}, "5C035FC105", apdu.SWIncorrectData},
		{"PUT trailing object", 0xDB, [2]byte{0x3F, 0xFF}, "5C035FC1055301AA0100", apdu.SWIncorrectData},
		{"PUT bad P1-P2", 0xDB, [2]byte{0x3F, 0x00}, "5C035FC1055301AA", apdu.SWIncorrectP1P2},
		{"PUT no data", 0xDB, [2]byte{0x3F, 0xFF}, "", apdu.SWIncorrectData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.with(t).expect(tt.want, tt.ins, tt.p1p2[0], tt.p1p2[1], mustHex(t, tt.data))
		})
	}
	t.Run("PUT too large", func(t *testing.T) {
		c := c.with(t)
		if sw := c.putData(mustHex(t, "5FC105"), make([]byte, emu.MaxObjectSize+1)); sw != apdu.SWNotEnoughMemory {
			t.Fatalf("%v, want 6A84", sw)
		}
		if sw := c.putData(mustHex(t, "5FC105"), bytes.Repeat([]byte{1}, emu.MaxObjectSize)); sw != apdu.SWOK {
			t.Fatalf("object of MaxObjectSize: %v", sw)
		}
	})
}

// SP 800-73-4 Part 1 table 3: these objects are read with the PIN only.
func TestPINProtectedObjects(t *testing.T) {
	for _, tag := range []string{"5FC103", "5FC108", "5FC109", "5FC121", "5FC123"} {
		t.Run(tag, func(t *testing.T) {
			c := newCard(t)
			c.authDefault()
			if sw := c.putData(mustHex(t, tag), []byte{0x88, 0x00}); sw != apdu.SWOK {
				t.Fatalf("PUT: %v", sw)
			}
			if sw := c.getData(mustHex(t, tag)).SW; sw != apdu.SWSecurityStatusNotSatisfied {
				t.Fatalf("GET without PIN: %v", sw)
			}
			c.verifyPIN(pivspec.DefaultPIN)
			if r := c.getData(mustHex(t, tag)); r.SW != apdu.SWOK || !bytes.Equal(r.Data, mustHex(t, "53028800")) {
				t.Fatalf("GET with PIN: %X %v", r.Data, r.SW)
			}
		})
	}
}
