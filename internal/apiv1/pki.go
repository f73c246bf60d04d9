package apiv1

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// CAInfo describes a running CA.
type CAInfo struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	Chain   string `json:"chain_pem"` // issuing certificate first, root last
	CRLURL  string `json:"crl_url"`
	OCSPURL string `json:"ocsp_url"`
}

// IssueInput asks for a certificate. Exactly one of CSR and PublicKey is
// given: a PKCS#10 request (its signature is checked; its subject is ignored
// because the template builds the subject from the user's attributes), or a
// bare SubjectPublicKeyInfo for keys generated on a card (staff only: a
// user proves possession of the key with a CSR).
type IssueInput struct {
	Template  string `json:"template"`
	User      string `json:"user,omitempty"`       // login; default: the caller
	CSR       string `json:"csr,omitempty"`        // PEM or base64 DER
	PublicKey string `json:"public_key,omitempty"` // PEM or base64 DER SubjectPublicKeyInfo
}

// IssueResult is either an issued certificate or a queued request.
type IssueResult struct {
	Certificate *lanyard.Certificate `json:"certificate,omitempty"`
	PEM         string               `json:"pem,omitempty"`
	Request     *lanyard.CertRequest `json:"request,omitempty"` // set when the template requires CA approval
}

// RequestView is a certificate request with the logins of the user it is
// for and of who asked, as the CA managers' queue shows them.
type RequestView struct {
	*lanyard.CertRequest
	User        string `json:"user,omitempty"`
	RequestedBy string `json:"requested_by_login,omitempty"`
	// SignedForm is the owner's signed certificate request form the
	// request waits for (documents check), when its card issue needs one.
	SignedForm *RequestForm `json:"signed_form,omitempty"`
}
