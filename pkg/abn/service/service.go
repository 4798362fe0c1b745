// Package service is the A/B/n service: the gRPC API of abn.proto (Lookup,
// WriteMetric, WriteMetrics, GetResults) and Iter8's API (main.ABN, for
// front ends written for Iter8) with gRPC health checking and server
// reflection, and an HTTP server with the results as JSON
// (/v1/results/{application}), Prometheus metrics (/metrics) and probes
// (/healthz, /readyz).
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/abn/store"
)

// Options configure a Service. The zero value is ready to use.
type Options struct {
	// AssignmentFlushInterval is how often the users that Lookup assigned
	// are written to the store, in one batch; a crash loses at most this
	// much of them (the users that write metrics are stored with each
	// value). Default: 1s.
	AssignmentFlushInterval time.Duration
	// MaxPendingAssignments bounds the assignments waiting for the next
	// flush; beyond it, while the store is failing, they are dropped and
	// counted in abn_assignments_dropped_total. Default: 1,000,000.
	MaxPendingAssignments int
	// ShutdownTimeout bounds how long Run waits for calls in flight when it
	// stops. Default: 10s.
	ShutdownTimeout time.Duration
	// Logger receives the service's log; default: slog.Default().
	Logger *slog.Logger
	// Namespace qualifies application names in Iter8's API (main.ABN),
	// which names them namespace/name: the namespace of the Routes, or the
	// one the service runs in. Default: default.
	Namespace string
}

func (o *Options) normalize() {
	if o.AssignmentFlushInterval <= 0 {
		o.AssignmentFlushInterval = time.Second
	}
	if o.MaxPendingAssignments <= 0 {
		o.MaxPendingAssignments = 1_000_000
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
}

// Service implements the A/B/n API over Applications and a Store.
type Service struct {
	abnpb.UnimplementedABNServer
	apps        abn.Applications
	store       store.Store
	opts        Options
	metrics     *metrics
	assignments *assignments
	// lookups are the metrics of Lookups, per lookup.
	lookups methodMetrics
	// stopping is closed when the service stops: Lookups streams end.
	stopping chan struct{}
	stopOnce sync.Once
}

// New returns a service that assigns users in apps and keeps data in st.
// Run serves it; Close flushes what it holds.
func New(apps abn.Applications, st store.Store, opts Options) *Service {
	opts.normalize()
	s := &Service{apps: apps, store: st, opts: opts, stopping: make(chan struct{})}
	s.metrics = newMetrics()
	s.lookups = s.metrics.forMethods([]string{lookupsMethod})[lookupsMethod]
	s.assignments = newAssignments(st, opts, s.metrics)
	s.metrics.registerPending(s.assignments.len)
	s.metrics.registry.MustRegister(resultsCollector{s})
	return s
}

// Lookup returns the version a user is assigned to.
func (s *Service) Lookup(_ context.Context, req *abnpb.LookupRequest) (*abnpb.LookupResponse, error) {
	v, err := s.lookup(req)
	if err != nil {
		return nil, err
	}
	return &abnpb.LookupResponse{Version: v}, nil
}

// lookupsMethod names Lookups in the service's metrics, where each lookup
// of a stream counts as a call.
const lookupsMethod = "Lookups"

// Lookups answers a stream of lookups in order. A goroutine of its own
// reads and answers them, so that the handler can end the stream when the
// service stops: a request read but not answered by then is not answered,
// and the client sends it again.
func (s *Service) Lookups(stream abnpb.ABN_LookupsServer) error {
	var mu sync.Mutex // orders the answers with the end of the stream
	ended := false
	errc := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				errc <- err
				return
			}
			start := time.Now()
			resp := &abnpb.LookupsResponse{}
			if resp.Version, err = s.lookup(req); err != nil {
				st := status.Convert(err)
				resp.Code, resp.Message = int32(st.Code()), st.Message()
			}
			s.lookups.observe(start, err)
			mu.Lock()
			if !ended {
				err = stream.Send(resp)
			}
			mu.Unlock()
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-s.stopping:
		mu.Lock()
		ended = true
		mu.Unlock()
		return nil
	}
}

// endStreams ends the Lookups streams, and refuses new ones.
func (s *Service) endStreams() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

// lookup assigns the user of a lookup; errors are gRPC statuses.
func (s *Service) lookup(req *abnpb.LookupRequest) (*abnpb.Version, error) {
	if err := abn.ValidateLookup(req.GetApplication(), req.GetUser()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	app, i, err := s.assign(req.GetApplication(), req.GetUser())
	if err != nil {
		return nil, err
	}
	v := &app.Versions[i]
	s.assignments.add(store.Assignment{App: app.Name, Version: v.Name, User: req.GetUser()})
	s.metrics.assigned(app.Name, v.Name)
	header := v.HeaderValue
	if header == "" {
		header = v.Name
	}
	return &abnpb.Version{Name: v.Name, Index: int32(i), HeaderName: abn.HeaderName, HeaderValue: header}, nil
}

// assign assigns a user of a (validated) lookup, returning errors as gRPC
// statuses.
func (s *Service) assign(application, user string) (abn.App, int, error) {
	app, ok := s.apps.Application(application)
	if !ok {
		return abn.App{}, 0, notFound(application)
	}
	i, err := abn.Assign(&app, user)
	if err != nil {
		return abn.App{}, 0, status.Error(codes.FailedPrecondition, err.Error())
	}
	return app, i, nil
}

func notFound(application string) error {
	return status.Errorf(codes.NotFound, "application %q not found", application)
}

// record validates a metric value and assigns it to its user's version.
func (s *Service) record(req *abnpb.WriteMetricRequest) (store.Record, error) {
	if err := abn.ValidateMetric(req.GetApplication(), req.GetUser(), req.GetMetric(), req.GetValue()); err != nil {
		return store.Record{}, status.Error(codes.InvalidArgument, err.Error())
	}
	app, i, err := s.assign(req.GetApplication(), req.GetUser())
	if err != nil {
		return store.Record{}, err
	}
	return store.Record{App: app.Name, Version: app.Versions[i].Name, User: req.GetUser(), Metric: req.GetMetric(), Value: req.GetValue()}, nil
}

// WriteMetric records one value durably.
func (s *Service) WriteMetric(ctx context.Context, req *abnpb.WriteMetricRequest) (*abnpb.WriteMetricResponse, error) {
	rec, err := s.record(req)
	if err != nil {
		return nil, err
	}
	if err := s.write(ctx, "", []store.Record{rec}); err != nil {
		return nil, err
	}
	return &abnpb.WriteMetricResponse{Version: rec.Version}, nil
}

// WriteMetrics records the valid values of a batch durably and lists the
// others.
func (s *Service) WriteMetrics(ctx context.Context, req *abnpb.WriteMetricsRequest) (*abnpb.WriteMetricsResponse, error) {
	if n := len(req.GetMetrics()); n > abn.MaxBatch {
		return nil, status.Errorf(codes.InvalidArgument, "metrics: %d values: the limit per call is %d", n, abn.MaxBatch)
	}
	if n := len(req.GetBatch()); n > maxBatchID {
		return nil, status.Errorf(codes.InvalidArgument, "batch: %d characters: the limit is %d", n, maxBatchID)
	}
	resp := &abnpb.WriteMetricsResponse{}
	recs := make([]store.Record, 0, len(req.GetMetrics()))
	for i, m := range req.GetMetrics() {
		rec, err := s.record(m)
		if err != nil {
			st := status.Convert(err)
			resp.Rejected = append(resp.Rejected, &abnpb.Rejection{Index: int32(i), Code: int32(st.Code()), Message: st.Message()})
			continue
		}
		recs = append(recs, rec)
	}
	if err := s.write(ctx, req.GetBatch(), recs); err != nil {
		return nil, err
	}
	return resp, nil
}

// maxBatchID bounds the length of a batch's identity.
const maxBatchID = 64

func (s *Service) write(ctx context.Context, batch string, recs []store.Record) error {
	if err := s.store.Write(ctx, batch, recs); err != nil {
		s.metrics.storeErrors.WithLabelValues("write").Inc()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return status.FromContextError(err).Err()
		}
		return status.Errorf(codes.Unavailable, "storing values: %v", err)
	}
	return nil
}

// GetResults returns the statistics of an application's versions.
func (s *Service) GetResults(ctx context.Context, req *abnpb.GetResultsRequest) (*abnpb.GetResultsResponse, error) {
	r, err := s.Results(ctx, req.GetApplication())
	if err != nil {
		return nil, err
	}
	return abnpb.FromResults(r), nil
}

// Results returns an application's declared versions merged with its
// stored data, after writing the assignments pending in this service;
// errors are gRPC statuses.
func (s *Service) Results(ctx context.Context, application string) (abn.Results, error) {
	if err := abn.ValidateName("application", application); err != nil {
		return abn.Results{}, status.Error(codes.InvalidArgument, err.Error())
	}
	app, declared := s.apps.Application(application)
	// Write this replica's pending assignments first, so that its own
	// lookups are counted; other replicas' are within their flush interval.
	if err := s.assignments.flush(ctx); err != nil {
		return abn.Results{}, status.Errorf(codes.Unavailable, "writing pending assignments: %v", err)
	}
	data, err := s.store.Read(ctx, application)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("read").Inc()
		return abn.Results{}, status.Errorf(codes.Unavailable, "%v", err)
	}
	if !declared && len(data.Versions) == 0 {
		return abn.Results{}, notFound(application)
	}
	var a *abn.App
	if declared {
		a = &app
	}
	return abn.Merge(application, a, data), nil
}

// Close writes the assignments still pending to the store.
func (s *Service) Close(ctx context.Context) error {
	if err := s.assignments.stop(ctx); err != nil {
		return fmt.Errorf("writing the last assignments: %w", err)
	}
	return nil
}
