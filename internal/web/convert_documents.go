package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
)

// Converters from the documents capability's views to their wire form
// (internal/apiv1). nil stays nil and empty stays empty: the lists are
// encoded without omitempty.

func documentView(v *documents.DocumentView, err error) (*apiv1.DocumentView, error) {
	return toDocumentView(v), err
}

func documentViews(v []*documents.DocumentView, err error) ([]*apiv1.DocumentView, error) {
	if v == nil {
		return nil, err
	}
	out := make([]*apiv1.DocumentView, len(v))
	for i, d := range v {
		out[i] = toDocumentView(d)
	}
	return out, err
}

func toDocumentView(v *documents.DocumentView) *apiv1.DocumentView {
	if v == nil {
		return nil
	}
	out := &apiv1.DocumentView{Document: v.Document, Owner: v.Owner, CardSerial: v.CardSerial, TemplateName: v.TemplateName,
		Actions: v.Actions, Channel: v.Channel, Links: v.Links}
	if v.Uploads != nil {
		out.Uploads = make([]*apiv1.UploadView, len(v.Uploads))
		for i, u := range v.Uploads {
			out.Uploads[i] = (*apiv1.UploadView)(u)
		}
	}
	if v.Decisions != nil {
		out.Decisions = make([]*apiv1.DecisionView, len(v.Decisions))
		for i, d := range v.Decisions {
			out.Decisions[i] = (*apiv1.DecisionView)(d)
		}
	}
	return out
}

// requestForms converts the signed request forms of CA requests.
func requestForms(v map[int64]*documents.RequestForm, err error) (map[int64]*apiv1.RequestForm, error) {
	if v == nil {
		return nil, err
	}
	out := make(map[int64]*apiv1.RequestForm, len(v))
	for id, f := range v {
		out[id] = (*apiv1.RequestForm)(f)
	}
	return out, err
}
