// Package demo is the sample service of `kubectl iter8-run demo`: two
// versions of an app on 127.0.0.1, each with an HTTP and a gRPC endpoint.
// v2 is slower and fails some requests, so that an experiment has something
// to find.
package demo

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"text/template"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// Behaviour of a version of the sample app.
type Behaviour struct {
	// Delay is added to every request.
	Delay time.Duration
	// FailEvery makes every n-th request fail (HTTP 503, gRPC Unavailable);
	// 0 never fails.
	FailEvery int64
}

// Versions are the sample app's versions.
var Versions = map[string]Behaviour{
	"v1": {},
	"v2": {Delay: 2 * time.Millisecond, FailEvery: 25},
}

// App is the running sample app.
type App struct {
	// HTTP maps each version to its URL.
	HTTP map[string]string
	// GRPC maps each version to its host:port.
	GRPC map[string]string

	httpServers []*http.Server
	grpcServers []*grpc.Server
}

// Start starts every version on free loopback ports.
func Start() (_ *App, err error) {
	a := &App{HTTP: map[string]string{}, GRPC: map[string]string{}}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	for name, b := range Versions {
		hl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("starting the sample app: %w", err)
		}
		hs := &http.Server{Handler: httpHandler(name, b), ReadHeaderTimeout: 5 * time.Second}
		a.httpServers = append(a.httpServers, hs)
		go func() { _ = hs.Serve(hl) }()
		a.HTTP[name] = "http://" + hl.Addr().String() + "/"

		gl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("starting the sample app: %w", err)
		}
		gs := grpc.NewServer(grpc.UnaryInterceptor(behave(b)))
		healthpb.RegisterHealthServer(gs, health.NewServer())
		reflection.Register(gs)
		a.grpcServers = append(a.grpcServers, gs)
		go func() { _ = gs.Serve(gl) }()
		a.GRPC[name] = gl.Addr().String()
	}
	return a, nil
}

// Close stops every version.
func (a *App) Close() {
	for _, s := range a.httpServers {
		_ = s.Close()
	}
	for _, s := range a.grpcServers {
		s.Stop()
	}
}

func httpHandler(version string, b Behaviour) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(b.Delay)
		w.Header().Set("X-Version", version)
		w.Header().Set("Content-Type", "application/json")
		if b.FailEvery > 0 && n.Add(1)%b.FailEvery == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"version": version, "error": "unavailable"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"version": version, "message": "hello from " + version})
	})
}

func behave(b Behaviour) grpc.UnaryServerInterceptor {
	var n atomic.Int64
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		time.Sleep(b.Delay)
		if b.FailEvery > 0 && n.Add(1)%b.FailEvery == 0 {
			return nil, status.Error(codes.Unavailable, "unavailable")
		}
		return handler(ctx, req)
	}
}

//go:embed experiment.yaml.tmpl
var experimentTemplate string

// Experiment returns the demo experiment against a.
func (a *App) Experiment() ([]byte, error) {
	t, err := template.New("experiment").Option("missingkey=error").Parse(experimentTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, a); err != nil {
		return nil, errors.Join(errors.New("rendering the demo experiment"), err)
	}
	return b.Bytes(), nil
}
