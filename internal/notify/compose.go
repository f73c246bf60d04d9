package notify

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// compose builds the RFC 5322 message: text (quoted-printable), an HTML
// alternative when there is one (RFC 2046 multipart/alternative) and
// attachments in base64 (multipart/mixed). Header values are encoded
// (RFC 2047) and never contain line breaks.
func compose(from *mail.Address, to []string, subject string, c *content, date time.Time, msgID string) ([]byte, error) {
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	rcpts := make([]string, len(to))
	for i, a := range to {
		rcpts[i] = (&mail.Address{Address: a}).String()
	}
	hdr("To", strings.Join(rcpts, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("Message-ID", msgID)
	hdr("MIME-Version", "1.0")
	hdr("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies, please
	if c.HTML == "" && len(c.Attachments) == 0 {
		hdr("Content-Type", "text/plain; charset=utf-8")
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, c.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	mixed := multipart.NewWriter(&b)
	top, kind := mixed, "mixed"
	if len(c.Attachments) == 0 {
		kind = "alternative"
	}
	hdr("Content-Type", mime.FormatMediaType("multipart/"+kind, map[string]string{"boundary": top.Boundary()}))
	b.WriteString("\r\n")
	if err := writeBody(top, c, len(c.Attachments) > 0); err != nil {
		return nil, err
	}
	for _, a := range c.Attachments {
		h := textproto.MIMEHeader{}
		ctype := a.ContentType
		if _, _, err := mime.ParseMediaType(ctype); err != nil {
			ctype = "application/octet-stream"
		}
		h.Set("Content-Type", ctype)
		h.Set("Content-Transfer-Encoding", "base64")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
		w, err := top.CreatePart(h)
		if err != nil {
			return nil, err
		}
		if err := writeBase64(w, a.Data); err != nil {
			return nil, err
		}
	}
	if err := top.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeBody writes the text and HTML parts into mp: directly when mp is
// the alternative, or in a nested alternative when mp is mixed.
func writeBody(mp *multipart.Writer, c *content, nested bool) error {
	textPart := func(w *multipart.Writer, ctype, s string) error {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", ctype+"; charset=utf-8")
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := w.CreatePart(h)
		if err != nil {
			return err
		}
		return writeQP(pw, s)
	}
	if c.HTML == "" {
		return textPart(mp, "text/plain", c.Text)
	}
	alt := mp
	if nested {
		var buf bytes.Buffer
		alt = multipart.NewWriter(&buf)
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": alt.Boundary()}))
		pw, err := mp.CreatePart(h)
		if err != nil {
			return err
		}
		if err := textPart(alt, "text/plain", c.Text); err != nil {
			return err
		}
		if err := textPart(alt, "text/html", c.HTML); err != nil {
			return err
		}
		if err := alt.Close(); err != nil {
			return err
		}
		_, err = pw.Write(buf.Bytes())
		return err
	}
	if err := textPart(alt, "text/plain", c.Text); err != nil {
		return err
	}
	return textPart(alt, "text/html", c.HTML)
}

func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, strings.ReplaceAll(s, "\r\n", "\n")); err != nil {
		return err
	}
	return qp.Close()
}

// writeBase64 writes data in lines of 76 characters (RFC 2045 6.8).
func writeBase64(w io.Writer, data []byte) error {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		if _, err := io.WriteString(w, enc[:76]+"\r\n"); err != nil {
			return err
		}
		enc = enc[76:]
	}
	_, err := io.WriteString(w, enc+"\r\n")
	return err
}

// messageID makes a Message-ID (RFC 5322 3.6.4) in the sender's domain.
func messageID(random []byte, from *mail.Address) string {
	domain := "lanyard.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 && i < len(from.Address)-1 {
		domain = from.Address[i+1:]
	}
	return "<" + hex.EncodeToString(random) + "@" + domain + ">"
}
