package agentproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// FuzzReadFrame feeds arbitrary bytes to the frame reader: it must never
// panic, and whatever it accepts must be valid and encode back to a frame
// that decodes to the same message.
func FuzzReadFrame(f *testing.F) {
	for _, body := range []string{
		`{"type":"ping"}`,
		`{"type":"snapshot","readers":[{"name":"r","present":true,"atr":"OwA=","serial":"1"}]}`,
		`{"type":"readers","readers":[{"name":"r","present":true,"atr":"OwA=","serial":"1"}],"gone":["q"]}`,
		`{"type":"transmit","id":1,"session":2,"apdu":"AKQEAA=="}`,
		`{"type":"reply","id":1,"error":{"code":"card_removed"}}`,
		`{"type":"hello","version":"1","soft_stores":["machine","user"]}`,
		`{"type":"keygen","id":2,"keygen":{"algorithm":"ecp256"}}`,
		`{"type":"reply","id":2,"key":{"handle":"0a1b","public_key":"MFkwEwYHKoZIzj0CAQ=="}}`,
		`{"type":"store","id":3,"store":{"handle":"0a1b","chain":["MIIB","MIIC"],"password":"Secret-99","scope":"user","account":"tia","name":"Work.tls"}}`,
		`{"type":"reply","id":3,"stored":{"path":"/home/tia/.local/share/lanyard/store/Work.p12","nss":true}}`,
		`{"type":"readers","readers":[{"name":"r","present":true,"serial":"1","pin":{"left":0,"total":3,"puk_left":-1}}]}`,
		`{"type":"cardstate","card_state":{"serial":"1","state":"revoked","reason":"lost"}}`,
	} {
		f.Add(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted an invalid message: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteFrame(&buf, m); err != nil {
			t.Fatalf("cannot re-encode %+v: %v", m, err)
		}
		again, err := ReadFrame(&buf)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		a, _ := json.Marshal(m)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip changed %s into %s", a, b)
		}
	})
}
