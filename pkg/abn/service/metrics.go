package service

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/status"
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
