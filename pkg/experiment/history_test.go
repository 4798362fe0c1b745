package experiment_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// TestHistoryReadsTheListOfSummaries reads a result written before
// histories had columns: its runs are kept, figures to 6 digits.
func TestHistoryReadsTheListOfSummaries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "result.yaml")
	old := `experiment: checkout
startTime: "2026-01-01T02:00:00Z"
iterations: 2
completed: false
failed: false
tasks: []
versions: [{name: v1}]
history:
- iteration: 1
  startTime: "2026-01-01T00:00:00Z"
  endTime: "2026-01-01T00:01:30Z"
  completed: true
  failed: false
  slosSatisfied: {v1: true}
  metrics: {v1: {http/latency-p50: 1.23456789, http/request-count: 1234567}}
- iteration: 2
  startTime: "2026-01-01T01:00:00Z"
  endTime: "2026-01-01T01:00:10Z"
  completed: true
  failed: true
  error: task 1 (http) failed
`
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := experiment.ReadResultFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) *time.Time {
		x, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &x
	}
	want := []experiment.RunSummary{
		{Iteration: 1, StartTime: *at("2026-01-01T00:00:00Z"), EndTime: at("2026-01-01T00:01:30Z"), Completed: true,
			SLOsSatisfied: map[string]bool{"v1": true}, Metrics: map[string]map[string]float64{"v1": {"http/latency-p50": 1.23457, "http/request-count": 1234567}}},
		{Iteration: 2, StartTime: *at("2026-01-01T01:00:00Z"), EndTime: at("2026-01-01T01:00:10Z"), Completed: true, Failed: true, Error: "task 1 (http) failed"},
	}
	if diff := cmp.Diff(want, r.History.Runs()); diff != "" {
		t.Errorf("runs read from the list (-want +got):\n%s", diff)
	}
	// Written again, it is in columns, and reads back the same.
	b, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`outcomes: sf`, `http/latency-p50: 1.23457 -`, `v1: y-`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("the columns lack %q:\n%s", s, b)
		}
	}
	var again experiment.Result
	if err := yaml.UnmarshalStrict(b, &again); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, again.History.Runs()); diff != "" {
		t.Errorf("columns read back (-want +got):\n%s", diff)
	}
}

func TestHistoryKeepsAThousandRunsAndMergesEvery(t *testing.T) {
	h := &experiment.History{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= experiment.MaxHistory+5; i++ {
		end := t0.Add(time.Duration(i)*time.Hour + time.Second)
		latency := &stats.Histogram{}
		latency.Merge(&stats.Histogram{Count: 2, Sum: float64(i), Min: 0, Max: float64(i), Buckets: []stats.Bucket{{Lower: 0, Upper: 1, Count: 2}}})
		h.Add(experiment.RunSummary{Iteration: i, StartTime: t0.Add(time.Duration(i) * time.Hour), EndTime: &end, Completed: true,
			Metrics: map[string]map[string]float64{"v1": {"m": float64(i) + 0.5}}}, map[string]map[string]*stats.Histogram{"v1": {"h": latency}})
	}
	runs := h.Runs()
	if len(runs) != experiment.MaxHistory || runs[0].Iteration != 6 || runs[len(runs)-1].Metrics["v1"]["m"] != float64(experiment.MaxHistory)+5.5 {
		t.Errorf("kept %d runs from %d, last m %v; want the last %d", len(runs), runs[0].Iteration, runs[len(runs)-1].Metrics, experiment.MaxHistory)
	}
	if got := h.Histograms["v1"]["h"]; got.Count != 2*(experiment.MaxHistory+5) || got.Max != experiment.MaxHistory+5 {
		t.Errorf("merged histogram: count %d max %g, want every run's", got.Count, got.Max)
	}
	if s := runs[0].EndTime.Sub(runs[0].StartTime); s != time.Second {
		t.Errorf("run 6 took %v, want 1s", s)
	}
}

func TestHistoryBadColumns(t *testing.T) {
	for _, tc := range []struct{ history, want string }{
		{`{iterations: "1 2", startTimes: ["2026-01-01T00:00:00Z"], seconds: "1 1", outcomes: ss}`, "history: startTimes has 1 entries for 2 iterations"},
		{`{iterations: "1", startTimes: ["2026-01-01T00:00:00Z"], seconds: "x", outcomes: s}`, `column entry 1 is "x": want a finite number, or - for none`},
		{`{iterations: "1", startTimes: ["2026-01-01T00:00:00Z"], seconds: "1", outcomes: z}`, `history: outcomes "z": allowed letters are s, f and i`},
		{`{iterations: "1", startTimes: ["2026-01-01T00:00:00Z"], seconds: "1", outcomes: s, metrics: {v1: {m: "1 2"}}}`, "history: metric m of v1 has 2 entries for 1 iterations"},
		{`{iterations: "1", startTimes: ["2026-01-01T00:00:00Z"], seconds: "1", outcomes: s, extra: 1}`, `unknown field "extra"`},
	} {
		var r experiment.Result
		err := yaml.UnmarshalStrict([]byte("history: "+tc.history), &r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.history, err, tc.want)
		}
	}
}
