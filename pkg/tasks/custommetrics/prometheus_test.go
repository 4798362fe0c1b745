package custommetrics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks/assess"
)

// TestPrometheus runs the task against a real Prometheus that scrapes a test
// app, and checks that the recorded values are what the app exposed.
func TestPrometheus(t *testing.T) {
	app := startApp(t, map[string]int{"blue": 7, "green": 3}, map[string]float64{"blue": 12.5, "green": 20})
	prom := testenv.StartPrometheus(t, app)
	waitForSample(t, prom, "sum(app_requests_total)", 10)

	dir := t.TempDir()
	providers := fmt.Sprintf(`providers:
- name: windowed
  url: %s/api/v1/query
  method: POST
  metrics:
  - name: requests
    type: counter
    query: sum(max_over_time(app_requests_total{version="{{.Values.label}}"}[{{.Elapsed}}]))
`, prom)
	if err := os.WriteFile(filepath.Join(dir, "providers.yaml"), []byte(providers), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: prometheus}
spec:
  versions: [{name: v1}, {name: v2}]
  tasks:
  - task: custommetrics
    with:
      providers:
      - name: prometheus
        url: %s/api/v1/query
        metrics:
        - name: requests
          type: counter
          query: sum(app_requests_total{version="{{.Values.label}}"})
        - name: latency
          unit: ms
          query: max(app_latency_ms{version="{{.Values.label}}"})
        - name: errors
          type: counter
          query: sum(app_errors_total{version="{{.Values.label}}"})
      providerFile: providers.yaml
      versions:
        v1: {values: {label: blue}}
        v2: {values: {label: green}}
  - task: assess
    with:
      SLOs:
        upper: [{metric: prometheus/latency, limit: 15}]
        lower: [{metric: windowed/requests, limit: 5}]
`, prom)
	reg := experiment.Registry{Name: New, assess.Name: assess.New}
	exp, err := experiment.Parse("experiment.yaml", dir, []byte(doc), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The run "started" a minute ago, so that the windowed query's range
	// covers every sample Prometheus has.
	res, err := experiment.Execute(ctx, exp, experiment.Options{Now: func() time.Time { return time.Now().Add(-time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range res.Tasks {
		if st.State != experiment.TaskSucceeded {
			t.Fatalf("task %s: %s: %s", st.Task, st.State, st.Error)
		}
	}
	want := []experiment.VersionResult{
		{Name: "v1", Metrics: map[string]float64{"prometheus/requests": 7, "prometheus/latency": 12.5, "windowed/requests": 7}},
		{Name: "v2", Metrics: map[string]float64{"prometheus/requests": 3, "prometheus/latency": 20, "windowed/requests": 3}},
	}
	if diff := cmp.Diff(want, res.Versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	wantNotes := []string{
		"prometheus/errors of version v1: no value: the query returned no series",
		"prometheus/errors of version v2: no value: the query returned no series",
	}
	if diff := cmp.Diff(wantNotes, res.Tasks[0].Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]bool{{true, true}, {false, false}}, res.SLOs.Satisfied); diff != "" {
		t.Errorf("SLOs satisfied (-want +got):\n%s", diff)
	}
}

// startApp starts an app on loopback that counts requests to / by their
// version parameter in app_requests_total and exposes /metrics, sends it the
// given number of requests per version, and sets app_latency_ms per version.
// It returns the app's host:port.
func startApp(t *testing.T, requests map[string]int, latency map[string]float64) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	count := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "app_requests_total", Help: "Requests served."}, []string{"version"})
	lat := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "app_latency_ms", Help: "Latency of the last request."}, []string{"version"})
	reg.MustRegister(count, lat)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		count.WithLabelValues(r.URL.Query().Get("version")).Inc()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for version, n := range requests {
		for range n {
			resp, err := http.Get(srv.URL + "/?version=" + version)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
	}
	for version, v := range latency {
		lat.WithLabelValues(version).Set(v)
	}
	return srv.Listener.Addr().String()
}

// waitForSample polls an instant query until it returns one sample equal to
// want, i.e. until Prometheus has scraped what the test needs.
func waitForSample(t *testing.T, base, query string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var r struct {
				Data struct {
					Result []struct {
						Value [2]any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			_ = resp.Body.Close()
			if err == nil && len(r.Data.Result) == 1 {
				last = fmt.Sprint(r.Data.Result[0].Value[1])
				if last == strconv.FormatFloat(want, 'g', -1, 64) {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s is %q after 30s, want %g: prometheus did not scrape the app", query, last, want)
}
