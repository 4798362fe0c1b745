package custommetrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// vector is a Prometheus instant-vector response with one series per value.
func vector(values ...string) string {
	var series []string
	for i, v := range values {
		series = append(series, fmt.Sprintf(`{"metric":{"version":"v%d"},"value":[1782907200.123,%q]}`, i+1, v))
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(series, ",") + `]}}`
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		body      string
		jsonPath  string
		want      outcome
		wantError string
	}{
		{name: "one series", code: 200, body: vector("7"), want: outcome{value: 7, ok: true}},
		{name: "float", code: 200, body: vector("0.25"), want: outcome{value: 0.25, ok: true}},
		{name: "scalar", code: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1782907200,"42"]}}`, want: outcome{value: 42, ok: true}},
		{name: "no series", code: 200, body: vector(), want: outcome{notes: []string{"no value: the query returned no series"}}},
		{name: "empty matrix", code: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, jsonPath: "$.data.result[0].values[0][1]", want: outcome{notes: []string{"no value: the query returned no series"}}},
		{name: "NaN", code: 200, body: vector("NaN"), want: outcome{notes: []string{"no value: the query returned NaN, not a finite number"}}},
		{name: "infinity", code: 200, body: vector("+Inf"), want: outcome{notes: []string{"no value: the query returned +Inf, not a finite number"}}},
		{
			name: "warnings", code: 200,
			body: `{"status":"success","warnings":["partial response"],"data":{"resultType":"vector","result":[{"metric":{},"value":[1,"3"]}]}}`,
			want: outcome{value: 3, ok: true, notes: []string{"warning: partial response"}},
		},
		{name: "two series", code: 200, body: vector("1", "2"), wantError: "the query returned 2 series; aggregate them into one (e.g. with sum) or set jsonPath"},
		{name: "two series, second picked", code: 200, body: vector("1", "2"), jsonPath: "$.data.result[1].value[1]", want: outcome{value: 2, ok: true}},
		{name: "braces", code: 200, body: vector("5"), jsonPath: "{.data.result[0].value[1]}", want: outcome{value: 5, ok: true}},
		{name: "filter", code: 200, body: vector("1", "2"), jsonPath: `$.data.result[?(@.metric.version=="v2")].value[1]`, want: outcome{value: 2, ok: true}},
		{name: "JSON number", code: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1, 12.5]}}`, want: outcome{value: 12.5, ok: true}},
		{name: "matrix", code: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}`, wantError: `the query returned a "matrix" result; use an instant-vector query or set jsonPath`},
		{name: "path finds nothing", code: 200, body: vector("1"), jsonPath: "$.data.result[3].value[1]", wantError: "jsonPath $.data.result[3].value[1]: array index out of bounds: index 3, length 1"},
		{name: "path finds many", code: 200, body: vector("1", "2"), jsonPath: "$.data.result[*].value[1]", wantError: "jsonPath $.data.result[*].value[1] found 2 values, want one"},
		{name: "path finds an object", code: 200, body: vector("1"), jsonPath: "$.data.result[0].metric", wantError: "jsonPath $.data.result[0].metric found map[version:v1], not a number"},
		{name: "not a number", code: 200, body: vector("many"), wantError: `jsonPath $.data.result[0].value[1] found "many", not a number`},
		{
			name: "prometheus error", code: 400,
			body:      `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input"}`,
			wantError: `the query failed: bad_data: invalid parameter "query": 1:5: parse error: unexpected end of input`,
		},
		{name: "HTTP error", code: 503, body: "Service Unavailable", wantError: "HTTP 503 Service Unavailable"},
		{name: "not found", code: 404, body: "404 page not found", wantError: "HTTP 404 Not Found: is url the query endpoint, e.g. http://prometheus:9090/api/v1/query?"},
		{name: "not JSON", code: 200, body: "<html></html>", wantError: "the response is not a Prometheus API response: invalid character '<' looking for beginning of value"},
		{name: "other status", code: 200, body: `{"status":"pending"}`, wantError: `the response's status is "pending", not success`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := extract(tc.code, []byte(tc.body), tc.jsonPath)
			if tc.wantError != "" {
				if err == nil || err.Error() != tc.wantError {
					t.Fatalf("error = %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(outcome{})); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

// request is what the fake API saw.
type request struct {
	Method, Path, Query, Auth, ContentType, Tenant string
}

// fakeAPI is a Prometheus-compatible API on loopback that answers each
// query with a canned body and status, and records the requests.
type fakeAPI struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

type answer struct {
	code int
	body string
}

func newFakeAPI(t *testing.T, answers map[string]answer) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := r.Form.Get("query")
		f.mu.Lock()
		f.requests = append(f.requests, request{Method: r.Method, Path: r.URL.Path, Query: q, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Tenant: r.Header.Get("X-Scope-OrgID")})
		f.mu.Unlock()
		if q == "hang" {
			<-r.Context().Done()
			return
		}
		a, ok := answers[q]
		if !ok {
			a = answer{http.StatusBadRequest, fmt.Sprintf(`{"status":"error","errorType":"bad_data","error":"unexpected query %q"}`, q)}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.code)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) seen() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

var registry = experiment.Registry{Name: New}

// setup parses an experiment with versions v1 and v2 and the custommetrics
// task given by with (YAML), and returns the task and a run that started
// 95s before the task's clock.
func setup(t *testing.T, dir, with string) (*Task, *experiment.Run) {
	t.Helper()
	doc := `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: test}
spec:
  versions: [{name: v1}, {name: v2}]
  tasks:
  - task: custommetrics
    with:
` + indent(with, "      ")
	exp, err := experiment.Parse("experiment.yaml", dir, []byte(doc), registry)
	if err != nil {
		t.Fatal(err)
	}
	task := exp.Spec.Tasks[0].Params().(*Task)
	start := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	task.now = func() time.Time { return start.Add(95 * time.Second) }
	res := experiment.NewResult(exp)
	res.StartTime = start
	return task, &experiment.Run{Experiment: exp, Result: res, Progress: io.Discard}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}

func TestRunRecordsPerVersion(t *testing.T) {
	api := newFakeAPI(t, map[string]answer{
		`sum(increase(app_requests_total{version="blue"}[95s]))`:  {200, vector("7")},
		`sum(increase(app_requests_total{version="green"}[95s]))`: {200, vector("3")},
		`max(app_latency_ms{version="blue"})`:                     {200, vector("12.5")},
		`max(app_latency_ms{version="green"})`:                    {200, vector()},
	})
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			task, run := setup(t, t.TempDir(), fmt.Sprintf(`providers:
- name: prom
  url: %s/api/v1/query?dedup=true
  method: %s
  headers: {X-Scope-OrgID: team-a}
  metrics:
  - name: requests
    type: counter
    query: sum(increase(app_requests_total{version="{{.Values.label}}"}[{{.Elapsed}}]))
  - name: latency
    unit: ms
    query: max(app_latency_ms{version="{{.Values.label}}"})
versions:
  v1: {values: {label: blue}}
  v2: {values: {label: green}}
`, api.URL, method))
			before := len(api.seen())
			if err := task.Run(context.Background(), run); err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := []experiment.VersionResult{
				{Name: "v1", Metrics: map[string]float64{"prom/requests": 7, "prom/latency": 12.5}},
				{Name: "v2", Metrics: map[string]float64{"prom/requests": 3}},
			}
			if diff := cmp.Diff(want, run.Result.Versions); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
			wantNotes := []string{"prom/latency of version v2: no value: the query returned no series"}
			if diff := cmp.Diff(wantNotes, run.Result.Tasks[0].Notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
			contentType := ""
			if method == "POST" {
				contentType = "application/x-www-form-urlencoded"
			}
			var wantReqs []request
			for _, q := range []string{
				`sum(increase(app_requests_total{version="blue"}[95s]))`,
				`max(app_latency_ms{version="blue"})`,
				`sum(increase(app_requests_total{version="green"}[95s]))`,
				`max(app_latency_ms{version="green"})`,
			} {
				wantReqs = append(wantReqs, request{Method: method, Path: "/api/v1/query", Query: q, ContentType: contentType, Tenant: "team-a"})
			}
			if diff := cmp.Diff(wantReqs, api.seen()[before:]); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunAuth(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	api := newFakeAPI(t, map[string]answer{"up": {200, vector("1")}})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CM_TEST_TOKEN", secret)
	t.Setenv("CM_TEST_USER", "alice")
	t.Setenv("CM_TEST_PASSWORD", secret)
	tests := []struct {
		name string
		auth string
		want string
	}{
		{name: "bearer from env", auth: "{bearerTokenEnv: CM_TEST_TOKEN}", want: "Bearer " + secret},
		{name: "bearer from file", auth: "{bearerTokenFile: token}", want: "Bearer " + secret},
		{name: "basic from env", auth: "{basicAuth: {usernameEnv: CM_TEST_USER, passwordEnv: CM_TEST_PASSWORD}}", want: "Basic YWxpY2U6czNjcjN0LXQwa2Vu"},
		{name: "none", auth: "{}", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, run := setup(t, dir, fmt.Sprintf("providers:\n- {name: prom, url: %s/api/v1/query, auth: %s, metrics: [{name: up, query: up}]}\n", api.URL, tc.auth))
			before := len(api.seen())
			if err := task.Run(context.Background(), run); err != nil {
				t.Fatalf("Run: %v", err)
			}
			var got []string
			for _, r := range api.seen()[before:] {
				got = append(got, r.Auth)
			}
			if diff := cmp.Diff([]string{tc.want, tc.want}, got); diff != "" {
				t.Errorf("Authorization headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	t.Setenv("CM_TEST_TOKEN", secret)
	t.Setenv("CM_TEST_EMPTY", "")
	api := newFakeAPI(t, map[string]answer{
		"good":   {200, vector("1")},
		"broken": {422, `{"status":"error","errorType":"execution","error":"expanding series: too many samples"}`},
		"down":   {503, "upstream down"},
	})
	tests := []struct {
		name    string
		with    string
		want    string
		wantGot []experiment.VersionResult
	}{
		{
			name: "failed queries do not stop the others",
			with: fmt.Sprintf(`providers:
- name: prom
  url: %s/api/v1/query
  auth: {bearerTokenEnv: CM_TEST_TOKEN}
  metrics:
  - {name: broken, query: broken}
  - {name: good, query: good}
  - {name: down, query: down}
`, api.URL),
			want: "prom/broken of version v1: the query failed: execution: expanding series: too many samples\n" +
				"prom/down of version v1: HTTP 503 Service Unavailable\n" +
				"prom/broken of version v2: the query failed: execution: expanding series: too many samples\n" +
				"prom/down of version v2: HTTP 503 Service Unavailable",
			wantGot: []experiment.VersionResult{
				{Name: "v1", Metrics: map[string]float64{"prom/good": 1}},
				{Name: "v2", Metrics: map[string]float64{"prom/good": 1}},
			},
		},
		{
			name: "token variable not set",
			with: fmt.Sprintf("providers:\n- {name: prom, url: %s/api/v1/query, auth: {bearerTokenEnv: CM_TEST_UNSET}, metrics: [{name: good, query: good}]}\n", api.URL),
			want: "provider prom: environment variable CM_TEST_UNSET (auth.bearerTokenEnv) is not set or empty",
			wantGot: []experiment.VersionResult{
				{Name: "v1"},
				{Name: "v2"},
			},
		},
		{
			name: "password variable empty",
			with: fmt.Sprintf("providers:\n- {name: prom, url: %s/api/v1/query, auth: {basicAuth: {usernameEnv: CM_TEST_TOKEN, passwordEnv: CM_TEST_EMPTY}}, metrics: [{name: good, query: good}]}\n", api.URL),
			want: "provider prom: environment variable CM_TEST_EMPTY (auth.basicAuth.passwordEnv) is not set or empty",
			wantGot: []experiment.VersionResult{
				{Name: "v1"},
				{Name: "v2"},
			},
		},
		{
			name: "no answer in time",
			with: fmt.Sprintf("timeout: 50ms\nproviders:\n- {name: prom, url: %s/api/v1/query, metrics: [{name: hang, query: hang}]}\n", api.URL),
			want: fmt.Sprintf("prom/hang of version v1: no answer from %[1]s/api/v1/query within 50ms\nprom/hang of version v2: no answer from %[1]s/api/v1/query within 50ms", api.URL),
			wantGot: []experiment.VersionResult{
				{Name: "v1"},
				{Name: "v2"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			task, run := setup(t, dir, tc.with)
			err := task.Run(context.Background(), run)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q holds the token", err)
			}
			if diff := cmp.Diff(tc.wantGot, run.Result.Versions); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunMissingTokenFile(t *testing.T) {
	api := newFakeAPI(t, map[string]answer{"good": {200, vector("1")}})
	dir := t.TempDir()
	task, run := setup(t, dir, fmt.Sprintf("providers:\n- {name: prom, url: %s/api/v1/query, auth: {bearerTokenFile: token}, metrics: [{name: good, query: good}]}\n", api.URL))
	err := task.Run(context.Background(), run)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(dir, "token")) {
		t.Errorf("error = %v, want one saying %s does not exist", err, filepath.Join(dir, "token"))
	}
	if n := len(api.seen()); n != 0 {
		t.Errorf("%d queries sent without credentials, want none", n)
	}
}

func TestRunCancelled(t *testing.T) {
	api := newFakeAPI(t, map[string]answer{"good": {200, vector("1")}})
	task, run := setup(t, t.TempDir(), fmt.Sprintf("providers:\n- {name: prom, url: %s/api/v1/query, metrics: [{name: good, query: good}]}\n", api.URL))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := task.Run(ctx, run); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if n := len(api.seen()); n != 0 {
		t.Errorf("%d queries sent after cancellation, want none", n)
	}
}
