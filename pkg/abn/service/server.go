package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/abn/legacypb"
)

// Run serves the gRPC API on grpcLis and the HTTP endpoints on httpLis
// until ctx ends. Then it reports NOT_SERVING, waits up to
// Options.ShutdownTimeout for the calls in flight, and writes the pending
// assignments. It does not close the store.
func (s *Service) Run(ctx context.Context, grpcLis, httpLis net.Listener) error {
	hs := health.NewServer()
	gs := s.GRPCServer(hs)
	var ready atomic.Bool
	httpSrv := &http.Server{Handler: s.Handler(ready.Load), ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(grpcLis) }()
	go func() { errc <- httpSrv.Serve(httpLis) }()
	ready.Store(true)
	s.opts.Logger.Info("serving", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	ready.Store(false)
	hs.Shutdown()
	s.endStreams()
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.opts.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		gs.Stop()
		<-stopped
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if herr := httpSrv.Shutdown(sctx); herr != nil && err == nil {
		err = herr
	}
	if cerr := s.Close(sctx); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

// GRPCServer returns a gRPC server with the A/B/n API and Iter8's
// (main.ABN), the health service hs
// (SERVING for "" and iter8.abn.v1.ABN) and server reflection, counting
// calls in the service's metrics.
func (s *Service) GRPCServer(hs *health.Server) *grpc.Server {
	gs := grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.observe(&abnpb.ABN_ServiceDesc, &legacypb.ABN_ServiceDesc, &healthpb.Health_ServiceDesc)),
		// A pool of goroutines serves the streams: a goroutine per call
		// would start with a small stack and grow it on every call.
		grpc.NumStreamWorkers(uint32(16*runtime.GOMAXPROCS(0))),
		// Fixed flow-control windows turn off the bandwidth-delay probes
		// (a PING per burst of data), which small calls do not need.
		grpc.InitialWindowSize(1<<20),
		grpc.InitialConnWindowSize(1<<20),
		// A batch of MaxBatch values with the longest names is about 8 MiB.
		grpc.MaxRecvMsgSize(16<<20),
	)
	abnpb.RegisterABNServer(gs, s)
	legacypb.RegisterABNServer(gs, legacy{s: s})
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(abnpb.ABN_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return gs
}

// observe returns an interceptor that counts and times every unary call;
// the metrics of the services' methods are resolved once.
func (s *Service) observe(services ...*grpc.ServiceDesc) grpc.UnaryServerInterceptor {
	var methods []string
	for _, sd := range services {
		for _, m := range sd.Methods {
			methods = append(methods, m.MethodName)
		}
	}
	known := s.metrics.forMethods(methods)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		method := path.Base(info.FullMethod)
		m, ok := known[method]
		if !ok {
			m = s.metrics.forMethods([]string{method})[method]
		}
		m.observe(start, err)
		return resp, err
	}
}

// Handler returns the HTTP endpoints:
//
//	GET /v1/results/{application}   the application's report (abn.Report) as JSON
//	GET /report/{application}       the same report as a page (abn.HTML)
//	GET /metrics                    the service's Prometheus metrics
//	GET /healthz                    200 while the process runs
//	GET /readyz                     200 while ready() holds, else 503
func (s *Service) Handler(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	report := func(w http.ResponseWriter, r *http.Request) (abn.Report, bool) {
		res, err := s.Results(r.Context(), r.PathValue("application"))
		if err != nil {
			st := status.Convert(err)
			code := http.StatusServiceUnavailable
			switch st.Code() {
			case codes.InvalidArgument:
				code = http.StatusBadRequest
			case codes.NotFound:
				code = http.StatusNotFound
			}
			writeJSON(w, code, map[string]string{"error": st.Message()})
			return abn.Report{}, false
		}
		return abn.Analyze(res), true
	}
	mux.HandleFunc("GET /v1/results/{application...}", func(w http.ResponseWriter, r *http.Request) {
		if rep, ok := report(w, r); ok {
			writeJSON(w, http.StatusOK, rep)
		}
	})
	mux.HandleFunc("GET /report/{application...}", func(w http.ResponseWriter, r *http.Request) {
		rep, ok := report(w, r)
		if !ok {
			return
		}
		var b bytes.Buffer
		if err := abn.HTML(&b, rep); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b.Bytes())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
