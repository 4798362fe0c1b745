package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/iter8-tools/iter8/internal/abntest/servicetest"
	"github.com/iter8-tools/iter8/internal/abntest/storetest"
	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/abn/service"
	"github.com/iter8-tools/iter8/pkg/abn/store"
)

const appsYAML = `applications:
- name: shop
  versions:
  - {name: v1, weight: 60}
  - {name: v2, weight: 40}
- name: dark
  versions:
  - {name: v1, ready: false}
  - {name: v2, weight: 0}
`

func apps(t testing.TB) *abn.Static {
	t.Helper()
	a, err := abn.ParseApps("apps.yaml", []byte(appsYAML))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// instance is a service running on loopback, with a client.
type instance struct {
	*servicetest.Server
	svc    *service.Service
	client abnpb.ABNClient
	conn   *grpc.ClientConn
	http   string
}

// start runs a service over st on free loopback ports until the test ends.
func start(t testing.TB, a abn.Applications, st store.Store, opts service.Options) *instance {
	t.Helper()
	s := servicetest.Serve(t, a, st, opts, nil)
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &instance{Server: s, svc: s.Service, client: abnpb.NewABNClient(conn), conn: conn, http: s.HTTP}
}

// stop stops the service, which must succeed.
func (in *instance) stop(t testing.TB) {
	t.Helper()
	if err := in.Stop(); err != nil {
		t.Fatalf("stopping the service: %v", err)
	}
}

func openBolt(t testing.TB, path string) store.Store {
	t.Helper()
	st, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func openRedis(t testing.TB, url string) store.Store {
	t.Helper()
	st, err := store.OpenRedis(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// stores gives each test a fresh store of each kind.
var stores = map[string]func(t *testing.T) store.Store{
	"bolt":  func(t *testing.T) store.Store { return openBolt(t, filepath.Join(t.TempDir(), "abn.db")) },
	"redis": func(t *testing.T) store.Store { return openRedis(t, storetest.Redis(t)) },
}

func user(i int) string { return "user-" + strconv.Itoa(i) }

func lookup(t testing.TB, c abnpb.ABNClient, app, u string) *abnpb.Version {
	t.Helper()
	resp, err := c.Lookup(context.Background(), &abnpb.LookupRequest{Application: app, User: u})
	if err != nil {
		t.Fatalf("Lookup(%s, %s): %v", app, u, err)
	}
	return resp.GetVersion()
}

func TestLookupWriteResults(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			a := apps(t)
			in := start(t, a, open(t), service.Options{})
			ctx := t.Context()
			shop, _ := a.Application("shop")
			for i := range 20 {
				v := lookup(t, in.client, "shop", user(i))
				idx, _ := abn.Assign(&shop, user(i))
				want := &abnpb.Version{Name: shop.Versions[idx].Name, Index: int32(idx), HeaderName: "x-iter8-version", HeaderValue: shop.Versions[idx].Name}
				if diff := cmp.Diff(want, v, protocmp.Transform()); diff != "" {
					t.Fatalf("Lookup(%s) (-want +got):\n%s", user(i), diff)
				}
			}
			// Users 0-9 buy twice, for 10 each; users 0-19 were assigned.
			perVersion := map[string]int64{}
			for i := range 10 {
				for range 2 {
					resp, err := in.client.WriteMetric(ctx, &abnpb.WriteMetricRequest{Application: "shop", User: user(i), Metric: "sales", Value: 10})
					if err != nil {
						t.Fatal(err)
					}
					perVersion[resp.GetVersion()]++
				}
			}
			if err := in.svc.Close(ctx); err != nil { // flush the assignments
				t.Fatal(err)
			}
			res, err := in.client.GetResults(ctx, &abnpb.GetResultsRequest{Application: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			r := abnpb.ToResults(res)
			var users, tx int64
			for _, v := range r.Versions {
				users += v.Users
				tx += v.Transactions
				if v.Transactions != perVersion[v.Name] {
					t.Errorf("%s: %d transactions, want %d", v.Name, v.Transactions, perVersion[v.Name])
				}
				if len(v.Metrics) > 0 && v.Metrics[0].Values.Sum != 10*float64(perVersion[v.Name]) {
					t.Errorf("%s: sum %g", v.Name, v.Metrics[0].Values.Sum)
				}
			}
			if users != 20 || tx != 20 || r.Baseline != "v1" || r.Versions[0].Weight != 60 {
				t.Errorf("results: %d users, %d transactions: %+v", users, tx, r)
			}

			// The HTTP endpoint serves the analysis of the same results.
			var rep abn.Report
			getJSON(t, in.http+"/v1/results/shop", http.StatusOK, &rep)
			if diff := cmp.Diff(abn.Analyze(r), rep); diff != "" {
				t.Errorf("/v1/results/shop (-want +got):\n%s", diff)
			}
			var e map[string]string
			getJSON(t, in.http+"/v1/results/nope", http.StatusNotFound, &e)
			if e["error"] != `application "nope" not found` {
				t.Errorf("/v1/results/nope: %v", e)
			}
			metrics := get(t, in.http+"/metrics", http.StatusOK)
			for _, want := range []string{
				`abn_requests_total{code="OK",method="Lookup"} 20`,
				`abn_requests_total{code="OK",method="WriteMetric"} 20`,
				`abn_lookups_total{application="shop",version="v1"}`,
				`abn_request_duration_seconds_count{method="Lookup"} 20`,
				"process_resident_memory_bytes",
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
			// Each version's users, transactions and means per user, as the
			// report has them.
			for _, v := range rep.Versions {
				for _, want := range []string{
					fmt.Sprintf(`abn_users{application="shop",version=%q} %d`, v.Name, v.Users),
					fmt.Sprintf(`abn_transactions{application="shop",version=%q} %d`, v.Name, v.Transactions),
					fmt.Sprintf(`abn_metric_mean_per_user{application="shop",metric=%q,version=%q} %g`, v.Metrics[0].Name, v.Name, v.Metrics[0].PerUser.Mean),
				} {
					if !strings.Contains(metrics, want+"\n") {
						t.Errorf("/metrics lacks %q", want)
					}
				}
			}
			if got := get(t, in.http+"/readyz", http.StatusOK); got != "ok\n" {
				t.Errorf("/readyz: %q", got)
			}
		})
	}
}

func get(t *testing.T, url string, code int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code {
		t.Fatalf("GET %s: %d, want %d: %s", url, resp.StatusCode, code, b)
	}
	return string(b)
}

func getJSON(t *testing.T, url string, code int, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(get(t, url, code)), v); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	in := start(t, apps(t), openBolt(t, filepath.Join(t.TempDir(), "abn.db")), service.Options{})
	ctx := t.Context()
	if _, err := in.client.WriteMetric(ctx, &abnpb.WriteMetricRequest{Application: "shop", User: "u", Metric: "sales", Value: 5}); err != nil {
		t.Fatal(err)
	}
	before, err := in.client.GetResults(ctx, &abnpb.GetResultsRequest{Application: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 257)
	tests := []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"unknown application", lookupErr(in, "cart", "u"), codes.NotFound, `application "cart" not found`},
		{"empty user", lookupErr(in, "shop", ""), codes.InvalidArgument, "user: must not be empty"},
		{"empty application", lookupErr(in, "", "u"), codes.InvalidArgument, "application: must not be empty"},
		{"long user", lookupErr(in, "shop", long), codes.InvalidArgument, "user: is 257 bytes long: the limit is 256"},
		{"no ready version", lookupErr(in, "dark", "u"), codes.FailedPrecondition, `application "dark" has no version to assign: v1 is not ready, v2 has weight 0`},
		{"write unknown application", writeErr(in, "cart", "u", "sales", 1), codes.NotFound, `application "cart" not found`},
		{"empty metric", writeErr(in, "shop", "u", "", 1), codes.InvalidArgument, "metric: must not be empty"},
		{"long metric", writeErr(in, "shop", "u", long, 1), codes.InvalidArgument, "metric: is 257 bytes long: the limit is 256"},
		{"NaN", writeErr(in, "shop", "u", "sales", nan()), codes.InvalidArgument, `value of metric "sales": NaN is not allowed: values must be finite numbers`},
		{"+Inf", writeErr(in, "shop", "u", "sales", inf()), codes.InvalidArgument, `value of metric "sales": +Inf is not allowed: values must be finite numbers`},
		{"write no ready version", writeErr(in, "dark", "u", "sales", 1), codes.FailedPrecondition, `application "dark" has no version to assign: v1 is not ready, v2 has weight 0`},
		{"results of unknown application", func() error {
			_, err := in.client.GetResults(ctx, &abnpb.GetResultsRequest{Application: "cart"})
			return err
		}, codes.NotFound, `application "cart" not found`},
		{"batch too large", func() error {
			_, err := in.client.WriteMetrics(ctx, &abnpb.WriteMetricsRequest{Metrics: make([]*abnpb.WriteMetricRequest, abn.MaxBatch+1)})
			return err
		}, codes.InvalidArgument, "metrics: 10001 values: the limit per call is 10000"},
	}
	for _, tc := range tests {
		err := tc.call()
		if st := status.Convert(err); st.Code() != tc.code || st.Message() != tc.msg {
			t.Errorf("%s: %v, want %v %q", tc.name, err, tc.code, tc.msg)
		}
	}

	// A batch keeps its good values and lists the others.
	resp, err := in.client.WriteMetrics(ctx, &abnpb.WriteMetricsRequest{Metrics: []*abnpb.WriteMetricRequest{
		{Application: "shop", User: "u", Metric: "sales", Value: nan()},
		{Application: "shop", User: "u", Metric: "sales", Value: 7},
		{Application: "cart", User: "u", Metric: "sales", Value: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := &abnpb.WriteMetricsResponse{Rejected: []*abnpb.Rejection{
		{Index: 0, Code: int32(codes.InvalidArgument), Message: `value of metric "sales": NaN is not allowed: values must be finite numbers`},
		{Index: 2, Code: int32(codes.NotFound), Message: `application "cart" not found`},
	}}
	if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
		t.Errorf("WriteMetrics (-want +got):\n%s", diff)
	}

	// Nothing stored was changed by the bad calls; the batch added 7.
	after, err := in.client.GetResults(ctx, &abnpb.GetResultsRequest{Application: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range before.GetVersions() {
		for _, m := range v.GetMetrics() {
			v.Transactions++
			m.Count++
			m.Sum += 7
			m.SumSquares += 49
			m.Max = 7
			m.UserSumSquares = 144
			m.Buckets = nil
		}
	}
	for _, v := range after.GetVersions() {
		for _, m := range v.GetMetrics() {
			m.Buckets = nil
		}
	}
	if diff := cmp.Diff(before, after, protocmp.Transform()); diff != "" {
		t.Errorf("results after bad input (-want +got):\n%s", diff)
	}
}

func lookupErr(in *instance, app, u string) func() error {
	return func() error {
		_, err := in.client.Lookup(context.Background(), &abnpb.LookupRequest{Application: app, User: u})
		return err
	}
}

func writeErr(in *instance, app, u, metric string, v float64) func() error {
	return func() error {
		_, err := in.client.WriteMetric(context.Background(), &abnpb.WriteMetricRequest{Application: app, User: u, Metric: metric, Value: v})
		return err
	}
}

// TestLookupsStream sends good and bad lookups on one stream: each answer
// comes in order and is what Lookup answers. The stream ends with OK when
// the service stops, long before its shutdown timeout.
func TestLookupsStream(t *testing.T) {
	in := start(t, apps(t), openBolt(t, filepath.Join(t.TempDir(), "abn.db")), service.Options{ShutdownTimeout: time.Hour})
	reqs := []*abnpb.LookupRequest{{Application: "cart", User: "u"}, {Application: "shop", User: ""}, {Application: "dark", User: "u"}}
	for i := range 100 {
		reqs = append(reqs, &abnpb.LookupRequest{Application: "shop", User: user(i)})
	}
	var want []*abnpb.LookupsResponse
	for _, req := range reqs {
		resp, err := in.client.Lookup(t.Context(), req)
		st := status.Convert(err)
		want = append(want, &abnpb.LookupsResponse{Version: resp.GetVersion(), Code: int32(st.Code()), Message: st.Message()})
	}

	stream, err := in.client.Lookups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, req := range reqs {
			if err := stream.Send(req); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var got []*abnpb.LookupsResponse
	for range reqs {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("answers on the stream (-Lookup's +stream's):\n%s", diff)
	}
	if !strings.Contains(get(t, in.http+"/metrics", http.StatusOK), `abn_requests_total{code="OK",method="Lookups"} 100`) {
		t.Error("the 100 lookups on the stream are not counted in /metrics")
	}

	in.stop(t)
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("the stream ended with %v, want OK (io.EOF)", err)
	}
}

// TestConcurrentWritersExactCounts has 50 clients write at once, one value
// per call and in batches, and checks the exact totals.
func TestConcurrentWritersExactCounts(t *testing.T) {
	const writers, calls, batch = 50, 20, 5
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			in := start(t, apps(t), open(t), service.Options{})
			ctx := t.Context()
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Go(func() {
					for c := range calls {
						u := user(w*calls + c)
						if _, err := in.client.WriteMetric(ctx, &abnpb.WriteMetricRequest{Application: "shop", User: u, Metric: "sales", Value: 1}); err != nil {
							errs <- err
							return
						}
						req := &abnpb.WriteMetricsRequest{}
						for range batch {
							req.Metrics = append(req.Metrics, &abnpb.WriteMetricRequest{Application: "shop", User: u, Metric: "clicks", Value: 2})
						}
						if resp, err := in.client.WriteMetrics(ctx, req); err != nil || len(resp.GetRejected()) > 0 {
							errs <- fmt.Errorf("WriteMetrics: %v %v", resp, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			res, err := in.client.GetResults(ctx, &abnpb.GetResultsRequest{Application: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			var users, tx, sales, clicks int64
			var salesSum, clicksSum float64
			for _, v := range abnpb.ToResults(res).Versions {
				users += v.Users
				tx += v.Transactions
				for _, m := range v.Metrics {
					switch m.Name {
					case "sales":
						sales += m.Values.Count
						salesSum += m.Values.Sum
					case "clicks":
						clicks += m.Values.Count
						clicksSum += m.Values.Sum
					}
				}
			}
			const n = writers * calls
			if users != n || tx != n*(1+batch) || sales != n || salesSum != n || clicks != n*batch || clicksSum != 2*n*batch {
				t.Errorf("users %d, transactions %d, sales %d (sum %g), clicks %d (sum %g); want %d, %d, %d (%d), %d (%d)",
					users, tx, sales, salesSum, clicks, clicksSum, n, n*(1+batch), n, n, n*batch, 2*n*batch)
			}
		})
	}
}

// TestStickyAcrossRestartsAndReplicas looks up 1,000 users, restarts the
// service, and asks two replicas sharing Redis: no user changes version,
// and each is counted once.
func TestStickyAcrossRestartsAndReplicas(t *testing.T) {
	const users = 1000
	a := apps(t)
	path := filepath.Join(t.TempDir(), "abn.db")
	st := openBolt(t, path)
	first := start(t, a, st, service.Options{})
	want := make([]string, users)
	for i := range users {
		want[i] = lookup(t, first.client, "shop", user(i)).GetName()
	}
	first.stop(t)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	restarted := start(t, a, openBolt(t, path), service.Options{})
	url := storetest.Redis(t)
	replicas := []*instance{
		start(t, a, openRedis(t, url), service.Options{}),
		start(t, a, openRedis(t, url), service.Options{}),
	}
	changed := map[string]int{}
	for i := range users {
		if got := lookup(t, restarted.client, "shop", user(i)).GetName(); got != want[i] {
			changed["restart"]++
		}
		for r, in := range replicas {
			// Each replica sees every user, in a different order.
			j := i
			if r == 1 {
				j = users - 1 - i
			}
			if got := lookup(t, in.client, "shop", user(j)).GetName(); got != want[j] {
				changed[fmt.Sprintf("replica %d", r)]++
			}
		}
	}
	if len(changed) > 0 {
		t.Errorf("users that changed version (of %d): %v", users, changed)
	}
	// Assignments are written at shutdown at the latest, and each user
	// counts once: across the restart, and across the replicas.
	for what, in := range map[string]*instance{"across a restart": restarted, "by two replicas": replicas[0]} {
		for _, in := range append(replicas, restarted) {
			in.stop(t)
		}
		res, err := in.svc.Results(t.Context(), "shop")
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, v := range res.Versions {
			n += v.Users
		}
		if n != users {
			t.Errorf("%d users counted %s, want %d", n, what, users)
		}
	}
}

// TestConcurrentCallersAgreeWithSequentialCalls compares the answers of 50
// concurrent callers with sequential ones.
func TestConcurrentCallersAgreeWithSequentialCalls(t *testing.T) {
	const users, callers = 1000, 50
	in := start(t, apps(t), openBolt(t, filepath.Join(t.TempDir(), "abn.db")), service.Options{})
	want := make([]string, users)
	for i := range users {
		want[i] = lookup(t, in.client, "shop", user(i)).GetName()
	}
	var mu sync.Mutex
	differ, answers := 0, 0
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			// Each caller asks about 200 users, starting at a different one.
			for k := range 200 {
				i := (c*97 + k) % users
				resp, err := in.client.Lookup(context.Background(), &abnpb.LookupRequest{Application: "shop", User: user(i)})
				mu.Lock()
				answers++
				if err != nil || resp.GetVersion().GetName() != want[i] {
					differ++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if differ != 0 || answers != callers*200 {
		t.Errorf("%d of %d concurrent answers differ from sequential ones", differ, answers)
	}
}

func TestHealthAndReflection(t *testing.T) {
	in := start(t, apps(t), openBolt(t, filepath.Join(t.TempDir(), "abn.db")), service.Options{})
	ctx := t.Context()
	for _, svc := range []string{"", "iter8.abn.v1.ABN"} {
		resp, err := healthpb.NewHealthClient(in.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q: %v %v", svc, resp, err)
		}
	}
	stream, err := reflectionpb.NewServerReflectionClient(in.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	want := []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "iter8.abn.v1.ABN", "main.ABN"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("reflected services (-want +got):\n%s", diff)
	}
}

// failingStore fails to store assignments.
type failingStore struct{ store.Store }

func (failingStore) AddUsers(context.Context, []store.Assignment) error {
	return fmt.Errorf("disk on fire")
}

// TestAssignmentsAreBatchedAndBounded checks that lookups reach the store
// within the flush interval, and that while the store fails, pending
// assignments stay bounded and the dropped ones are counted.
func TestAssignmentsAreBatchedAndBounded(t *testing.T) {
	st := openBolt(t, filepath.Join(t.TempDir(), "abn.db"))
	in := start(t, apps(t), st, service.Options{AssignmentFlushInterval: 20 * time.Millisecond})
	for i := range 30 {
		lookup(t, in.client, "shop", user(i%10))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := st.Read(t.Context(), "shop")
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, v := range d.Versions {
			n += v.Users
		}
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d users stored after the flush interval, want 10", n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	bad := start(t, apps(t), failingStore{st}, service.Options{MaxPendingAssignments: 5, AssignmentFlushInterval: time.Hour})
	for i := range 8 {
		lookup(t, bad.client, "shop", user(i))
	}
	metrics := get(t, bad.http+"/metrics", http.StatusOK)
	for _, want := range []string{"abn_assignments_pending 5", "abn_assignments_dropped_total 3"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := bad.Stop(); err == nil || err.Error() != "writing the last assignments: disk on fire" {
		t.Errorf("Run: %v, want the failure of the last flush", err)
	}
}

// blockingStore holds the first AddUsers until release is closed, then
// fails it.
type blockingStore struct {
	store.Store
	entered, release chan struct{}
	once             sync.Once
}

func (b *blockingStore) AddUsers(context.Context, []store.Assignment) error {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return fmt.Errorf("disk on fire")
}

// TestPendingCountsTheBatchInFlight: while a flush writes the pending
// assignments, they still count as pending, in /metrics and against
// MaxPendingAssignments, and a user of the batch is not added again; when
// the write fails, the batch is pending again.
func TestPendingCountsTheBatchInFlight(t *testing.T) {
	st := &blockingStore{Store: openBolt(t, filepath.Join(t.TempDir(), "abn.db")), entered: make(chan struct{}), release: make(chan struct{})}
	in := start(t, apps(t), st, service.Options{MaxPendingAssignments: 5, AssignmentFlushInterval: time.Hour})
	for i := range 5 {
		lookup(t, in.client, "shop", user(i))
	}
	flushed := make(chan error, 1)
	go func() {
		_, err := in.svc.Results(context.Background(), "shop")
		flushed <- err
	}()
	<-st.entered
	// In flight: user-0 is not added again, user-5 and user-6 do not fit.
	for _, i := range []int{0, 5, 6} {
		lookup(t, in.client, "shop", user(i))
	}
	scraped := make(chan string, 1)
	go func() { scraped <- get(t, in.http+"/metrics", http.StatusOK) }()
	time.Sleep(200 * time.Millisecond) // the scrape reads the gauge, then waits for the flush
	close(st.release)
	if err := <-flushed; err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Results: %v, want the failed write", err)
	}
	metrics := <-scraped
	for _, want := range []string{"abn_assignments_pending 5", "abn_assignments_dropped_total 2"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics during the flush lacks %q", want)
		}
	}
	metrics = get(t, in.http+"/metrics", http.StatusOK)
	for _, want := range []string{"abn_assignments_pending 5", "abn_assignments_dropped_total 2"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics after the failed flush lacks %q", want)
		}
	}
	if err := in.Stop(); err == nil || err.Error() != "writing the last assignments: disk on fire" {
		t.Errorf("Run: %v, want the failure of the last flush", err)
	}
}

// TestLargestBatch sends MaxBatch values with the longest names.
func TestLargestBatch(t *testing.T) {
	in := start(t, apps(t), openBolt(t, filepath.Join(t.TempDir(), "abn.db")), service.Options{})
	long := strings.Repeat("m", abn.MaxNameLength)
	req := &abnpb.WriteMetricsRequest{}
	for i := range abn.MaxBatch {
		u := fmt.Sprintf("%0*d", abn.MaxNameLength, i)
		req.Metrics = append(req.Metrics, &abnpb.WriteMetricRequest{Application: "shop", User: u, Metric: long, Value: 1})
	}
	resp, err := in.client.WriteMetrics(t.Context(), req)
	if err != nil || len(resp.GetRejected()) > 0 {
		t.Fatalf("WriteMetrics of %d values: %v %v", abn.MaxBatch, resp, err)
	}
	res, err := in.svc.Results(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, v := range res.Versions {
		n += v.Transactions
	}
	if n != abn.MaxBatch {
		t.Errorf("%d values stored, want %d", n, abn.MaxBatch)
	}
}

// routeLike is an Applications that leaves the optional fields of its apps
// empty, as another implementation may.
type routeLike struct{}

func (routeLike) Application(name string) (abn.App, bool) {
	return abn.App{Name: name, Versions: []abn.Version{{Name: "blue", Weight: 1, Ready: true}}}, name == "shop"
}

func (routeLike) Names() []string { return []string{"shop"} }

func TestApplicationsDefaults(t *testing.T) {
	in := start(t, routeLike{}, openBolt(t, filepath.Join(t.TempDir(), "abn.db")), service.Options{})
	v := lookup(t, in.client, "shop", "ann")
	want := &abnpb.Version{Name: "blue", Index: 0, HeaderName: "x-iter8-version", HeaderValue: "blue"}
	if diff := cmp.Diff(want, v, protocmp.Transform()); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	res, err := in.svc.Results(t.Context(), "shop")
	if err != nil || res.Baseline != "blue" {
		t.Errorf("Results: baseline %q, %v", res.Baseline, err)
	}
}
