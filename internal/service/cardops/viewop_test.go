package cardops_test

import (
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// Card views never show a sealed value an operation records, whatever
// its kind, nor a record that is not a JSON object.
func TestViewOperationStripsSealedFields(t *testing.T) {
	for _, kind := range []lanyard.OperationKind{lanyard.OpIssue, lanyard.OpClear, lanyard.OperationKind("future")} {
		op := &lanyard.Operation{Kind: kind, Data: []byte(`{"new_puk":"c2VhbGVk","owner_pin":"eA==","pin_copy":"eQ==","slots":["9a"]}`)}
		got := cardops.ViewOperation(op)
		if s := string(got.Data); strings.Contains(s, "new_puk") || strings.Contains(s, "owner_pin") || strings.Contains(s, "pin_copy") || !strings.Contains(s, `"slots"`) {
			t.Errorf("%s: %s", kind, s)
		}
		if !strings.Contains(string(op.Data), "new_puk") {
			t.Errorf("%s: the stored record was changed", kind)
		}
	}
	if got := cardops.ViewOperation(&lanyard.Operation{Kind: lanyard.OpClear, Data: []byte(`"not an object"`)}); got.Data != nil {
		t.Errorf("a record that is not an object is shown: %s", got.Data)
	}
}
