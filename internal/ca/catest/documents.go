package catest

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// Documents are outside what a CA uses (see stubs.go).

func (*tx) CreateDocument(*lanyard.Document) error { return notImplemented("CreateDocument") }
func (*tx) UpdateDocument(*lanyard.Document, lanyard.DocumentState) error {
	return notImplemented("UpdateDocument")
}
func (*tx) DocumentByID(int64) (*lanyard.Document, error) { return nil, notImplemented("DocumentByID") }
func (*tx) ListDocuments(lanyard.DocumentFilter) ([]*lanyard.Document, error) {
	return nil, notImplemented("ListDocuments")
}
func (*tx) SetDocumentForm(int64, []byte, string) error { return notImplemented("SetDocumentForm") }
func (*tx) DocumentForm(int64) ([]byte, error)          { return nil, notImplemented("DocumentForm") }
func (*tx) CreateDocumentUpload(*lanyard.DocumentUpload) error {
	return notImplemented("CreateDocumentUpload")
}
func (*tx) DocumentUploads(int64) ([]*lanyard.DocumentUpload, error) {
	return nil, notImplemented("DocumentUploads")
}
func (*tx) DocumentUpload(int64, int) (*lanyard.DocumentUpload, error) {
	return nil, notImplemented("DocumentUpload")
}
func (*tx) CreateDocumentDecision(*lanyard.DocumentDecision) error {
	return notImplemented("CreateDocumentDecision")
}
func (*tx) DocumentDecisions(int64) ([]*lanyard.DocumentDecision, error) {
	return nil, notImplemented("DocumentDecisions")
}
