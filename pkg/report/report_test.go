package report_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/internal/terminal"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/report"
)

var update = flag.Bool("update", false, "rewrite golden files")

func ptr[T any](v T) *T { return &v }

func result() *experiment.Result {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	r := &experiment.Result{
		Experiment: "demo",
		StartTime:  start,
		EndTime:    ptr(start.Add(12345 * time.Millisecond)),
		Iterations: 1,
		Completed:  true,
		Tasks: []experiment.TaskStatus{
			{Task: "http", State: experiment.TaskSucceeded, Notes: []string{"version v2: 3 of 100 requests started late"}},
			{Task: "assess", State: experiment.TaskSucceeded},
			{Task: "notify", State: experiment.TaskSkipped, Error: `condition "not slos" is false`},
		},
		Versions: []experiment.VersionResult{{Name: "v1"}, {Name: "v2"}},
		SLOs: &experiment.SLOResult{
			SLOs:      []experiment.SLO{{Metric: "http/error-rate", Upper: ptr(0.01)}, {Metric: "http/throughput", Lower: ptr(50.0)}},
			Satisfied: [][]bool{{true, true}, {false, true}},
		},
	}
	for v, vals := range map[string][]float64{"v1": {100, 0, 1.23456}, "v2": {100, 0.05, 15.2}} {
		_ = r.Record(v, experiment.MetricInfo{Name: "http/request-count", Type: experiment.Counter}, vals[0])
		_ = r.Record(v, experiment.MetricInfo{Name: "http/error-rate", Type: experiment.Gauge}, vals[1])
		_ = r.Record(v, experiment.MetricInfo{Name: "http/latency-p99", Type: experiment.Gauge, Unit: "ms"}, vals[2])
	}
	return r
}

func TestTextGolden(t *testing.T) {
	running := result()
	running.EndTime, running.SLOs = nil, nil
	running.Tasks[1].State = experiment.TaskRunning
	failed := result()
	failed.Failed, failed.Error = true, "task 1 (http) failed: boom"
	for name, r := range map[string]*experiment.Result{"completed": result(), "running": running, "failed": failed} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.Text(&b, r, terminal.Colorizer{}); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".txt")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestColorOnlyWhenEnabled(t *testing.T) {
	var b bytes.Buffer
	if err := report.Text(&b, result(), terminal.Colorizer{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte("\x1b[32mcompleted, no task failed\x1b[0m")) {
		t.Errorf("no colour in:\n%q", b.String())
	}
}

func TestFormatValue(t *testing.T) {
	for in, want := range map[float64]string{200: "200", 0.05: "0.05", 1.23456: "1.235", 1e-5: "0", 12345.6789: "12345.679"} {
		if got := report.FormatValue(in); got != want {
			t.Errorf("FormatValue(%g) = %q, want %q", in, got, want)
		}
	}
}
