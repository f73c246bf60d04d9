package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// maxBody bounds request bodies; the largest legitimate body (a CSR for a
// 4096-bit key, a policy) is a few kilobytes.
const maxBody = 1 << 20

// decodeJSON reads exactly one JSON value of the request body into v,
// refusing unknown fields, trailing data, wrong content types and bodies
// over maxBody. Errors carry messages that name the problem.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return lanyard.Errorf(codeUnsupportedMedia, "send the body as application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return lanyard.Errorf(lanyard.EInvalid, "request body must hold exactly one JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		return lanyard.Errorf(lanyard.ETooLarge, "request body exceeds %d bytes", big.Limit)
	case errors.Is(err, io.EOF):
		return lanyard.Errorf(lanyard.EInvalid, "request body is empty; send a JSON object")
	case errors.As(err, &syn):
		return lanyard.Errorf(lanyard.EInvalid, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return lanyard.Errorf(lanyard.EInvalid, "field %q: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
		}
		return lanyard.Errorf(lanyard.EInvalid, "expected %s, got JSON %s", typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return lanyard.Errorf(lanyard.EInvalid, "malformed JSON: unexpected end of body")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return lanyard.Errorf(lanyard.EInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return lanyard.Errorf(lanyard.EInvalid, "malformed JSON: %s", trimJSONPrefix(err))
}

func trimJSONPrefix(err error) string {
	return strings.TrimPrefix(fmt.Sprint(err), "json: ")
}
