package notices

import (
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The text a notice travels as between replicas (PostgreSQL NOTIFY's
// payload): the sending store's origin, a space, then the kind, a space
// and the payload — or "!" for a Lost notice. The origin lets a store
// skip its own notices, which it delivered in process at commit.
const lostWire = "!"

// Encode is n as sent by the store whose origin is origin (no spaces).
func Encode(origin string, n Notice) string {
	if n.Lost {
		return origin + " " + lostWire
	}
	return origin + " " + string(n.Kind) + " " + n.Payload
}

// Decode reads Encode's text. ok is false for text that is not a notice
// (it is dropped: nothing but Lanyard's stores should send on the
// channel, and a notice from a newer release may read differently).
func Decode(s string) (origin string, n Notice, ok bool) {
	origin, rest, ok := strings.Cut(s, " ")
	if !ok || origin == "" {
		return "", Notice{}, false
	}
	if rest == lostWire {
		return origin, Notice{Lost: true}, true
	}
	kind, payload, ok := strings.Cut(rest, " ")
	if !ok || !lanyard.NoticeKind(kind).Valid() {
		return "", Notice{}, false
	}
	return origin, Notice{Kind: lanyard.NoticeKind(kind), Payload: payload}, true
}
