package piv

import (
	"bytes"
	"context"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Application is the application property template that SELECT returns
// (SP 800-73-4 Part 2 3.1.1, table 3).
type Application struct {
	// AID is the application identifier (tag 4F); cards return the PIX,
	// 00 00 10 00 01 00, or the whole AID.
	AID []byte
	// Authority is the AID of the coexistent tag allocation authority
	// (79/4F), A0 00 00 03 08 for NIST.
	Authority []byte
	// Label is the application label (50), URL the uniform resource
	// locator (5F50); both optional.
	Label, URL string
	// Algorithms lists the cryptographic algorithms the card claims (AC/80);
	// many cards leave them out.
	Algorithms []Algorithm
}

// Select selects the PIV application (SELECT, SP 800-73-4 Part 2 3.1.1)
// and returns its application property template. A card that answers
// 9000 without a template yields an empty Application. ErrNotFound means
// the card has no PIV application.
//
// Selecting resets the card's security status on most cards: PIN and
// management key must be verified again.
func (c *Card) Select(ctx context.Context) (Application, error) {
	// The RID alone selects any version of the application (3.1.1 allows
	// right-truncated AIDs).
	data, err := c.do(ctx, "SELECT", apdu.Command{INS: pivspec.InsSelect, P1: 0x04, Data: pivspec.RID(), Le: apdu.MaxShortLe})
	if err != nil {
		return Application{}, err
	}
	if len(data) == 0 {
		return Application{}, nil
	}
	app, err := parseApplication(data)
	if err != nil {
		return Application{}, fmt.Errorf("piv: SELECT: %w", err)
	}
	return app, nil
}

// parseApplication decodes 61 { 4F, 79 { 4F }, 50, 5F50, AC { 80…, 06 } }.
// Unknown tags are ignored, as the template may grow.
func parseApplication(b []byte) (Application, error) {
	v, err := apdu.Unwrap(b, pivspec.TagApplication)
	if err != nil {
		return Application{}, fmt.Errorf("application property template: %w", err)
	}
	tlvs, err := apdu.ParseTLVs(v)
	if err != nil {
		return Application{}, fmt.Errorf("application property template: %w", err)
	}
	var app Application
	for _, t := range tlvs {
		switch t.Tag {
		case pivspec.TagAID:
			app.AID = bytes.Clone(t.Value)
		case pivspec.TagAuthority:
			inner, err := t.Children()
			if err != nil {
				return Application{}, fmt.Errorf("application property template, tag 79: %w", err)
			}
			if a, ok := apdu.Find(inner, pivspec.TagAID); ok {
				app.Authority = bytes.Clone(a.Value)
			}
		case pivspec.TagLabel:
			app.Label = string(t.Value)
		case pivspec.TagURL:
			app.URL = string(t.Value)
		case pivspec.TagAlgorithms:
			inner, err := t.Children()
			if err != nil {
				return Application{}, fmt.Errorf("application property template, tag AC: %w", err)
			}
			for _, a := range inner {
				if a.Tag == pivspec.TagAlgorithm && len(a.Value) == 1 {
					app.Algorithms = append(app.Algorithms, Algorithm(a.Value[0]))
				}
			}
		}
	}
	if len(app.AID) == 0 {
		return Application{}, fmt.Errorf("%w application property template: no application identifier (4F)", apdu.ErrMalformed)
	}
	return app, nil
}
