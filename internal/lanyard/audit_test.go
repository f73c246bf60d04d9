package lanyard_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func baseEvent() lanyard.AuditEvent {
	return lanyard.AuditEvent{
		Seq:        42,
		Time:       time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC),
		Actor:      "alice",
		Action:     "cert.issue",
		ObjectType: "certificate",
		ObjectID:   "1f2e",
		RemoteAddr: "192.0.2.10",
		Details:    json.RawMessage(`{"serial":"1f2e","template":"vpn"}`),
	}
}

var basePrev = bytes.Repeat([]byte{0xab}, sha256.Size)

// specHash encodes e as CanonicalHash's comment and the audit chain's
// stored hashes define it: prev, seq, UTC Unix microseconds, then actor,
// action, object type, object ID, remote address and details, each
// variable-length item prefixed by its big-endian 64-bit length. Changing
// the encoding would break every stored chain, so it is pinned here.
func specHash(e *lanyard.AuditEvent, prev []byte) []byte {
	var b []byte
	field := func(p []byte) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
		b = append(b, p...)
	}
	field(prev)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMicro()))
	for _, s := range []string{e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RemoteAddr} {
		field([]byte(s))
	}
	field(e.Details)
	sum := sha256.Sum256(b)
	return sum[:]
}

func TestCanonicalHashEncoding(t *testing.T) {
	events := map[string]lanyard.AuditEvent{
		"base":                           baseEvent(),
		"zero":                           {},
		"first":                          {Seq: 1, Time: time.Unix(0, 0), Actor: "system", Action: "ca.create"},
		"negative seq and pre-1970 time": {Seq: -1, Time: time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
	}
	for name, e := range events {
		for _, prev := range [][]byte{nil, basePrev} {
			got := e.CanonicalHash(prev)
			if len(got) != sha256.Size {
				t.Fatalf("%s: hash has %d bytes", name, len(got))
			}
			if want := specHash(&e, prev); !bytes.Equal(got, want) {
				t.Errorf("%s, prev %x: CanonicalHash = %x, want %x", name, prev, got, want)
			}
		}
	}
}

func TestCanonicalHashDeterministic(t *testing.T) {
	e := baseEvent()
	h1 := e.CanonicalHash(basePrev)
	h2 := e.CanonicalHash(basePrev)
	copied := baseEvent()
	h3 := copied.CanonicalHash(bytes.Clone(basePrev))
	if !bytes.Equal(h1, h2) || !bytes.Equal(h1, h3) {
		t.Fatalf("hashes differ: %x %x %x", h1, h2, h3)
	}
	if !bytes.Equal(basePrev, bytes.Repeat([]byte{0xab}, sha256.Size)) {
		t.Fatal("CanonicalHash changed prev")
	}
	if e.Hash != nil || e.PrevHash != nil {
		t.Fatal("CanonicalHash set fields of the event")
	}
}

func TestCanonicalHashCoversEveryField(t *testing.T) {
	base := baseEvent()
	baseHash := base.CanonicalHash(basePrev)
	tests := []struct {
		name string
		edit func(e *lanyard.AuditEvent)
		prev []byte
	}{
		{"seq + 1", func(e *lanyard.AuditEvent) { e.Seq++ }, basePrev},
		{"seq - 1", func(e *lanyard.AuditEvent) { e.Seq-- }, basePrev},
		{"seq high bit", func(e *lanyard.AuditEvent) { e.Seq |= math.MinInt64 }, basePrev},
		{"time + 1µs", func(e *lanyard.AuditEvent) { e.Time = e.Time.Add(time.Microsecond) }, basePrev},
		{"time - 1µs", func(e *lanyard.AuditEvent) { e.Time = e.Time.Add(-time.Microsecond) }, basePrev},
		{"time + 1s", func(e *lanyard.AuditEvent) { e.Time = e.Time.Add(time.Second) }, basePrev},
		{"zero time", func(e *lanyard.AuditEvent) { e.Time = time.Time{} }, basePrev},
		{"same wall clock, other zone", func(e *lanyard.AuditEvent) {
			e.Time = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.FixedZone("CEST", 2*3600))
		}, basePrev},
		{"actor", func(e *lanyard.AuditEvent) { e.Actor = "alicf" }, basePrev},
		{"actor empty", func(e *lanyard.AuditEvent) { e.Actor = "" }, basePrev},
		{"action", func(e *lanyard.AuditEvent) { e.Action = "cert.revoke" }, basePrev},
		{"object type", func(e *lanyard.AuditEvent) { e.ObjectType = "card" }, basePrev},
		{"object ID", func(e *lanyard.AuditEvent) { e.ObjectID = "1f2f" }, basePrev},
		{"remote address", func(e *lanyard.AuditEvent) { e.RemoteAddr = "192.0.2.11" }, basePrev},
		{"remote address empty", func(e *lanyard.AuditEvent) { e.RemoteAddr = "" }, basePrev},
		{"details", func(e *lanyard.AuditEvent) { e.Details = json.RawMessage(`{"serial":"1f2f","template":"vpn"}`) }, basePrev},
		{"details whitespace", func(e *lanyard.AuditEvent) { e.Details = json.RawMessage(`{"serial": "1f2e","template":"vpn"}`) }, basePrev},
		{"details nil", func(e *lanyard.AuditEvent) { e.Details = nil }, basePrev},
		{"prev one bit", nil, append(bytes.Repeat([]byte{0xab}, sha256.Size-1), 0xaa)},
		{"prev nil", nil, nil},
		{"prev shorter", nil, basePrev[:sha256.Size-1]},
	}
	seen := map[string]string{hex.EncodeToString(baseHash): "base"}
	for _, tt := range tests {
		e := baseEvent()
		if tt.edit != nil {
			tt.edit(&e)
		}
		h := hex.EncodeToString(e.CanonicalHash(tt.prev))
		if other, dup := seen[h]; dup {
			t.Errorf("%s: hash equals that of %s", tt.name, other)
		}
		seen[h] = tt.name
	}
}

func TestCanonicalHashIgnores(t *testing.T) {
	base := baseEvent()
	want := base.CanonicalHash(basePrev)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CEST", 2*3600)
	}
	tests := []struct {
		name string
		edit func(e *lanyard.AuditEvent)
	}{
		{"+1ns", func(e *lanyard.AuditEvent) { e.Time = e.Time.Add(time.Nanosecond) }},
		{"+999ns", func(e *lanyard.AuditEvent) { e.Time = e.Time.Add(999 * time.Nanosecond) }},
		{"same instant, fixed zone", func(e *lanyard.AuditEvent) { e.Time = e.Time.In(time.FixedZone("X", -7*3600-1800)) }},
		{"same instant, Europe/Berlin", func(e *lanyard.AuditEvent) { e.Time = e.Time.In(berlin) }},
		{"same instant, local", func(e *lanyard.AuditEvent) { e.Time = e.Time.Local() }},
		{"Hash field set", func(e *lanyard.AuditEvent) { e.Hash = []byte("anything") }},
		{"details in another buffer", func(e *lanyard.AuditEvent) { e.Details = bytes.Clone(e.Details) }},
	}
	for _, tt := range tests {
		e := baseEvent()
		tt.edit(&e)
		if got := e.CanonicalHash(basePrev); !bytes.Equal(got, want) {
			t.Errorf("%s: hash changed: %x, want %x", tt.name, got, want)
		}
	}
	// A time truncated to microseconds, as the stores keep it, hashes like
	// the original; nil and empty prev or details (as a database may hand
	// back NULL or '') hash alike.
	now := time.Now()
	a := lanyard.AuditEvent{Time: now}
	b := lanyard.AuditEvent{Time: now.Round(0).Truncate(time.Microsecond).UTC(), Details: json.RawMessage{}}
	if !bytes.Equal(a.CanonicalHash(nil), b.CanonicalHash([]byte{})) {
		t.Error("hash depends on sub-microsecond time, monotonic reading or nil vs empty")
	}
}

func TestCanonicalHashUnambiguous(t *testing.T) {
	pairs := []struct {
		name string
		a, b lanyard.AuditEvent
		pa   []byte
		pb   []byte
	}{
		{"actor|action", lanyard.AuditEvent{Actor: "ab", Action: "c"}, lanyard.AuditEvent{Actor: "a", Action: "bc"}, nil, nil},
		{"action|object type", lanyard.AuditEvent{Action: "user.", ObjectType: "create"}, lanyard.AuditEvent{Action: "user.create"}, nil, nil},
		{"object type|object ID", lanyard.AuditEvent{ObjectType: "card", ObjectID: "12"}, lanyard.AuditEvent{ObjectType: "card1", ObjectID: "2"}, nil, nil},
		{"object ID|remote address", lanyard.AuditEvent{ObjectID: "7", RemoteAddr: "10.0.0.1"}, lanyard.AuditEvent{ObjectID: "710.0.0.1"}, nil, nil},
		{"remote address|details", lanyard.AuditEvent{RemoteAddr: "::1", Details: json.RawMessage(`{}`)}, lanyard.AuditEvent{RemoteAddr: "::1{}"}, nil, nil},
		{"field moved to the next one", lanyard.AuditEvent{Actor: "x"}, lanyard.AuditEvent{Action: "x"}, nil, nil},
		{"prev|actor", lanyard.AuditEvent{Actor: "a"}, lanyard.AuditEvent{}, nil, []byte("a")},
		// Without a length prefix on prev, eight bytes moved from prev into
		// seq, seq into time and time into the actor's length would give
		// the same byte stream.
		{"prev|seq|time|actor", lanyard.AuditEvent{Time: time.Unix(0, 0), Actor: "\x00\x00\x00\x00\x00\x00\x00\x00"},
			lanyard.AuditEvent{Time: time.Unix(0, 8000)}, nil, make([]byte, 8)},
		{"length prefix forged in content", lanyard.AuditEvent{Actor: "a", Action: "b"},
			lanyard.AuditEvent{Actor: "a\x00\x00\x00\x00\x00\x00\x00\x01b"}, nil, nil},
	}
	for _, tt := range pairs {
		if bytes.Equal(tt.a.CanonicalHash(tt.pa), tt.b.CanonicalHash(tt.pb)) {
			t.Errorf("%s: %+v and %+v hash alike", tt.name, tt.a, tt.b)
		}
	}
}

func TestAuditDetails(t *testing.T) {
	const notEncodable = `{"error":"details not encodable"}`
	tests := []struct {
		name    string
		details map[string]any
		want    string // "" = nil
	}{
		{"nil", nil, ""},
		{"empty", map[string]any{}, ""},
		{"one value", map[string]any{"serial": "1f"}, `{"serial":"1f"}`},
		{"keys sorted", map[string]any{"z": 1, "a": true, "m": nil}, `{"a":true,"m":null,"z":1}`},
		{"nested", map[string]any{"roles": []lanyard.Role{"user", "auditor"}, "n": map[string]int{"b": 2, "a": 1}}, `{"n":{"a":1,"b":2},"roles":["user","auditor"]}`},
		{"escaping", map[string]any{"cn": "Jane \"JD\" <Doe>\n"}, `{"cn":"Jane \"JD\" \u003cDoe\u003e\n"}`},
		{"channel", map[string]any{"ok": 1, "c": make(chan int)}, notEncodable},
		{"func", map[string]any{"f": func() {}}, notEncodable},
		{"NaN", map[string]any{"x": math.NaN()}, notEncodable},
		{"infinity", map[string]any{"x": math.Inf(1)}, notEncodable},
		{"complex", map[string]any{"x": complex(1, 2)}, notEncodable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lanyard.AuditDetails(tt.details)
			if tt.want == "" {
				if got != nil {
					t.Fatalf("AuditDetails = %q, want nil", got)
				}
				return
			}
			if string(got) != tt.want {
				t.Fatalf("AuditDetails = %s, want %s", got, tt.want)
			}
			var obj map[string]any
			if err := json.Unmarshal(got, &obj); err != nil {
				t.Fatalf("not a JSON object: %v", err)
			}
		})
	}
}
