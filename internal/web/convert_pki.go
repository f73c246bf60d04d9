package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
)

// Converters from the pki capability's results to their wire form
// (internal/apiv1), passing the service's error through.

func caInfo(v *pki.CAInfo, err error) (*apiv1.CAInfo, error) {
	return (*apiv1.CAInfo)(v), err
}

func caInfos(v []*pki.CAInfo, err error) ([]*apiv1.CAInfo, error) {
	if v == nil {
		return nil, err
	}
	out := make([]*apiv1.CAInfo, len(v))
	for i, c := range v {
		out[i] = (*apiv1.CAInfo)(c)
	}
	return out, err
}

func issueResult(v *pki.IssueResult, err error) (*apiv1.IssueResult, error) {
	return (*apiv1.IssueResult)(v), err
}
