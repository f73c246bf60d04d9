package web

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/prometheus/client_golang/prometheus"
)

// The Card Monitor's part of the API and /metrics (docs/lifecycle.md,
// "Card Monitor"): the counts of cards by content status, for the
// console's dashboard and for monitoring.

// contentReaders may see the counts over every user's cards.
var contentReaders = []lanyard.Role{lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor}

func (s *Server) cardContentRoutes() []*route {
	return []*route{
		{method: "GET", path: "/api/v1/card-content-status", summary: "Count cards by content status (the Card Monitor's: none, managed_expiring, managed_expired, tracked_expiring, tracked_expired)",
			tag: "cards", roles: contentReaders, out: []*apiv1.ContentStatusCount{}, status: 200,
			h: func(c *call) (any, error) { return contentCounts(s.cards.ContentStatusCounts(c.r.Context(), c.p)) }},
	}
}

// contentCounts lists counts in the order of lanyard.ContentStatuses.
func contentCounts(counts map[lanyard.ContentStatus]int, err error) ([]*apiv1.ContentStatusCount, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*apiv1.ContentStatusCount, len(lanyard.ContentStatuses))
	for i, st := range lanyard.ContentStatuses {
		out[i] = &apiv1.ContentStatusCount{Status: st, Label: st.Label(), Cards: counts[st]}
	}
	return out, nil
}

// contentStatusFilter reads the content_status filter of the cards list.
func contentStatusFilter(v string) (lanyard.ContentStatus, error) {
	if v == "" {
		return "", nil
	}
	return lanyard.ParseContentStatus(v)
}

// ContentCounts gives the Card Monitor's counts of cards by content
// status as of its last run (internal/service/monitor's Monitor): ok is
// false before the first.
type ContentCounts interface {
	ContentStatusCounts() (by map[lanyard.ContentStatus]int, at time.Time, ok bool)
}

// contentCollector is the lanyard_cards_content_status gauge. /metrics is
// open (Prometheus scrapes it without credentials, like the request
// counters beside it), so a scrape reads the counts the Card Monitor's
// last run left in memory and never queries the database.
type contentCollector struct {
	counts ContentCounts
	desc   *prometheus.Desc
}

func newContentCollector(counts ContentCounts) *contentCollector {
	return &contentCollector{counts: counts, desc: prometheus.NewDesc("lanyard_cards_content_status",
		"Cards by content status, as the Card Monitor last found them.", []string{"status"}, nil)}
}

func (c *contentCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect sends nothing before the monitor's first run: no value is
// better than a wrong zero.
func (c *contentCollector) Collect(ch chan<- prometheus.Metric) {
	counts, _, ok := c.counts.ContentStatusCounts()
	if !ok {
		return
	}
	for _, st := range lanyard.ContentStatuses {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}
