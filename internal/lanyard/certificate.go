package lanyard

import (
	"strconv"
	"strings"
	"time"
)

// CertStatus is where a certificate stands in its life: requested and
// waiting, approved, issued, written to its card, rejected, revoked or
// expired.
type CertStatus string

const (
	CertPending  CertStatus = "pending"  // requested, waiting for approval
	CertApproved CertStatus = "approved" // approved in the CA, not yet issued to the card
	CertValid    CertStatus = "valid"    // issued by the CA, not yet written to a card (or not card-bound)
	CertWritten  CertStatus = "written"  // on the card
	CertRejected CertStatus = "rejected"
	CertRevoked  CertStatus = "revoked"
	CertExpired  CertStatus = "expired"
)

// CertSource says whether Lanyard issued the certificate or only tracks it.
type CertSource string

const (
	SourceManaged CertSource = "managed" // issued through Lanyard
	SourceTracked CertSource = "tracked" // third-party, found on a card; validity tracked only
)

// RevocationReason is a CRLReason (RFC 5280 5.3.1).
type RevocationReason int

// RFC 5280 5.3.1 reason codes (7 is not used).
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonCACompromise         RevocationReason = 2
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
	ReasonCertificateHold      RevocationReason = 6
	ReasonRemoveFromCRL        RevocationReason = 8
	ReasonPrivilegeWithdrawn   RevocationReason = 9
	ReasonAACompromise         RevocationReason = 10
)

var reasonNames = map[RevocationReason]string{
	ReasonUnspecified: "unspecified", ReasonKeyCompromise: "key_compromise", ReasonCACompromise: "ca_compromise",
	ReasonAffiliationChanged: "affiliation_changed", ReasonSuperseded: "superseded",
	ReasonCessationOfOperation: "cessation_of_operation", ReasonCertificateHold: "certificate_hold",
	ReasonRemoveFromCRL: "remove_from_crl", ReasonPrivilegeWithdrawn: "privilege_withdrawn", ReasonAACompromise: "aa_compromise",
}

func (r RevocationReason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return "unknown"
}

// ParseRevocationReason accepts a reason name ("key_compromise",
// "keyCompromise" or "key-compromise") or its RFC 5280 number. Reason 8
// (removeFromCRL) is only meaningful in delta CRLs and is refused.
func ParseRevocationReason(s string) (RevocationReason, error) {
	if n, err := strconv.Atoi(s); err == nil && s[0] >= '0' && s[0] <= '9' && (len(s) == 1 || s[0] != '0') {
		if _, known := reasonNames[RevocationReason(n)]; known && RevocationReason(n) != ReasonRemoveFromCRL {
			return RevocationReason(n), nil
		}
	} else if flat := flatReason(s); flat != "" {
		for r, name := range reasonNames {
			if r != ReasonRemoveFromCRL && flat == strings.ReplaceAll(name, "_", "") && wellSeparated(s) {
				return r, nil
			}
		}
	}
	return 0, Errorf(EInvalid, "unknown revocation reason %q (use unspecified, key_compromise, ca_compromise, affiliation_changed, superseded, cessation_of_operation, certificate_hold, privilege_withdrawn, aa_compromise)", s)
}

// flatReason lower-cases s and drops '_', '-' and ' ' so that key_compromise,
// keyCompromise and key-compromise compare equal; it returns "" for input
// with other characters.
func flatReason(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '-' || c == ' ':
		case c >= 'a' && c <= 'z':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			return ""
		}
	}
	return b.String()
}

// wellSeparated refuses separators at the ends or doubled ("-key", "key__compromise").
func wellSeparated(s string) bool {
	sep := func(c byte) bool { return c == '_' || c == '-' || c == ' ' }
	if sep(s[0]) || sep(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if sep(s[i]) && sep(s[i-1]) {
			return false
		}
	}
	return true
}

// Certificate is a certificate Lanyard issued or tracks.
type Certificate struct {
	ID       int64  `json:"id"`
	Serial   string `json:"serial"` // lower-case hex, no leading zeros
	CA       string `json:"ca"`
	Template string `json:"template,omitempty"`
	UserID   int64  `json:"user_id,omitempty"`
	CardID   int64  `json:"card_id,omitempty"`
	// Slot is the PIV slot (9a, 9c, 9d, 9e) the certificate is on in
	// card CardID, recorded when it is bound to the card: the template's
	// slot may change afterwards.
	Slot       string           `json:"slot,omitempty"`
	RequestID  int64            `json:"request_id,omitempty"`
	Subject    string           `json:"subject"`
	NotBefore  time.Time        `json:"not_before"`
	NotAfter   time.Time        `json:"not_after"`
	Status     CertStatus       `json:"status"`
	Source     CertSource       `json:"source"`
	KeySHA256  string           `json:"public_key_sha256"` // hex SHA-256 of the SubjectPublicKeyInfo
	DER        []byte           `json:"-"`
	RevokedAt  time.Time        `json:"revoked_at,omitzero"`
	Reason     RevocationReason `json:"-"`
	ReasonName string           `json:"revocation_reason,omitempty"`
	// HeldAt is when the certificate was put on hold (RFC 5280 5.3.1,
	// certificateHold) because its card was disabled; zero when it is not
	// on hold. A held certificate keeps its status: enabling the card
	// takes it off hold, and it is listed on the CRL and answered as
	// revoked (certificateHold) by OCSP only while HeldAt is set. A
	// revoked certificate is never on hold.
	HeldAt    time.Time `json:"held_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OnHold reports whether c is on hold (HeldAt set, not revoked for good).
func (c *Certificate) OnHold() bool { return !c.HeldAt.IsZero() && c.Status != CertRevoked }

// CRLEntry is what a CRL needs of a certificate that is revoked or on
// hold (RFC 5280 5.1.2.6): its serial and how and since when it is
// revoked, without the rest of its row (CertificateStore.CRLEntries).
type CRLEntry struct {
	Serial    string // lower-case hex, as Certificate.Serial
	Status    CertStatus
	RevokedAt time.Time
	Reason    RevocationReason
	HeldAt    time.Time
}

// OnHold reports whether e is on hold, as Certificate.OnHold.
func (e *CRLEntry) OnHold() bool { return !e.HeldAt.IsZero() && e.Status != CertRevoked }

// CRLEntry returns c's CRL entry: OCSP answers from it as the CRL lists it.
func (c *Certificate) CRLEntry() *CRLEntry {
	return &CRLEntry{Serial: c.Serial, Status: c.Status, RevokedAt: c.RevokedAt, Reason: c.Reason, HeldAt: c.HeldAt}
}

// CertFilter narrows ListCertificates. Zero values match everything.
type CertFilter struct {
	CA     string
	UserID int64
	CardID int64
	Status CertStatus
	Limit  int
	Offset int
}

// RequestStatus is where a certificate request stands in the CA's queue.
type RequestStatus string

const (
	RequestPending  RequestStatus = "pending"
	RequestIssued   RequestStatus = "issued"
	RequestRejected RequestStatus = "rejected"
)

// CertRequest is a request waiting for (or decided by) a CA manager: a
// template whose RequiresCAApproval flag is set queues here instead of
// being signed at once.
type CertRequest struct {
	ID            int64         `json:"id"`
	CA            string        `json:"ca"`
	Template      string        `json:"template"`
	UserID        int64         `json:"user_id"`
	RequestedBy   int64         `json:"requested_by"`
	PublicKey     []byte        `json:"-"` // DER SubjectPublicKeyInfo
	CSR           []byte        `json:"-"` // DER, when the request came as a CSR
	KeySHA256     string        `json:"public_key_sha256"`
	Subject       string        `json:"subject"`
	Status        RequestStatus `json:"status"`
	CertificateID int64         `json:"certificate_id,omitempty"`
	DecidedBy     int64         `json:"decided_by,omitempty"`
	Comment       string        `json:"comment,omitempty"`
	CreatedAt     time.Time     `json:"created_at"`
	DecidedAt     time.Time     `json:"decided_at,omitzero"`
	// OperationID is the card issue that made the request (0: made
	// through the certificate API): the CA's decision goes back to it.
	OperationID int64 `json:"operation_id,omitempty"`
}

// CARecord is what the store keeps of a CA Lanyard runs itself: its
// certificates and its sealed private key.
type CARecord struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"` // registry key, e.g. "builtin"
	CertDER    []byte    `json:"-"`    // the issuing certificate
	ChainDER   [][]byte  `json:"-"`    // issuing certificate first, root last
	SealedKey  []byte    `json:"-"`    // AES-GCM sealed PKCS#8 private key
	CRLNumber  int64     `json:"crl_number"`
	CRLDER     []byte    `json:"-"` // latest CRL
	CRLUpdated time.Time `json:"crl_updated"`
	CreatedAt  time.Time `json:"created_at"`
}
