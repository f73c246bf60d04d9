package apiv1

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// DocumentView is a document with its history, as Self-Service and the
// console show it.
type DocumentView struct {
	*lanyard.Document
	Owner        string          `json:"owner,omitempty"`
	CardSerial   string          `json:"card_serial,omitempty"`
	TemplateName string          `json:"template_name,omitempty"`
	Uploads      []*UploadView   `json:"uploads"`   // oldest first
	Decisions    []*DecisionView `json:"decisions"` // oldest first
	Actions      []string        `json:"actions"`   // what the caller may do: download, upload, decide, receipt
	// Channel is how the owner's policy has documents reach the
	// reviewers: uploaded in Self-Service, or sent by other means.
	Channel lanyard.DocumentsChannel `json:"channel"`
	Links   map[string]string        `json:"links,omitempty"`
}

// UploadView is one uploaded version, with who uploaded it.
type UploadView struct {
	*lanyard.DocumentUpload
	UploadedByLogin string `json:"uploaded_by_login,omitempty"`
}

// DecisionView is one decision, with who made it.
type DecisionView struct {
	*lanyard.DocumentDecision
	DecidedByLogin string `json:"decided_by_login,omitempty"`
}

// RequestForm is the owner's signed certificate request form that a
// card's CA request waits for when the policy's documents check asks for
// it (guide: "Submit a signed certificate request form for it to be
// approved in the CA. The administrator can precheck the certificate
// request before it is sent to the CA"). The CA queue shows it beside the
// request; ApproveRequest refuses the request until Ready.
type RequestForm struct {
	DocumentID int64                 `json:"document_id"`
	State      lanyard.DocumentState `json:"state"`
	// Precheck: a document officer must accept the form first.
	Precheck bool `json:"precheck,omitempty"`
	// Ready: the CA manager may approve the request.
	Ready bool `json:"ready"`
	// Reason says why the request still waits ("" when Ready).
	Reason string `json:"reason,omitempty"`
	// Latest is the newest version supplied (upload or receipt).
	Latest *lanyard.DocumentUpload `json:"latest,omitempty"`
	// Signature describes the latest version's signature as Lanyard
	// knows it: verified CMS signer, a signed PDF or scan to look at, or
	// a receipt by other means.
	Signature string `json:"signature,omitempty"`
	// SuppliedBy is who uploaded the latest version or recorded its
	// receipt (login).
	SuppliedBy string            `json:"supplied_by,omitempty"`
	Links      map[string]string `json:"links"` // form: the PDF to sign; file: the latest version
}
