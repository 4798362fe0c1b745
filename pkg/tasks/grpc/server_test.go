package grpc_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/iter8-tools/iter8/internal/testpki"
	"github.com/iter8-tools/iter8/pkg/experiment"
	grpctask "github.com/iter8-tools/iter8/pkg/tasks/grpc"
)

// healthServer is gRPC's health service with knobs: a delay before each
// Check, a failure every few Checks, Checks that only end when cancelled,
// and a Watch that sends a few messages and ends.
type healthServer struct {
	healthpb.UnimplementedHealthServer
	// delay is slept in every Check.
	delay time.Duration
	// failEvery fails every failEvery-th Check (0: none).
	failEvery int64
	// block makes Check wait until the call is cancelled; entered then
	// receives a value on the first Check.
	block   bool
	entered chan struct{}
	// watchMessages is the number of messages Watch sends.
	watchMessages int
	// stallAt makes the stallAt-th Check (from 1) take stall.
	stallAt int64
	stall   time.Duration

	checks atomic.Int64
}

func (s *healthServer) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	n := s.checks.Add(1)
	if s.block {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	time.Sleep(s.delay)
	if n == s.stallAt {
		time.Sleep(s.stall)
	}
	if s.failEvery > 0 && n%s.failEvery == 0 {
		return nil, status.Error(codes.Internal, "injected failure")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (s *healthServer) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	for range s.watchMessages {
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
			return err
		}
	}
	return nil
}

// callKey is what the server counts calls by.
type callKey struct {
	// Method is the full method, e.g. /grpc.health.v1.Health/Check.
	Method string
	// Service is the service field of a HealthCheckRequest.
	Service string
	// Team and Version are the x-team and x-version metadata.
	Team, Version string
}

// testServer is a gRPC server on 127.0.0.1 that counts the calls it
// served, by method, request and metadata (reflection calls excluded).
type testServer struct {
	addr string
	mu   sync.Mutex
	seen map[callKey]int
}

type serverConfig struct {
	// noReflection leaves out the reflection service.
	noReflection bool
	// countReflection counts reflection calls too (by default they are
	// the task looking up the method, not load).
	countReflection bool
	// creds are the server's TLS credentials; default: plaintext.
	creds credentials.TransportCredentials
}

func startServer(tb testing.TB, hs *healthServer, cfg serverConfig) *testServer {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ts := &testServer{addr: lis.Addr().String(), seen: map[callKey]int{}}
	count := func(ctx context.Context, method string, req any) {
		md, _ := metadata.FromIncomingContext(ctx)
		first := func(k string) string {
			if v := md.Get(k); len(v) > 0 {
				return v[0]
			}
			return ""
		}
		k := callKey{Method: method, Team: first("x-team"), Version: first("x-version")}
		if r, ok := req.(*healthpb.HealthCheckRequest); ok {
			k.Service = r.GetService()
		}
		ts.mu.Lock()
		ts.seen[k]++
		ts.mu.Unlock()
	}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			count(ctx, info.FullMethod, req)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if cfg.countReflection || !strings.HasPrefix(info.FullMethod, "/grpc.reflection.") {
				count(ss.Context(), info.FullMethod, nil)
			}
			return h(srv, ss)
		}),
	}
	if cfg.creds != nil {
		opts = append(opts, grpc.Creds(cfg.creds))
	}
	gs := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(gs, hs)
	if !cfg.noReflection {
		reflection.Register(gs)
	}
	go func() { _ = gs.Serve(lis) }()
	tb.Cleanup(gs.Stop)
	return ts
}

// calls returns the calls counted so far.
func (ts *testServer) calls() map[callKey]int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make(map[callKey]int, len(ts.seen))
	for k, v := range ts.seen {
		out[k] = v
	}
	return out
}

// unusedAddr returns an address on 127.0.0.1 where nothing listens.
func unusedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// writeProtoset writes the descriptors of files (which import nothing) as
// a protoset named name in dir.
func writeProtoset(t *testing.T, dir, name string, files ...protoreflect.FileDescriptor) string {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	for _, f := range files {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverName is the only name in the test server certificate.
const serverName = "grpc.iter8.test"

// selfSigned returns server credentials with a certificate for serverName
// of a test CA, and writes the CA's certificate as ca.pem in dir.
func selfSigned(t *testing.T, dir string) credentials.TransportCredentials {
	t.Helper()
	ca, err := testpki.NewCA("grpc test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: serverName},
		DNSNames:    []string{serverName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewServerTLSFromCert(&pair)
}

// registry holds only the grpc task.
func registry() experiment.Registry {
	return experiment.Registry{grpctask.Name: grpctask.New}
}

// execute parses doc (with dir as the experiment's folder) and runs it.
func execute(ctx context.Context, tb testing.TB, dir, doc string) (*experiment.Result, string) {
	tb.Helper()
	exp, err := experiment.Parse("experiment.yaml", dir, []byte(doc), registry())
	if err != nil {
		tb.Fatal(err)
	}
	var progress bytes.Buffer
	res, err := experiment.Execute(ctx, exp, experiment.Options{Progress: &progress})
	if err != nil {
		tb.Fatal(err)
	}
	return res, progress.String()
}
