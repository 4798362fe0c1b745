package service

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/pkg/abn"
)

// metrics are the service's own Prometheus metrics, in a registry of its
// own (so that tests can run several services in one process).
type metrics struct {
	registry           *prometheus.Registry
	requests           *prometheus.CounterVec
	duration           *prometheus.HistogramVec
	assignments        *prometheus.CounterVec
	assignmentsDropped prometheus.Counter
	storeErrors        *prometheus.CounterVec
	// lookups holds the counter of assignments of each [application,
	// version].
	lookups sync.Map
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "abn_requests_total", Help: "gRPC calls handled, by method and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "abn_request_duration_seconds", Help: "Time to handle a gRPC call, by method.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16),
		}, []string{"method"}),
		assignments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "abn_lookups_total", Help: "Successful lookups, by application and version assigned.",
		}, []string{"application", "version"}),
		assignmentsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "abn_assignments_dropped_total", Help: "Assignments not written to the store because too many were pending.",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "abn_store_errors_total", Help: "Failed store operations, by operation (write, assignments, read).",
		}, []string{"operation"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.assignments, m.assignmentsDropped, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) registerPending(n func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "abn_assignments_pending", Help: "Assignments waiting to be written to the store.",
	}, func() float64 { return float64(n()) }))
}

// assigned counts a lookup that assigned a user of app to version. The
// counter of each pair is resolved once.
func (m *metrics) assigned(app, version string) {
	key := [2]string{app, version}
	c, ok := m.lookups.Load(key)
	if !ok {
		c, _ = m.lookups.LoadOrStore(key, m.assignments.WithLabelValues(app, version))
	}
	c.(prometheus.Counter).Inc()
}

// methodMetrics are a method's metrics, resolved once: looking labels up
// on every call costs more than the rest of a lookup.
type methodMetrics struct {
	method   string
	requests *prometheus.CounterVec
	ok       prometheus.Counter
	duration prometheus.Observer
}

// forMethods resolves the metrics of the given methods.
func (m *metrics) forMethods(methods []string) map[string]methodMetrics {
	out := map[string]methodMetrics{}
	for _, name := range methods {
		out[name] = methodMetrics{
			method:   name,
			requests: m.requests,
			ok:       m.requests.WithLabelValues(name, "OK"),
			duration: m.duration.WithLabelValues(name),
		}
	}
	return out
}

// observe counts and times a call that started at start and returned err.
func (m methodMetrics) observe(start time.Time, err error) {
	m.duration.Observe(time.Since(start).Seconds())
	if err == nil {
		m.ok.Inc()
		return
	}
	m.requests.WithLabelValues(m.method, status.Code(err).String()).Inc()
}

// The series of each application's results, read from the store when
// Prometheus scrapes.
var (
	usersDesc = prometheus.NewDesc("abn_users",
		"Distinct users assigned, by application and version (read from the store at scrape time).", []string{"application", "version"}, nil)
	transactionsDesc = prometheus.NewDesc("abn_transactions",
		"Metric values written, by application and version (read from the store at scrape time).", []string{"application", "version"}, nil)
	perUserDesc = prometheus.NewDesc("abn_metric_mean_per_user",
		"Mean per user of a metric, by application, version and metric (read from the store at scrape time).", []string{"application", "version", "metric"}, nil)
)

// resultsCollector exports the users, transactions and each metric's mean
// per user of every version of every application, as the report has them.
// An application whose results cannot be read is left out of the scrape
// (the failure is counted in abn_store_errors_total).
type resultsCollector struct{ s *Service }

func (c resultsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- usersDesc
	ch <- transactionsDesc
	ch <- perUserDesc
}

func (c resultsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, app := range c.s.apps.Names() {
		res, err := c.s.Results(ctx, app)
		if err != nil {
			continue
		}
		for _, v := range abn.Analyze(res).Versions {
			ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, float64(v.Users), app, v.Name)
			ch <- prometheus.MustNewConstMetric(transactionsDesc, prometheus.GaugeValue, float64(v.Transactions), app, v.Name)
			for _, m := range v.Metrics {
				ch <- prometheus.MustNewConstMetric(perUserDesc, prometheus.GaugeValue, m.PerUser.Mean, app, v.Name, m.Name)
			}
		}
	}
}
