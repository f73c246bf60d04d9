package vpcd

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestReadMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
		err  error
	}{
		{"control byte", []byte{0x00, 0x01, 0x04}, []byte{0x04}, nil},
		{"apdu", []byte{0x00, 0x04, 0x00, 0xA4, 0x04, 0x00}, []byte{0x00, 0xA4, 0x04, 0x00}, nil},
		{"clean end", nil, nil, io.EOF},
		{"half a length", []byte{0x00}, nil, io.ErrUnexpectedEOF},
		{"zero length", []byte{0x00, 0x00}, nil, errEmptyMessage},
		{"length beyond data", []byte{0xFF, 0xFF, 0x01}, nil, io.ErrUnexpectedEOF},
		{"length then nothing", []byte{0x00, 0x05}, nil, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readMessage(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("message % X, want % X", got, tc.want)
			}
		})
	}
}

func TestWriteMessageRefusesUnframeable(t *testing.T) {
	var buf bytes.Buffer
	for _, n := range []int{0, maxMessage + 1} {
		if err := writeMessage(&buf, make([]byte, n)); err == nil {
			t.Errorf("writeMessage of %d bytes succeeded", n)
		}
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %d bytes for refused messages", buf.Len())
	}
}

// FuzzReadMessage feeds arbitrary streams to the reader: it must never
// panic, every message it returns must be exactly what the stream framed,
// and re-framing the messages must give back the consumed bytes.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x04})
	f.Add([]byte{0x00, 0x00})
	f.Add([]byte{0xFF, 0xFF, 0x00})
	f.Add([]byte{0x00, 0x02, 0x90, 0x00, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		var again bytes.Buffer
		for {
			msg, err := readMessage(r)
			if err != nil {
				break
			}
			if len(msg) == 0 || len(msg) > maxMessage {
				t.Fatalf("returned a %d-byte message", len(msg))
			}
			if err := writeMessage(&again, msg); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.HasPrefix(in, again.Bytes()) {
			t.Fatalf("re-framed messages % X are not a prefix of the input % X", again.Bytes(), in)
		}
	})
}
