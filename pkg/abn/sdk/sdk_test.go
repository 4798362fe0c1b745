package sdk_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/internal/abntest/servicetest"
	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
	"github.com/iter8-tools/iter8/pkg/abn/service"
	"github.com/iter8-tools/iter8/pkg/abn/store"
)

func apps(t *testing.T) *abn.Static {
	t.Helper()
	a, err := abn.ParseApps("apps.yaml", []byte("applications: [{name: shop, versions: [{name: v1}, {name: v2}]}]"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func client(t *testing.T, addr string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	c, err := sdk.New(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// errs collects what the error handler receives.
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) handle(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, err)
}

func (e *errs) get() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.list...)
}

func TestLookupCachesAndFallsBack(t *testing.T) {
	a := apps(t)
	srv := servicetest.Start(t, a)
	var handled errs
	c := client(t, srv.Addr, sdk.WithDefaultVersion("v1"), sdk.WithCacheTTL(time.Hour), sdk.WithErrorHandler(handled.handle))
	ctx := t.Context()

	shop, _ := a.Application("shop")
	idx, _ := abn.Assign(&shop, "ann")
	want := sdk.Version{Name: shop.Versions[idx].Name, Index: idx, HeaderName: "x-iter8-version", HeaderValue: shop.Versions[idx].Name}
	got, err := c.Lookup(ctx, "shop", "ann")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}

	// Unknown application: the default version, and the cause reported.
	got, err = c.Lookup(ctx, "cart", "ann")
	fallback := sdk.Version{Name: "v1", Index: -1, HeaderName: "x-iter8-version", HeaderValue: "v1", Fallback: true}
	if diff := cmp.Diff(fallback, got); err != nil || diff != "" {
		t.Errorf("Lookup(cart): %v (-want +got):\n%s", err, diff)
	}
	if h := handled.get(); len(h) != 1 || status.Code(errors.Unwrap(h[0])) != codes.NotFound {
		t.Errorf("handled errors: %v, want one NotFound", h)
	}

	// With the service gone, ann's answer comes from the cache, and a new
	// user gets the default version within the lookup timeout.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Lookup(ctx, "shop", "ann"); err != nil || got != want {
		t.Errorf("cached Lookup = %+v, %v; want %+v", got, err, want)
	}
	if got, err := c.Lookup(ctx, "shop", "bob"); err != nil || got != fallback {
		t.Errorf("Lookup with the service gone = %+v, %v; want the fallback", got, err)
	}

	// Without a default version, the caller gets the error; bad arguments
	// are errors in any case.
	plain := client(t, srv.Addr)
	if _, err := plain.Lookup(ctx, "shop", "bob"); status.Code(errors.Unwrap(err)) != codes.Unavailable {
		t.Errorf("Lookup without a default: %v, want Unavailable", err)
	}
	var invalid *abn.InvalidError
	if _, err := c.Lookup(ctx, "shop", ""); !errors.As(err, &invalid) || err.Error() != "user: must not be empty" {
		t.Errorf("Lookup of an empty user: %v", err)
	}
}

// TestLookupNeverWaitsBeyondItsTimeout points the client at a server that
// accepts connections and never answers.
func TestLookupNeverWaitsBeyondItsTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c := client(t, l.Addr().String(), sdk.WithDefaultVersion("v1"), sdk.WithLookupTimeout(50*time.Millisecond))
	got, err := c.Lookup(t.Context(), "shop", "ann")
	if err != nil || !got.Fallback {
		t.Errorf("Lookup = %+v, %v; want the fallback", got, err)
	}
	// A shorter deadline of the caller's wins.
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	if got, err := c.Lookup(ctx, "shop", "bob"); err != nil || !got.Fallback {
		t.Errorf("Lookup = %+v, %v; want the fallback", got, err)
	}
}

func TestWriteMetricBatchesAndFlushes(t *testing.T) {
	srv := servicetest.Start(t, apps(t))
	var handled errs
	c := client(t, srv.Addr, sdk.WithBatchSize(10), sdk.WithFlushInterval(time.Hour), sdk.WithErrorHandler(handled.handle))
	ctx := t.Context()
	for i := range 25 {
		if err := c.WriteMetric(ctx, "shop", "ann", "sales", float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// An unknown application is found out by the service.
	if err := c.WriteMetric(ctx, "cart", "ann", "sales", 1); err != nil {
		t.Fatal(err)
	}
	var invalid *abn.InvalidError
	if err := c.WriteMetric(ctx, "shop", "ann", "sales", nan()); !errors.As(err, &invalid) {
		t.Errorf("WriteMetric(NaN) = %v, want an InvalidError", err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := c.Results(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var count int64
	var sum float64
	for _, v := range res.Versions {
		for _, m := range v.Metrics {
			count += m.Values.Count
			sum += m.Values.Sum
		}
	}
	if count != 25 || sum != 300 {
		t.Errorf("stored %d values summing to %g, want 25 and 300", count, sum)
	}
	h := handled.get()
	if len(h) != 1 || !strings.Contains(h[0].Error(), `metric sales of cart was rejected: rpc error: code = NotFound desc = application "cart" not found`) {
		t.Errorf("handled errors: %v", h)
	}
	if st := c.Stats(); st != (sdk.Stats{Stored: 25, Rejected: 1}) {
		t.Errorf("stats %+v, want 25 stored and 1 rejected", st)
	}
	version, err := c.WriteMetricSync(ctx, "shop", "ann", "sales", 1)
	if err != nil || (version != "v1" && version != "v2") {
		t.Errorf("WriteMetricSync = %q, %v", version, err)
	}
}

// TestWritesSurviveAnOutage queues values while the service does not
// answer, then lets it serve: every value arrives.
func TestWritesSurviveAnOutage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var handled errs
	c := client(t, l.Addr().String(), sdk.WithBatchSize(4), sdk.WithFlushInterval(10*time.Millisecond), sdk.WithErrorHandler(handled.handle))
	ctx := t.Context()
	for range 10 {
		if err := c.WriteMetric(ctx, "shop", "ann", "sales", 2); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.Flush(short); err == nil {
		t.Fatal("Flush succeeded with no service")
	}

	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "abn.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	servicetest.Serve(t, apps(t), st, service.Options{}, l)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := st.Read(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var count int64
	for _, v := range d.Versions {
		count += v.Transactions
	}
	if count != 10 {
		t.Errorf("%d values arrived, want 10", count)
	}
	// The batches waited for the service to answer, or failed and were
	// sent again: either way each is stored once.
	if st := c.Stats(); st.Stored != 10 || st.Queued != 0 || st.Lost != 0 {
		t.Errorf("stats %+v, want 10 stored, none queued", st)
	}
}

func TestQueueIsBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: every send fails
	c, err := sdk.New(addr, sdk.WithMaxPending(3), sdk.WithErrorHandler(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range 4 {
		err := c.WriteMetric(ctx, "shop", "ann", "sales", 1)
		if i < 3 && err != nil || i == 3 && !errors.Is(err, sdk.ErrQueueFull) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.Close(short); err == nil || !strings.HasPrefix(err.Error(), "3 metric values were not sent: ") {
		t.Errorf("Close = %v", err)
	}
	if st := c.Stats(); st.QueueFull != 1 || st.Lost != 3 || st.Queued != 0 || st.Stored != 0 {
		t.Errorf("stats %+v, want 1 refused (queue full) and 3 lost", st)
	}
	if err := c.WriteMetric(ctx, "shop", "ann", "sales", 1); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		opt  sdk.Option
		want string
	}{
		{sdk.WithBatchSize(0), "A/B/n client: batch size 0: allowed is 1 to 10000"},
		{sdk.WithDefaultVersion(""), "A/B/n client: default version: must not be empty"},
		{sdk.WithLookupTimeout(0), "A/B/n client: lookup timeout 0s: must be positive"},
		{sdk.WithCacheTTL(-time.Second), "A/B/n client: cache TTL -1s is negative"},
	} {
		if _, err := sdk.New("127.0.0.1:1", tc.opt); err == nil || err.Error() != tc.want {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// streamed returns the number of lookups srv answered on streams.
func streamed(t *testing.T, srv *servicetest.Server) int {
	t.Helper()
	resp, err := http.Get(srv.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	const counter = `abn_requests_total{code="OK",method="Lookups"} `
	for line := range strings.Lines(string(body)) {
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), counter); ok {
			v, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("%s%s: %v", counter, n, err)
			}
			return v
		}
	}
	return 0
}

// warmUp looks up until the client's lookups go on a stream to srv.
func warmUp(t *testing.T, c *sdk.Client, srv *servicetest.Server) {
	t.Helper()
	for i := 0; streamed(t, srv) == 0; i++ {
		if i == 1000 {
			t.Fatal("the lookups do not go on a stream")
		}
		if _, err := c.Lookup(t.Context(), "shop", "warm-up"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// want returns what user gets in shop.
func want(t *testing.T, a *abn.Static, user string) sdk.Version {
	t.Helper()
	shop, _ := a.Application("shop")
	i, err := abn.Assign(&shop, user)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.Version{Name: shop.Versions[i].Name, Index: i, HeaderName: abn.HeaderName, HeaderValue: shop.Versions[i].Name}
}

// TestConcurrentLookupsOnTheStream has 50 callers share the client's
// stream: every answer is the caller's own, and all go on the stream.
func TestConcurrentLookupsOnTheStream(t *testing.T) {
	const callers, each = 50, 200
	a := apps(t)
	srv := servicetest.Start(t, a)
	c := client(t, srv.Addr, sdk.WithCacheTTL(0))
	warmUp(t, c, srv)
	before := streamed(t, srv)
	var wg sync.WaitGroup
	var differ atomic.Int64
	for g := range callers {
		wg.Go(func() {
			for k := range each {
				u := "user-" + strconv.Itoa(g*each+k)
				if got, err := c.Lookup(t.Context(), "shop", u); err != nil || got != want(t, a, u) {
					differ.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if differ.Load() != 0 {
		t.Errorf("%d of %d answers are not the user's version", differ.Load(), callers*each)
	}
	if n := streamed(t, srv) - before; n != callers*each {
		t.Errorf("%d lookups went on the stream, want all %d", n, callers*each)
	}
}

// TestLookupsOutliveARestart stops the service under a client with an open
// stream: lookups fall back, then go to the service that takes its place,
// on a new stream.
func TestLookupsOutliveARestart(t *testing.T) {
	a := apps(t)
	first := servicetest.Start(t, a)
	c := client(t, first.Addr, sdk.WithCacheTTL(0), sdk.WithDefaultVersion("v1"), sdk.WithErrorHandler(func(error) {}))
	warmUp(t, c, first)
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Lookup(t.Context(), "shop", "ann"); err != nil || !got.Fallback {
		t.Errorf("Lookup with the service stopped = %+v, %v; want the fallback", got, err)
	}

	l, err := net.Listen("tcp", first.Addr)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "abn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() }) // after the service stops
	second := servicetest.Serve(t, a, st, service.Options{}, l)
	// gRPC reconnects with backoff: wait for it (at most a minute).
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := c.Lookup(t.Context(), "shop", "ann")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Fallback {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the client did not reach the new service")
		}
		time.Sleep(50 * time.Millisecond)
	}
	warmUp(t, c, second)
	for _, u := range []string{"ann", "bob", "cy"} {
		if got, err := c.Lookup(t.Context(), "shop", u); err != nil || got != want(t, a, u) {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", u, got, err, want(t, a, u))
		}
	}
}

// oldService answers Lookup, and not Lookups, as a service of an earlier
// version would.
type oldService struct {
	abnpb.UnimplementedABNServer
	svc *service.Service
}

func (o oldService) Lookup(ctx context.Context, req *abnpb.LookupRequest) (*abnpb.LookupResponse, error) {
	return o.svc.Lookup(ctx, req)
}

// TestLookupsWithoutTheStream points the client at a service without
// Lookups: it asks with calls, and tries a stream only once.
func TestLookupsWithoutTheStream(t *testing.T) {
	a := apps(t)
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "abn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc := service.New(a, st, service.Options{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	var attempts atomic.Int64
	gs := grpc.NewServer(grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		attempts.Add(1)
		return handler(srv, ss)
	}))
	abnpb.RegisterABNServer(gs, oldService{svc: svc})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(l) }()
	defer gs.Stop()

	c := client(t, l.Addr().String(), sdk.WithCacheTTL(0))
	// Look up for longer than the client waits between two attempts to
	// open a stream.
	for start := time.Now(); time.Since(start) < 1500*time.Millisecond; {
		for _, u := range []string{"ann", "bob", "cy"} {
			if got, err := c.Lookup(t.Context(), "shop", u); err != nil || got != want(t, a, u) {
				t.Fatalf("Lookup(%s) = %+v, %v; want %+v", u, got, err, want(t, a, u))
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("the client tried %d streams, want 1", n)
	}
}
