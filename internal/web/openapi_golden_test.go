package web_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/openapi.json from the server's document")

// The API's wire format is a promise to its clients: the OpenAPI
// document, generated from the request, response and view types, is
// compared with testdata/openapi.json, so that moving or refactoring
// those types (issue 15: internal/apiv1) cannot rename, drop or retype a
// field unnoticed. After an intended change of the API, rewrite it with
// `go test ./internal/web/ -run TestOpenAPIGolden -update` and review the
// diff.
func TestOpenAPIGolden(t *testing.T) {
	e := mustEnv(t)
	var doc any
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/openapi.json", "", nil).body, &doc); err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(doc, "", "  ") // maps marshal with sorted keys: a stable text
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "openapi.json")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		_ = os.WriteFile(filepath.Join(t.TempDir(), "openapi.json"), got, 0o644)
		t.Fatalf("the OpenAPI document differs from %s: the API changed. If that is intended, run with -update and review the diff", path)
	}
}
