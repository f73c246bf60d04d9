package web

import (
	"reflect"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
)

// TestDocumentViewConversionKeepsEveryField guards the one converter that
// copies field by field: a field added to documents.DocumentView and not
// copied would silently vanish from the API.
func TestDocumentViewConversionKeepsEveryField(t *testing.T) {
	in := &documents.DocumentView{
		Document: &lanyard.Document{ID: 7}, Owner: "alice", CardSerial: "C1", TemplateName: "esign",
		Uploads:   []*documents.UploadView{{DocumentUpload: &lanyard.DocumentUpload{Version: 1}, UploadedByLogin: "alice"}},
		Decisions: []*documents.DecisionView{{DocumentDecision: &lanyard.DocumentDecision{ID: 2}, DecidedByLogin: "olga"}},
		Actions:   []string{"download"}, Channel: lanyard.DocumentsChannel("upload"), Links: map[string]string{"form": "/f"},
	}
	if n, m := reflect.TypeOf(*in).NumField(), reflect.TypeOf(*toDocumentView(in)).NumField(); n != m {
		t.Fatalf("documents.DocumentView has %d fields, apiv1.DocumentView %d", n, m)
	}
	out := reflect.ValueOf(*toDocumentView(in))
	for i := range out.NumField() {
		if out.Field(i).IsZero() {
			t.Errorf("field %s not copied", out.Type().Field(i).Name)
		}
	}
	if got := toDocumentView(in); got.Uploads[0].UploadedByLogin != "alice" || got.Decisions[0].DecidedByLogin != "olga" {
		t.Errorf("uploads or decisions not converted: %+v %+v", got.Uploads[0], got.Decisions[0])
	}
	// nil lists stay nil (encoded as null, as before the wire types moved).
	if got := toDocumentView(&documents.DocumentView{}); got.Uploads != nil || got.Decisions != nil {
		t.Errorf("nil lists became %v, %v", got.Uploads, got.Decisions)
	}
}
