package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
)

// documentReaders see every user's documents; owners see their own
// through the same routes (the service checks).
var (
	documentReaders  = []lanyard.Role{lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleDocumentOfficer, lanyard.RoleCAManager}
	documentOfficers = []lanyard.Role{lanyard.RoleDocumentOfficer}
)

// uploadTypes is what the upload route documents it consumes.
const uploadTypes = "application/pdf, image/png, image/jpeg, application/pkcs7-signature"

// documentRoutes are the documents check: forms as PDF, signed uploads,
// the document officers' decisions.
func (s *Server) documentRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/cards/{id}/documents", summary: "The documents a card's certificates need, with their history (owner and staff)", tag: "documents", roles: anyone, out: []*apiv1.DocumentView{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				return documentViews(s.documents.CardDocuments(c.r.Context(), c.p, id))
			}},
		{method: "GET", path: v1 + "/cards/{id}/documents/{slot}/{file}", summary: "The form of a card slot's document as PDF; {file} is certificate_request.pdf or certificate_form.pdf", tag: "documents", roles: anyone, produces: "application/pdf", status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				kind, ok := strings.CutSuffix(c.r.PathValue("file"), ".pdf")
				if !ok {
					return nil, lanyard.Errorf(lanyard.ENotFound, "ask for certificate_request.pdf or certificate_form.pdf")
				}
				pdf, name, err := s.documents.CardDocumentForm(c.r.Context(), c.p, id, c.r.PathValue("slot"), lanyard.DocumentKind(kind))
				if err != nil {
					return nil, err
				}
				c.download("application/pdf", name, pdf)
				return nil, nil
			}},
		{method: "GET", path: v1 + "/documents", summary: "List documents (staff; state=uploaded is the document officers' queue), oldest first", tag: "documents", roles: documentReaders, out: []*apiv1.DocumentView{}, status: 200,
			query: []param{{"state", "string", "awaiting_upload, uploaded, approved or rejected"}, {"kind", "string", "certificate_request or certificate_form"}, {"user", "string", "owner login"}, {"card", "integer", "card ID"}, {"limit", "integer", "at most this many (max 1000)"}, {"offset", "integer", "skip this many"}},
			h:     s.listDocuments},
		{method: "GET", path: v1 + "/documents/{id}", summary: "Get a document with its uploads and decisions", tag: "documents", roles: anyone, out: &apiv1.DocumentView{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				return documentView(s.documents.GetDocument(c.r.Context(), c.p, id))
			}},
		{method: "GET", path: v1 + "/documents/{id}/form.pdf", summary: "The document's form as PDF (generated once, then kept byte for byte)", tag: "documents", roles: anyone, produces: "application/pdf", status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				pdf, name, err := s.documents.DocumentForm(c.r.Context(), c.p, id)
				if err != nil {
					return nil, err
				}
				c.download("application/pdf", name, pdf)
				return nil, nil
			}},
		{method: "POST", path: v1 + "/documents/{id}/uploads", summary: "Upload the signed document (the owner): the file is the body, its type the Content-Type (PDF, PNG, JPEG, or a detached CMS signature over the form), its name the query parameter name; at most 10 MiB", tag: "documents", roles: anyone, consumes: uploadTypes, out: &apiv1.DocumentView{}, status: 201,
			query: []param{{"name", "string", "the file's name"}}, h: s.uploadDocument},
		{method: "GET", path: v1 + "/documents/{id}/uploads/{version}", summary: "Download an uploaded version (owner and staff)", tag: "documents", roles: anyone, produces: "application/octet-stream", status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				v, err := c.pathInt("version")
				if err != nil {
					return nil, err
				}
				up, err := s.documents.DocumentFile(c.r.Context(), c.p, id, int(v))
				if err != nil {
					return nil, err
				}
				c.download(up.ContentType, up.FileName, up.Content)
				return nil, nil
			}},
		{method: "POST", path: v1 + "/documents/{id}/receipt", summary: "Record that the signed document arrived by other means (operators, document officers)", tag: "documents",
			roles: []lanyard.Role{lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleDocumentOfficer}, in: apiv1.Decision{}, out: &apiv1.DocumentView{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decision(c)
				if err != nil {
					return nil, err
				}
				return documentView(s.documents.RecordReceipt(c.r.Context(), c.p, id, in.Comment))
			}},
		{method: "POST", path: v1 + "/documents/{id}/approve", summary: "Approve the uploaded document (document officers)", tag: "documents", roles: documentOfficers, in: apiv1.Decision{}, out: &apiv1.DocumentView{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decision(c)
				if err != nil {
					return nil, err
				}
				return documentView(s.documents.DecideDocument(c.r.Context(), c.p, id, true, in.Comment))
			}},
		{method: "POST", path: v1 + "/documents/{id}/reject", summary: "Reject the uploaded document with a comment (document officers); the owner uploads again", tag: "documents", roles: documentOfficers, in: apiv1.Decision{}, out: &apiv1.DocumentView{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decision(c)
				if err != nil {
					return nil, err
				}
				return documentView(s.documents.DecideDocument(c.r.Context(), c.p, id, false, in.Comment))
			}},
	}
}

func (s *Server) listDocuments(c *call) (any, error) {
	q := c.r.URL.Query()
	limit, offset, err := c.page()
	if err != nil {
		return nil, err
	}
	f := lanyard.DocumentFilter{State: lanyard.DocumentState(q.Get("state")), Kind: lanyard.DocumentKind(q.Get("kind")), Limit: limit, Offset: offset}
	if v := q.Get("card"); v != "" {
		if f.CardID, err = strconv.ParseInt(v, 10, 64); err != nil || f.CardID <= 0 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "query parameter card=%q must be a card ID", v)
		}
	}
	if login := q.Get("user"); login != "" {
		u, err := s.identity.GetUser(c.r.Context(), c.p, login)
		if err != nil {
			return nil, err
		}
		f.UserID = u.ID
	}
	return documentViews(s.documents.ListDocuments(c.r.Context(), c.p, f))
}

// uploadDocument reads the raw body — not JSON, not multipart: the file
// is the body — bounded by documents.MaxDocumentSize.
func (s *Server) uploadDocument(c *call) (any, error) {
	id, err := c.pathInt("id")
	if err != nil {
		return nil, err
	}
	if c.r.ContentLength > documents.MaxDocumentSize {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, documents.MaxDocumentSize))
	var big *http.MaxBytesError
	if errors.As(err, &big) {
		return nil, tooLarge()
	}
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInvalid, err, "the upload was interrupted; try again")
	}
	return documentView(s.documents.UploadDocument(c.r.Context(), c.p, id, documents.UploadInput{
		FileName: c.r.URL.Query().Get("name"), ContentType: c.r.Header.Get("Content-Type"), Content: body}))
}

func tooLarge() error {
	return lanyard.Errorf(lanyard.ETooLarge, "the file exceeds %d MiB, the limit for documents", documents.MaxDocumentSize>>20)
}

// download sends a file as an attachment. Uploaded files come from users:
// the browser must save them, never render them in Lanyard's origin, so
// they also get a sandboxing CSP.
func (c *call) download(contentType, name string, body []byte) {
	h := c.w.Header()
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	c.raw(contentType, body)
}
