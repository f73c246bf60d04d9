package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that several servers (tests) can run in one process.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	issued   prometheus.Counter
	// forwarded counts card requests sent to another replica of the
	// cluster (forward.go), by why: the request named the workstation,
	// or the card workflow found the card elsewhere.
	forwarded *prometheus.CounterVec
	handler   http.Handler
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lanyard_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "lanyard_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.issued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "lanyard_certificates_issued_total", Help: "Certificates issued through the API.",
	})
	m.forwarded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lanyard_cluster_forwarded_requests_total", Help: "Card requests forwarded to the replica holding the workstation's agent, by reason (workstation, elsewhere) and outcome (ok, failed).",
	}, []string{"reason", "outcome"})
	m.reg.MustRegister(m.requests, m.duration, m.issued, m.forwarded,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// statusWriter remembers the status code for the request counter.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap counts and times requests to one route.
func (m *metrics) wrap(route string, h http.Handler) http.Handler {
	hist := m.duration.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		hist.Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

func (s *Server) serveMetrics(c *call) (any, error) {
	s.metrics.handler.ServeHTTP(c.w, c.r)
	c.wrote = true
	return nil, nil
}
