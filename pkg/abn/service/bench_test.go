//go:build linux

package service_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bojand/ghz/runner"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/iter8-tools/iter8/internal/abntest/servicetest"
	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/abn/legacypb"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// The benchmarks run the service as a separate process (kubectl-iter8_abn
// serve, the embedded store in a temporary folder) so that its CPU time,
// read from /proc, is apart from the load generator's (this process).
// Figures are reported per operation: server-µs/op is the service's CPU
// (user + system) per call, client-µs/op this process's.

// checkoutApps is the application of the benchmarks.
const checkoutApps = "applications: [{name: checkout, versions: [{name: v1, weight: 50}, {name: v2, weight: 50}]}]"

// benchService starts the service for a benchmark.
func benchService(b *testing.B) *servicetest.Process {
	b.Helper()
	dir := b.TempDir()
	apps := filepath.Join(dir, "apps.yaml")
	if err := os.WriteFile(apps, []byte(checkoutApps), 0o600); err != nil {
		b.Fatal(err)
	}
	serverEnv(b)
	return servicetest.StartProcess(b, "--apps", apps, "--store", "bolt:"+filepath.Join(dir, "abn.db"),
		"--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0")
}

// serverEnv applies ABN_BENCH_SERVER_ENV=K=V,... to the environment the
// servers of the benchmarks start with (the service and the gRPC floor),
// e.g. GOMAXPROCS or GOMEMLIMIT, to measure them configured otherwise.
func serverEnv(b *testing.B) {
	b.Helper()
	if env := os.Getenv("ABN_BENCH_SERVER_ENV"); env != "" {
		for _, kv := range strings.Split(env, ",") {
			k, v, _ := strings.Cut(kv, "=")
			b.Setenv(k, v)
		}
	}
}

// clients opens n connections to addr, dialed as the SDK dials: the
// lightest load generator, for the benchmarks at saturation.
func clients(b *testing.B, addr string, n int) []abnpb.ABNClient {
	b.Helper()
	var cs []abnpb.ABNClient
	for range n {
		conn, err := grpc.NewClient(addr, sdk.DialOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close() })
		c := abnpb.NewABNClient(conn)
		// Connect and warm up before measuring.
		if _, err := c.Lookup(context.Background(), &abnpb.LookupRequest{Application: "checkout", User: "warm-up"}); err != nil {
			b.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs f, and reports the CPU per op of the server (process pid)
// and of this process, and the rate achieved.
func measure(b *testing.B, pid int, unit string, f func()) {
	b.Helper()
	user0, sys0 := servicetest.CPU(b, pid)
	client0 := selfCPU()
	start := time.Now()
	b.ResetTimer()
	f()
	b.StopTimer()
	elapsed := time.Since(start)
	user, sys := servicetest.CPU(b, pid)
	user, sys = user-user0, sys-sys0
	client := selfCPU() - client0
	n := float64(b.N)
	b.ReportMetric(float64((user+sys).Microseconds())/n, "server-µs/op")
	b.ReportMetric(float64(sys.Microseconds())/n, "server-sys-µs/op")
	b.ReportMetric(float64(client.Microseconds())/n, "client-µs/op")
	b.ReportMetric(n/elapsed.Seconds(), unit+"/s")
}

// BenchmarkLookupGRPC measures lookups of distinct users over gRPC.
func BenchmarkLookupGRPC(b *testing.B) {
	// saturation: 64 callers on 4 connections, as fast as they go, each
	// lookup a call.
	b.Run("saturation", func(b *testing.B) {
		svc := benchService(b)
		cs := clients(b, svc.GRPC, 4)
		measure(b, svc.Pid, "lookups", func() {
			closedLoop(b, 64, func(g int, i int64) error {
				_, err := cs[g%len(cs)].Lookup(context.Background(), &abnpb.LookupRequest{Application: "checkout", User: "user-" + strconv.FormatInt(i, 10)})
				return err
			})
		})
	})
	// saturation-sdk: 64 callers on 4 SDK clients (their caches off), as
	// fast as they go: the lookups go on the clients' streams.
	b.Run("saturation-sdk", func(b *testing.B) {
		svc := benchService(b)
		var cs []*sdk.Client
		for range 4 {
			cs = append(cs, streamingClient(b, svc))
		}
		measure(b, svc.Pid, "lookups", func() {
			closedLoop(b, 64, func(g int, i int64) error {
				_, err := cs[g%len(cs)].Lookup(context.Background(), "checkout", "user-"+strconv.FormatInt(i, 10))
				return err
			})
		})
	})
	// rate=10000: an open loop at 10,000 lookups/s from one front end with
	// the SDK (its cache off, so that every lookup reaches the service, on
	// the SDK's stream).
	b.Run("rate=10000", func(b *testing.B) {
		svc := benchService(b)
		c := streamingClient(b, svc)
		openLoop(b, svc.Pid, func(_ int, i int64) error {
			_, err := c.Lookup(context.Background(), "checkout", "user-"+strconv.FormatInt(i, 10))
			return err
		})
		b.ReportMetric(serverP99(b, svc, "Lookups"), "server-p99-≤µs")
	})
}

// BenchmarkLookupUnary drives unary lookups the way Iter8's service was
// measured: ghz's default of 50 concurrent calls on one connection, run
// with -benchtime=30000x for ghz's 30,000 calls; distinct users. It
// measures the service's own API and Iter8's (main.ABN), from this
// process's client and from ghz itself (its runner, the method found by
// reflection, users from its call templates). ghz/floor=grpc-go makes the
// same calls to the least possible gRPC server, for comparison: grpc-go
// with its defaults and a handler that answers at once, in a process of
// its own, so that what grpc-go and the machine cost is told apart from
// what the service adds.
func BenchmarkLookupUnary(b *testing.B) {
	const lookup = `{"application": "checkout", "user": "user-{{.RequestNumber}}"}`
	for _, api := range []struct {
		name, method, data string
		floor              bool
	}{
		{"ghz/iter8.abn.v1.ABN.Lookup", "iter8.abn.v1.ABN.Lookup", lookup, false},
		{"ghz/main.ABN.Lookup", "main.ABN.Lookup", `{"name": "default/checkout", "user": "user-{{.RequestNumber}}"}`, false},
		{"ghz/floor=grpc-go/iter8.abn.v1.ABN.Lookup", "iter8.abn.v1.ABN.Lookup", lookup, true},
	} {
		b.Run(api.name, func(b *testing.B) {
			var pid int
			var addr string
			if api.floor {
				serverEnv(b)
				pid, addr = startTestServer(b, grpcFloorEnv)
			} else {
				svc := benchService(b)
				pid, addr = svc.Pid, svc.GRPC
			}
			cfg, err := runner.NewConfig(api.method, addr, runner.WithTotalRequests(uint(b.N)), runner.WithConcurrency(50),
				runner.WithConnections(1), runner.WithInsecure(true), runner.WithDataFromJSON(api.data))
			if err != nil {
				b.Fatal(err)
			}
			reqr, err := runner.NewRequester(cfg)
			if err != nil {
				b.Fatal(err)
			}
			var rep *runner.Report
			measure(b, pid, "lookups", func() {
				if rep, err = reqr.Run(); err != nil {
					b.Fatal(err)
				}
			})
			if rep.Count != uint64(b.N) || len(rep.ErrorDist) != 0 {
				b.Fatalf("%d calls, errors %v; want %d, none", rep.Count, rep.ErrorDist, b.N)
			}
		})
	}
	b.Run("api=iter8.abn.v1", func(b *testing.B) {
		svc := benchService(b)
		c := clients(b, svc.GRPC, 1)[0]
		measure(b, svc.Pid, "lookups", func() {
			closedLoop(b, 50, func(_ int, i int64) error {
				_, err := c.Lookup(context.Background(), &abnpb.LookupRequest{Application: "checkout", User: "user-" + strconv.FormatInt(i, 10)})
				return err
			})
		})
	})
	b.Run("api=main", func(b *testing.B) {
		svc := benchService(b)
		conn, err := grpc.NewClient(svc.GRPC, sdk.DialOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close() })
		c := legacypb.NewABNClient(conn)
		if _, err := c.Lookup(context.Background(), &legacypb.Application{Name: "default/checkout", User: "warm-up"}); err != nil {
			b.Fatal(err)
		}
		measure(b, svc.Pid, "lookups", func() {
			closedLoop(b, 50, func(_ int, i int64) error {
				_, err := c.Lookup(context.Background(), &legacypb.Application{Name: "default/checkout", User: "user-" + strconv.FormatInt(i, 10)})
				return err
			})
		})
	})
}

// streamingClient returns an SDK client of svc, its cache off, warmed up
// until its lookups go on its stream.
func streamingClient(b *testing.B, svc *servicetest.Process) *sdk.Client {
	b.Helper()
	c, err := sdk.New(svc.GRPC, sdk.WithCacheTTL(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	before := streamed(b, svc)
	for i := 0; streamed(b, svc) == before; i++ {
		if i == 1000 {
			b.Fatal("the SDK's lookups do not go on a stream")
		}
		if _, err := c.Lookup(context.Background(), "checkout", "warm-up"); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	return c
}

// closedLoop makes calls 1 to b.N from callers goroutines as fast as they
// go, call(g, i) making call i from caller g; it stops a caller at its
// first error.
func closedLoop(b *testing.B, callers int, call func(g int, i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := call(g, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The rate of the open-loop benchmarks, and their number of callers.
const (
	loopRate    = 10000
	loopCallers = 32
)

// openLoop makes b.N calls at loopRate a second, call(g, i) making call i
// from caller g, while measure reports the CPU of the server, process pid.
// Latency is the time from sending a call to its answer; lateness, how late
// the load generator sent it (its pacer and its scheduling),
// is reported apart so that a stall of the server would show in one or the
// other. The load generator's garbage collector is off while it runs (its
// heap may grow to 4 GiB first), so that its pauses are not taken for the
// server's latency; client-gcs/op counts the collections that ran anyway.
func openLoop(b *testing.B, pid int, call func(g int, i int64) error) {
	b.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(4 << 30))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	recorders := make([]*stats.Recorder, loopCallers)
	late := make([]*stats.Recorder, loopCallers)
	measure(b, pid, "calls", func() {
		start, calls := pace(b, int64(b.N))
		var wg sync.WaitGroup
		for g := range loopCallers {
			r, l := stats.NewRecorder(), stats.NewRecorder()
			recorders[g], late[g] = r, l
			wg.Go(func() {
				for i := range calls {
					due := start.Add(time.Duration(i) * time.Second / loopRate)
					sent := time.Now()
					if err := call(g, i); err != nil {
						b.Error(err)
						return
					}
					r.Record(float64(time.Since(sent).Microseconds()))
					l.Record(float64(sent.Sub(due).Microseconds()))
				}
			})
		}
		wg.Wait()
	})
	runtime.ReadMemStats(&after)
	h, lh := &stats.Histogram{}, &stats.Histogram{}
	for g := range recorders {
		h.Merge(recorders[g].Histogram())
		lh.Merge(late[g].Histogram())
	}
	for _, p := range []float64{50, 99, 99.9} {
		v, _ := h.Percentile(p)
		b.ReportMetric(v, "p"+strconv.FormatFloat(p, 'f', -1, 64)+"-µs")
	}
	b.ReportMetric(h.Max, "max-µs")
	p99late, _ := lh.Percentile(99)
	b.ReportMetric(p99late, "p99-late-µs")
	b.ReportMetric(float64(after.NumGC-before.NumGC)/float64(b.N), "client-gcs/op")
}

// pace sends 0 to n-1 on calls, call i when it is due at start plus i
// loop periods. The kernel's timer (a timerfd, waited on with Go's network
// poller) paces them: Go's own timers wake an idle process up to a
// millisecond late, which would send the calls in bursts.
func pace(b *testing.B, n int64) (start time.Time, calls <-chan int64) {
	b.Helper()
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	timer := os.NewFile(uintptr(fd), "timerfd")
	period := unix.NsecToTimespec(int64(time.Second / loopRate))
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: period, Value: period}, nil); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	c := make(chan int64, min(n, 1<<20))
	go func() {
		defer close(c)
		defer timer.Close()
		var buf [8]byte
		for i := int64(0); i < n; {
			c <- i
			i++
			if i == n {
				return
			}
			// Wait for the next expiry, or for all those missed.
			if _, err := io.ReadFull(timer, buf[:]); err != nil {
				b.Error(err)
				return
			}
			for due := min(n, i+int64(binary.NativeEndian.Uint64(buf[:]))-1); i < due; i++ {
				c <- i
			}
		}
	}()
	return start, c
}

// BenchmarkLoopbackFloor is what the machine's loopback costs a Go server
// at the rate of the open-loop benchmarks, for comparison: the least
// possible server, in a process of its own, reads a 64-byte message and
// writes it back, one connection per caller; the least possible client
// sends it and reads the answer.
func BenchmarkLoopbackFloor(b *testing.B) {
	b.Run("rate=10000", func(b *testing.B) {
		pid, addr := startTestServer(b, echoEnv)
		conns := make([]net.Conn, loopCallers)
		for g := range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = c.Close() })
			conns[g] = c
		}
		bufs := make([][]byte, loopCallers)
		for g := range bufs {
			bufs[g] = make([]byte, echoSize)
		}
		openLoop(b, pid, func(g int, _ int64) error {
			if _, err := conns[g].Write(bufs[g]); err != nil {
				return err
			}
			_, err := io.ReadFull(conns[g], bufs[g])
			return err
		})
	})
}

// The test binary is also the servers of the floors: with echoEnv set,
// the echo server of BenchmarkLoopbackFloor; with grpcFloorEnv, the gRPC
// server of BenchmarkLookupUnary/ghz/floor=grpc-go.
const (
	echoEnv      = "ABN_BENCH_ECHO_SERVER"
	echoSize     = 64
	grpcFloorEnv = "ABN_BENCH_GRPC_FLOOR_SERVER"
)

// TestMain runs the tests, or serves as one of the floors' servers: it
// prints its address and serves until stdin closes.
func TestMain(m *testing.M) {
	var serve func(net.Listener)
	switch {
	case os.Getenv(echoEnv) != "":
		serve = serveEcho
	case os.Getenv(grpcFloorEnv) != "":
		serve = serveGRPCFloor
	default:
		os.Exit(m.Run())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	go serve(l)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// serveEcho echoes echoSize-byte messages on each connection of l.
func serveEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, echoSize)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}

// floorABN answers every lookup at once with the same version.
type floorABN struct {
	abnpb.UnimplementedABNServer
}

func (floorABN) Lookup(context.Context, *abnpb.LookupRequest) (*abnpb.LookupResponse, error) {
	return &abnpb.LookupResponse{Version: &abnpb.Version{Name: "v1", HeaderName: "x-iter8-version", HeaderValue: "v1"}}, nil
}

// serveGRPCFloor serves floorABN on l with grpc-go's defaults, and server
// reflection for ghz.
func serveGRPCFloor(l net.Listener) {
	gs := grpc.NewServer()
	abnpb.RegisterABNServer(gs, floorABN{})
	reflection.Register(gs)
	_ = gs.Serve(l)
}

// startTestServer starts this test binary as the server env selects (see
// TestMain) and returns its pid and address; it ends with the benchmark.
func startTestServer(b *testing.B, env string) (int, string) {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the test server %s: %v", env, err)
	}
	return cmd.Process.Pid, strings.TrimSpace(addr)
}

// BenchmarkWriteMetricGRPC measures metric writes to the embedded store,
// and fails on any loss.
func BenchmarkWriteMetricGRPC(b *testing.B) {
	// sdk: the SDK's asynchronous batches (500 values), written by 8
	// goroutines, then flushed.
	b.Run("sdk", func(b *testing.B) {
		svc := benchService(b)
		c, err := sdk.New(svc.GRPC, sdk.WithFlushInterval(50*time.Millisecond), sdk.WithMaxPending(1<<22))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(context.Background())
		measure(b, svc.Pid, "writes", func() {
			closedLoop(b, 8, func(_ int, i int64) error {
				return c.WriteMetric(context.Background(), "checkout", "user-"+strconv.FormatInt(i%50000, 10), "sales", 1)
			})
			if err := c.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
		checkStored(b, c, int64(b.N))
	})
	// unary: one durable WriteMetric call per value, 64 callers on 4
	// connections; the store commits what queues during a commit together.
	b.Run("unary", func(b *testing.B) {
		svc := benchService(b)
		cs := clients(b, svc.GRPC, 4)
		measure(b, svc.Pid, "writes", func() {
			closedLoop(b, 64, func(g int, i int64) error {
				req := &abnpb.WriteMetricRequest{Application: "checkout", User: "user-" + strconv.FormatInt(i%50000, 10), Metric: "sales", Value: 1}
				_, err := cs[g%len(cs)].WriteMetric(context.Background(), req)
				return err
			})
		})
		c, err := sdk.New(svc.GRPC)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(context.Background())
		checkStored(b, c, int64(b.N))
	})
}

// serverMetrics reads the service's metrics.
func serverMetrics(b *testing.B, svc *servicetest.Process) map[string]*dto.MetricFamily {
	b.Helper()
	resp, err := http.Get("http://" + svc.HTTP + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return families
}

// streamed returns the number of lookups the service answered on streams.
func streamed(b *testing.B, svc *servicetest.Process) float64 {
	b.Helper()
	var n float64
	for _, m := range serverMetrics(b, svc)["abn_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "method" && l.GetValue() == "Lookups" {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// serverP99 reads the service's own histogram of the times of a method's
// calls (from receiving one to returning its answer to gRPC) and returns
// the upper bound of the bucket that holds its 99th percentile.
func serverP99(b *testing.B, svc *servicetest.Process, method string) float64 {
	b.Helper()
	for _, m := range serverMetrics(b, svc)["abn_request_duration_seconds"].GetMetric() {
		if m.GetLabel()[0].GetValue() != method {
			continue
		}
		h := m.GetHistogram()
		for _, bucket := range h.GetBucket() {
			if float64(bucket.GetCumulativeCount()) >= 0.99*float64(h.GetSampleCount()) {
				return bucket.GetUpperBound() * 1e6
			}
		}
	}
	b.Fatalf("no histogram of %s in /metrics", method)
	return 0
}

// checkStored fails unless exactly n values of sales are stored.
func checkStored(b *testing.B, c *sdk.Client, n int64) {
	b.Helper()
	res, err := c.Results(context.Background(), "checkout")
	if err != nil {
		b.Fatal(err)
	}
	var count int64
	var sum float64
	for _, v := range res.Versions {
		for _, m := range v.Metrics {
			count += m.Values.Count
			sum += m.Values.Sum
		}
	}
	if count != n || sum != float64(n) {
		b.Fatalf("%d values summing to %g stored, want %d: values were lost", count, sum, n)
	}
}

// BenchmarkDistinctUsers looks up b.N distinct users, a third of whom buy
// (through the SDK), and reports the service's memory afterwards: run with
// -benchtime=1000000x for a million users.
func BenchmarkDistinctUsers(b *testing.B) {
	svc := benchService(b)
	cs := clients(b, svc.GRPC, 4)
	c, err := sdk.New(svc.GRPC, sdk.WithMaxPending(1<<22))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	measure(b, svc.Pid, "users", func() {
		closedLoop(b, 32, func(g int, i int64) error {
			user := "user-" + strconv.FormatInt(i, 10)
			if _, err := cs[g%len(cs)].Lookup(context.Background(), &abnpb.LookupRequest{Application: "checkout", User: user}); err != nil {
				return err
			}
			if i%3 == 0 {
				return c.WriteMetric(context.Background(), "checkout", user, "sales", 10)
			}
			return nil
		})
		if err := c.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
	res, err := c.Results(context.Background(), "checkout")
	if err != nil {
		b.Fatal(err)
	}
	var users int64
	for _, v := range res.Versions {
		users += v.Users
	}
	if users != int64(b.N)+1 { // and the warm-up user
		b.Fatalf("%d users stored, want %d", users, b.N+1)
	}
	total, anon, file := svc.RSS(b)
	b.ReportMetric(float64(total)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(anon)/(1<<20), "rss-anon-MiB")
	b.ReportMetric(float64(file)/(1<<20), "rss-file-MiB")
}
