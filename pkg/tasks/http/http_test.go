package http_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/internal/load/loadtest"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks/assess"
	httptask "github.com/iter8-tools/iter8/pkg/tasks/http"
)

var registry = experiment.Registry{httptask.Name: httptask.New, assess.Name: assess.New}

// app is a test service: it counts requests, fails every failEvery-th one
// with status failCode, sleeps delay, and keeps the last request.
type app struct {
	count     atomic.Int64
	failEvery int64
	failCode  int
	delay     time.Duration
	// stallAt makes the stallAt-th request (from 1) take stall.
	stallAt  int64
	stall    time.Duration
	mu       sync.Mutex
	last     *http.Request
	lastBody string
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.count.Add(1)
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.last, a.lastBody = r, string(body)
	a.mu.Unlock()
	time.Sleep(a.delay)
	if n == a.stallAt {
		time.Sleep(a.stall)
	}
	if a.failEvery > 0 && n%a.failEvery == 0 {
		w.WriteHeader(a.failCode)
		return
	}
	fmt.Fprintln(w, "ok")
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func run(t *testing.T, dir, doc string) *experiment.Result {
	t.Helper()
	exp, err := experiment.Parse("experiment.yaml", dir, []byte(doc), registry)
	if err != nil {
		t.Fatal(err)
	}
	res, err := experiment.Execute(t.Context(), exp, experiment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func value(t *testing.T, r *experiment.Result, version, metric string) float64 {
	t.Helper()
	v, ok := r.Value(version, metric)
	if !ok {
		t.Fatalf("no %s for %s", metric, version)
	}
	return v
}

func TestTwoVersionsMetrics(t *testing.T) {
	v1 := &app{}
	v2 := &app{failEvery: 10, failCode: 500, delay: 2 * time.Millisecond}
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: two}
spec:
  versions: [{name: v1}, {name: v2}]
  tasks:
  - task: http
    with:
      numRequests: 200
      connections: 2
      warmup: 10
      percentiles: [75]
      versions:
        v1: {url: %q}
        v2: {url: %q}
  - task: assess
    with:
      SLOs:
        upper:
        - {metric: http/error-rate, limit: 0.05}
        - {metric: http/latency-p75, limit: 1000}
`, serve(t, v1), serve(t, v2))
	res := run(t, t.TempDir(), doc)
	if res.Failed {
		t.Fatalf("experiment failed: %s %+v", res.Error, res.Tasks)
	}
	for _, v := range []string{"v1", "v2"} {
		if got := value(t, res, v, "http/request-count"); got != 200 {
			t.Errorf("%s request-count %g, want 200", v, got)
		}
		h := res.Version(v).Histograms["http/latency"]
		if h == nil || h.Count != 200 {
			t.Errorf("%s latency histogram %+v, want 200 values", v, h)
		}
		p50, p75, p99, max := value(t, res, v, "http/latency-p50"), value(t, res, v, "http/latency-p75"), value(t, res, v, "http/latency-p99"), value(t, res, v, "http/latency-max")
		if !(p50 <= p75 && p75 <= p99 && p99 <= max && max > 0) {
			t.Errorf("%s percentiles out of order: p50 %g p75 %g p99 %g max %g", v, p50, p75, p99, max)
		}
		if tp := value(t, res, v, "http/throughput"); tp <= 0 {
			t.Errorf("%s throughput %g", v, tp)
		}
	}
	// Warm-up requests reach the server but are not counted.
	if v1.count.Load() != 210 {
		t.Errorf("v1 server saw %d requests, want 200 + 10 warm-up", v1.count.Load())
	}
	// v2 fails every 10th request it serves: 21 of 210 (1 during warm-up).
	if got := value(t, res, "v2", "http/error-count"); got != 20 {
		t.Errorf("v2 error-count %g, want 20", got)
	}
	if got := value(t, res, "v2", "http/error-rate"); got != 0.1 {
		t.Errorf("v2 error-rate %g, want 0.1", got)
	}
	if got := value(t, res, "v1", "http/error-count"); got != 0 {
		t.Errorf("v1 error-count %g, want 0", got)
	}
	if got := value(t, res, "v2", "http/latency-min"); got < 2 {
		t.Errorf("v2 latency-min %g ms, want at least the 2 ms the server sleeps", got)
	}
	want := [][]bool{{true, true}, {false, true}}
	if diff := cmp.Diff(want, res.SLOs.Satisfied); diff != "" {
		t.Errorf("SLO matrix (-want +got):\n%s", diff)
	}
}

func TestRequestShape(t *testing.T) {
	a := &app{}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body.json"), []byte(`{"q": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: shape}
spec:
  tasks:
  - task: http
    with:
      url: %q
      method: put
      payloadFile: body.json
      contentType: application/json
      headers: {X-Team: a, X-Trace: t1}
      numRequests: 4
      connections: 1
`, serve(t, a))
	res := run(t, dir, doc)
	if res.Failed {
		t.Fatalf("failed: %s", res.Error)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	got := []string{a.last.Method, a.lastBody, a.last.Header.Get("Content-Type"), a.last.Header.Get("X-Team"), a.last.Header.Get("X-Trace")}
	want := []string{"PUT", `{"q": 1}`, "application/json", "a", "t1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if got := value(t, res, experiment.DefaultVersion, "http/request-count"); got != 4 {
		t.Errorf("request-count %g, want 4", got)
	}
}

func TestErrorRanges(t *testing.T) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) })
	url := serve(t, notFound)
	for _, tc := range []struct {
		ranges string
		want   float64
	}{
		{"", 10},
		{", errorRanges: [{lower: 500}]", 0},
		{", errorRanges: [{lower: 400, upper: 404}]", 10},
		{", errorRanges: [{upper: 403}]", 0},
	} {
		doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: ranges}
spec:
  tasks:
  - task: http
    with: {url: %q, numRequests: 10, connections: 1%s}
`, url, tc.ranges)
		res := run(t, t.TempDir(), doc)
		if got := value(t, res, experiment.DefaultVersion, "http/error-count"); got != tc.want {
			t.Errorf("%q: error-count %g, want %g", tc.ranges, got, tc.want)
		}
	}
}

func TestConnectionErrorsCount(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: refused}
spec:
  tasks:
  - task: http
    with: {url: "http://%s/", numRequests: 6, connections: 1, timeout: 1s}
`, addr)
	res := run(t, t.TempDir(), doc)
	if got := value(t, res, experiment.DefaultVersion, "http/error-rate"); got != 1 {
		t.Errorf("error-rate %g, want 1", got)
	}
}

func TestLateRequestsAreReported(t *testing.T) {
	// The server takes 20 ms; at 200 qps on one connection a request is due
	// every 5 ms, so every request after the first starts late.
	a := &app{delay: 20 * time.Millisecond}
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: late}
spec:
  tasks:
  - task: http
    with: {url: %q, qps: 200, numRequests: 40, connections: 1}
`, serve(t, a))
	res := run(t, t.TempDir(), doc)
	v := experiment.DefaultVersion
	if got := value(t, res, v, "http/late-count"); got != 39 {
		t.Errorf("late-count %g, want 39", got)
	}
	// Request i starts at least i·(20-5) ms after its slot.
	if got := value(t, res, v, "http/late-max"); got < 39*15 {
		t.Errorf("late-max %g ms, want at least %d", got, 39*15)
	}
	if got := value(t, res, v, "http/dropped-count"); got != 0 {
		t.Errorf("dropped-count %g, want 0", got)
	}
	notes := res.Tasks[0].Notes
	if len(notes) != 1 || !strings.Contains(notes[0], "39 of 40 requests started late") {
		t.Errorf("notes %q", notes)
	}
}

// TestStallShowsInTheLatencyFromTheIntendedStart loads at 100 qps on one
// connection while the 20th request stalls for a second: the ~100 requests
// due during the stall start late, so the latency from their intended
// start shows the stall at p90, while the service time does not.
func TestStallShowsInTheLatencyFromTheIntendedStart(t *testing.T) {
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: stall}
spec:
  tasks:
  - task: http
    with: {url: %q, qps: 100, numRequests: 200, connections: 1}
`, serve(t, &app{stallAt: 20, stall: time.Second}))
	loadtest.AssertStallShows(t, run(t, t.TempDir(), doc), "http", 200)
}

func TestOnTimeRequestsAreNotLate(t *testing.T) {
	a := &app{}
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: paced}
spec:
  tasks:
  - task: http
    with: {url: %q, qps: 20, duration: 1s, connections: 2}
`, serve(t, a))
	res := run(t, t.TempDir(), doc)
	v := experiment.DefaultVersion
	sent, dropped := value(t, res, v, "http/request-count"), value(t, res, v, "http/dropped-count")
	if sent+dropped != 20 || sent < 2 {
		t.Errorf("sent %g + dropped %g, want 20 planned", sent, dropped)
	}
	if a.count.Load() < int64(sent) {
		t.Errorf("server saw %d requests, fewer than the %g counted", a.count.Load(), sent)
	}
}

func TestHTTP2WithCAFile(t *testing.T) {
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: h2}
spec:
  tasks:
  - task: http
    with: {url: %q, http2: true, caFile: ca.pem, numRequests: 4, connections: 1}
`, srv.URL)
	res := run(t, dir, doc)
	if got := value(t, res, experiment.DefaultVersion, "http/error-count"); got != 0 {
		t.Errorf("error-count %g, want 0 (%+v)", got, res.Tasks)
	}
	if p, _ := proto.Load().(string); p != "HTTP/2.0" {
		t.Errorf("server saw %q, want HTTP/2.0", p)
	}
}

func TestCancelStopsTheLoad(t *testing.T) {
	a := &app{}
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: cancel}
spec:
  tasks:
  - task: http
    with: {url: %q, qps: 50, duration: 10m, connections: 1}
`, serve(t, a))
	exp, err := experiment.Parse("experiment.yaml", ".", []byte(doc), registry)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan *experiment.Result)
	go func() {
		res, _ := experiment.Execute(ctx, exp, experiment.Options{})
		done <- res
	}()
	for a.count.Load() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case res := <-done:
		if !res.Failed || res.Tasks[0].State != experiment.TaskFailed || res.Tasks[0].Error != "interrupted" {
			t.Errorf("result after cancel: failed %v, task %+v", res.Failed, res.Tasks[0])
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the load test did not stop within 30s of the cancel")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		with string
		want string
	}{
		{"no url", `{numRequests: 1}`, "test.yaml:7: spec.tasks[0].with.url: Required value: version default needs a URL: set url, or versions.default.url"},
		{"bad url", `{url: "ftp://x/"}`, `test.yaml:7: spec.tasks[0].with.url: Invalid value: "ftp://x/": must be an absolute http:// or https:// URL`},
		{"both bounds", `{url: "http://x/", duration: 1s, numRequests: 3}`, "test.yaml:7: spec.tasks[0].with.numRequests: set duration or numRequests, not both"},
		{"bad method", `{url: "http://x/", method: FETCH}`, `test.yaml:7: spec.tasks[0].with.method: Unsupported value: "FETCH": supported values: "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"`},
		{"negative qps", `{url: "http://x/", qps: -1}`, "test.yaml:7: spec.tasks[0].with.qps: Invalid value: -1: must be 0 (as fast as possible) or more"},
		{"bad duration", `{url: "http://x/", duration: fast}`, `test.yaml:7: spec.tasks[0].with.duration: Invalid value: "fast": must be a duration such as 500ms, 10s or 1m30s`},
		{"unknown version", `{url: "http://x/", versions: {v9: {url: "http://y/"}}}`, `test.yaml:7: spec.tasks[0].with.versions[v9]: Unsupported value: "v9": supported values: "default"`},
		{"missing payload file", `{url: "http://x/", payloadFile: nope.json}`, "cannot read it"},
		{"bad percentile", `{url: "http://x/", percentiles: [0]}`, "test.yaml:7: spec.tasks[0].with.percentiles[0]: Invalid value: 0: must be above 0 and at most 100"},
		{"bad range", `{url: "http://x/", errorRanges: [{lower: 500, upper: 400}]}`, "test.yaml:7: spec.tasks[0].with.errorRanges[0].upper: Invalid value: 400: must not be below lower"},
		{"unknown field", `{url: "http://x/", rps: 3}`, "test.yaml:7: spec.tasks[0].with.rps: unknown field; allowed fields: caFile, connections, contentType,"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := "apiVersion: iter8.tools/v1alpha1\nkind: Experiment\nmetadata: {name: v}\nspec:\n  tasks:\n  - task: http\n    with: " + tc.with + "\n"
			_, err := experiment.Parse("test.yaml", t.TempDir(), []byte(doc), registry)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestProblemsInAStableOrder: problems of map parameters (headers, versions)
// come in the order of their keys, every time (they came in map order).
func TestProblemsInAStableOrder(t *testing.T) {
	want := []string{
		"with.versions[b]: Unsupported value: \"b\": supported values: \"v1\"",
		"with.versions[c]: Unsupported value: \"c\": supported values: \"v1\"",
		"with.versions[d]: Unsupported value: \"d\": supported values: \"v1\"",
		"with.headers[a b]: Invalid value: \"a b\": must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~",
		"with.headers[c:d]: Invalid value: \"c:d\": must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~",
		"with.headers[e(f)]: Invalid value: \"e(f)\": must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~",
	}
	for range 20 {
		task := &httptask.Task{
			URL:      "http://127.0.0.1:1/",
			Headers:  map[string]string{"e(f)": "1", "a b": "1", "ok": "1", "c:d": "1"},
			Versions: map[string]httptask.Endpoint{"d": {}, "b": {}, "c": {}},
		}
		var got []string
		for _, e := range experiment.Prepare(task, &experiment.ValidationContext{Versions: []string{"v1"}}, field.NewPath("with")) {
			got = append(got, e.Error())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("problems (-want +got):\n%s", diff)
		}
	}
}

// TestPrepareValidatesDefaultsAndLoads: Validate judges what was written
// (an unset timeout is no problem), Default fills it in, Load reads the
// files; a missing file is reported with the other problems.
func TestPrepareValidatesDefaultsAndLoads(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body.json"), []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	vc := &experiment.ValidationContext{Versions: []string{"v1"}, Dir: dir}
	task := &httptask.Task{URL: "http://127.0.0.1:1/", PayloadFile: "body.json"}
	if errs := task.Validate(vc, field.NewPath("with")); len(errs) > 0 || task.Timeout != nil || task.NumRequests != 0 {
		t.Fatalf("Validate: %v, and it filled in timeout %v, numRequests %d", errs, task.Timeout, task.NumRequests)
	}
	if errs := experiment.Prepare(task, vc, field.NewPath("with")); len(errs) > 0 || task.Timeout.Duration != httptask.DefaultTimeout || task.NumRequests != httptask.DefaultNumRequests {
		t.Fatalf("Prepare: %v, timeout %v, numRequests %d", errs, task.Timeout, task.NumRequests)
	}
	bad := &httptask.Task{URL: "http://127.0.0.1:1/", PayloadFile: "missing.json", QPS: -1}
	var got []string
	for _, e := range experiment.Prepare(bad, vc, field.NewPath("with")) {
		got = append(got, e.Field)
	}
	if want := []string{"with.qps", "with.payloadFile"}; !cmp.Equal(got, want) {
		t.Errorf("problems at %v, want %v", got, want)
	}
}
