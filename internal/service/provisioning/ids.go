package provisioning

import (
	"fmt"
	"io"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// newID makes a SCIM resource id: a random (version 4) UUID, RFC 9562
// section 5.4. Ids are opaque to clients (RFC 7643 section 3.1) and
// never reused.
func newID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", lanyard.Wrap(lanyard.EInternal, err, "no randomness for a SCIM id")
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// stamp writes a time as SCIM's dateTime (RFC 7643 section 2.3.5).
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
