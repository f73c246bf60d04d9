package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The documents check from the command line: the same forms, uploads and
// decisions as the Contents tab and the console's Documents page.
func documentCommands() []command {
	return []command{
		{"document list", "document list [--card ID] [--state awaiting_upload|uploaded|approved|rejected]", "list documents (yours; document officers and staff: all)", documentList},
		{"document form", "document form ID [--out FILE]", "download the form to sign as PDF (default: document-ID.pdf)", documentForm},
		{"document upload", "document upload ID FILE", "upload the signed document: a PDF, a PNG/JPEG scan, or a detached CMS signature (.p7s)", documentUpload},
		{"document approve", "document approve ID [--comment TEXT]", "approve an uploaded document (document officers)", documentDecide("approve")},
		{"document reject", "document reject ID --comment TEXT", "reject an uploaded document, saying why (document officers)", documentDecide("reject")},
		{"document receipt", "document receipt ID --note TEXT", "record that the signed document arrived by other means (operators, document officers)", documentDecide("receipt")},
	}
}

func documentList(ctx context.Context, args []string) error {
	cmd := newClientCmd("document list")
	card := cmd.String("card", "", "the card's documents")
	state := cmd.String("state", "", "only documents in this state")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	path := "/api/v1/documents"
	if *card != "" {
		path = "/api/v1/cards/" + client.Esc(*card) + "/documents"
	} else if *state != "" {
		path += "?state=" + client.Esc(*state)
	}
	var docs []*apiv1.DocumentView
	err = c.Get(ctx, path, &docs)
	if lanyard.IsCode(err, lanyard.EForbidden) && *card == "" {
		// Not a reviewer: the documents of the caller's own cards.
		docs, err = ownDocuments(ctx, c, *state)
	}
	if err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, docs, []string{"ID", "CARD", "SLOT", "TEMPLATE", "KIND", "STATE", "OWNER", "UPLOADS"}, func(d *apiv1.DocumentView) []string {
		return []string{strconv.FormatInt(d.ID, 10), d.CardSerial, d.Slot, d.Template, string(d.Kind), string(d.State), d.Owner, strconv.Itoa(len(d.Uploads))}
	})
}

func documentForm(ctx context.Context, args []string) error {
	cmd := newClientCmd("document form")
	out := cmd.String("out", "", "file to write (default document-ID.pdf)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var pdf []byte
	if _, err := c.Do(ctx, "GET", "/api/v1/documents/"+client.Esc(pos[0])+"/form.pdf", nil, &pdf); err != nil {
		return err
	}
	if *out == "" {
		*out = "document-" + pos[0] + ".pdf"
	}
	if err := os.WriteFile(*out, pdf, 0o644); err != nil {
		return err
	}
	fmt.Printf("Wrote %s (%d bytes): sign it, then lanyard document upload %s FILE\n", *out, len(pdf), pos[0])
	return nil
}

// uploadTypes maps file extensions to the media types the server accepts.
var uploadTypes = map[string]string{
	".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".p7s": "application/pkcs7-signature", ".p7m": "application/pkcs7-signature", ".der": "application/pkcs7-signature", ".pem": "application/pkcs7-signature",
}

func documentUpload(ctx context.Context, args []string) error {
	cmd := newClientCmd("document upload")
	pos, c, err := cmd.start(args, 2)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(pos[1])
	if err != nil {
		return err
	}
	ct, ok := uploadTypes[strings.ToLower(filepath.Ext(pos[1]))]
	if !ok {
		return fmt.Errorf("%s: upload a .pdf, .png, .jpg or a detached signature (.p7s)", pos[1])
	}
	var v apiv1.DocumentView
	path := "/api/v1/documents/" + client.Esc(pos[0]) + "/uploads?name=" + client.Esc(filepath.Base(pos[1]))
	if _, err := c.PostRaw(ctx, path, ct, body, &v); err != nil {
		return err
	}
	return printOne(&cmd.clientFlags, &v, [][2]string{{"Document", strconv.FormatInt(v.ID, 10)}, {"State", string(v.State)}, {"Uploads", strconv.Itoa(len(v.Uploads))}})
}

func documentDecide(action string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		cmd := newClientCmd("document " + action)
		flag := "comment"
		if action == "receipt" {
			flag = "note"
		}
		text := cmd.String(flag, "", "the "+flag)
		pos, c, err := cmd.start(args, 1)
		if err != nil {
			return err
		}
		var v apiv1.DocumentView
		if _, err := c.Post(ctx, "/api/v1/documents/"+client.Esc(pos[0])+"/"+action, apiv1.Decision{Comment: *text}, &v); err != nil {
			return err
		}
		return printOne(&cmd.clientFlags, &v, [][2]string{{"Document", strconv.FormatInt(v.ID, 10)}, {"State", string(v.State)}})
	}
}

// ownDocuments lists the documents of the caller's cards.
func ownDocuments(ctx context.Context, c *client.Client, state string) ([]*apiv1.DocumentView, error) {
	var cards []*apiv1.CardView
	if err := c.Get(ctx, "/api/v1/cards", &cards); err != nil {
		return nil, err
	}
	var out []*apiv1.DocumentView
	for _, card := range cards {
		var docs []*apiv1.DocumentView
		if err := c.Get(ctx, "/api/v1/cards/"+strconv.FormatInt(card.ID, 10)+"/documents", &docs); err != nil {
			return nil, err
		}
		for _, d := range docs {
			if state == "" || string(d.State) == state {
				out = append(out, d)
			}
		}
	}
	return out, nil
}
