// Package servicetest runs the A/B/n service on loopback for tests of its
// clients: the SDK, the kubectl plugin and the example app.
package servicetest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/service"
	"github.com/iter8-tools/iter8/pkg/abn/store"
)

// Server is a service running on free loopback ports.
type Server struct {
	// Service is the service.
	Service *service.Service
	// Store is its store.
	Store store.Store
	// Addr is the gRPC address, host:port.
	Addr string
	// HTTP is the base URL of the HTTP endpoints.
	HTTP string

	stop    func() error
	stopped bool
}

// Start runs the service for apps over a new bolt store in a temporary
// folder until the test ends.
func Start(t testing.TB, apps abn.Applications) *Server {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "abn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return Serve(t, apps, st, service.Options{}, nil)
}

// Serve runs a service over st until the test ends or Stop is called; on
// grpcLis when not nil, else on a free loopback port. The log is discarded
// unless opts has a logger.
func Serve(t testing.TB, apps abn.Applications, st store.Store, opts service.Options, grpcLis net.Listener) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var err error
	if grpcLis == nil {
		if grpcLis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(apps, st, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, grpcLis, httpLis) }()
	var once sync.Once
	var runErr error
	s := &Server{Service: svc, Store: st, Addr: grpcLis.Addr().String(), HTTP: "http://" + httpLis.Addr().String()}
	s.stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() {
		// When the test stopped it, the test checked the error.
		if err := s.stop(); err != nil && !s.stopped {
			t.Errorf("A/B/n service: %v", err)
		}
	})
	return s
}

// Stop stops the service and returns what Run returned.
func (s *Server) Stop() error {
	s.stopped = true
	return s.stop()
}
