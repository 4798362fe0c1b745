package experiment_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

var update = flag.Bool("update", false, "rewrite golden files")

// record is a test task that records the metrics given as parameters, or
// fails with the given message.
type record struct {
	Values map[string]float64   `json:"values,omitempty"`
	Fail   string               `json:"fail,omitempty"`
	Wait   bool                 `json:"wait,omitempty"`
	Count  int                  `json:"count,omitempty"`
	Ratio  float64              `json:"ratio,omitempty"`
	Period *experiment.Duration `json:"period,omitempty"`
	Flag   bool                 `json:"flag,omitempty"`
	Names  []string             `json:"names,omitempty"`
}

func (t *record) Validate(_ *experiment.ValidationContext, path *field.Path) field.ErrorList {
	if t.Count < 0 {
		return field.ErrorList{field.Invalid(path.Child("count"), t.Count, "must be 0 or more")}
	}
	return nil
}

func (t *record) Metrics() []experiment.MetricInfo {
	var out []experiment.MetricInfo
	for k := range t.Values {
		out = append(out, experiment.MetricInfo{Name: "test/" + k, Type: experiment.Gauge})
	}
	return out
}

func (t *record) Run(ctx context.Context, r *experiment.Run) error {
	if t.Wait {
		<-ctx.Done()
		return ctx.Err()
	}
	if t.Fail != "" {
		return errors.New(t.Fail)
	}
	for _, v := range r.Result.VersionNames() {
		for k, x := range t.Values {
			if err := r.Result.Record(v, experiment.MetricInfo{Name: "test/" + k, Type: experiment.Gauge}, x); err != nil {
				return err
			}
		}
	}
	return nil
}

var registry = experiment.Registry{"record": func() experiment.Task { return &record{} }}

func TestParseErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := experiment.ParseFile(f, registry)
			got := "ok\n"
			if err != nil {
				got = err.Error() + "\n"
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrorIsTyped(t *testing.T) {
	_, err := experiment.Parse("x.yaml", ".", []byte("apiVersion: v0\n"), registry)
	var pe *experiment.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %T %v, want *ParseError", err, err)
	}
	var paths []string
	for _, p := range pe.Problems {
		paths = append(paths, fmt.Sprintf("%d:%s", p.Line, p.Err.Field))
	}
	want := []string{"1:apiVersion", "1:kind", "1:metadata.name", "1:spec.tasks"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestParseNotYAML(t *testing.T) {
	_, err := experiment.Parse("x.yaml", ".", []byte("a: [b"), registry)
	if err == nil || !strings.Contains(err.Error(), "x.yaml is not valid YAML") {
		t.Errorf("got %v", err)
	}
}

func parse(t *testing.T, doc string) *experiment.Experiment {
	t.Helper()
	exp, err := experiment.Parse("test.yaml", ".", []byte(doc), registry)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

const header = `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata:
  name: exp
spec:
  versions: [{name: v1}, {name: v2}]
  tasks:
`

func fixedClock() func() time.Time {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	return func() time.Time {
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}
}

func states(r *experiment.Result) []string {
	var out []string
	for _, t := range r.Tasks {
		out = append(out, fmt.Sprintf("%s %s %s", t.Task, t.State, t.Error))
	}
	return out
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name       string
		tasks      string
		wantStates []string
		wantFailed bool
		wantError  string
	}{
		{
			name: "all succeed",
			tasks: `  - task: record
    with: {values: {a: 1}}
  - task: record
    with: {values: {b: 2}}
`,
			wantStates: []string{"record Succeeded ", "record Succeeded "},
		},
		{
			name: "failure skips tasks without a condition, runs those whose condition holds",
			tasks: `  - task: record
    with: {fail: boom}
  - task: record
    with: {values: {b: 2}}
  - task: record
    if: failed
    with: {values: {c: 3}}
  - task: record
    if: not failed
`,
			wantStates: []string{
				"record Failed boom",
				"record Skipped an earlier task failed",
				"record Succeeded ",
				`record Skipped condition "not failed" is false`,
			},
			wantFailed: true,
			wantError:  "task 1 (record) failed: boom",
		},
		{
			name: "conditions see metrics",
			tasks: `  - task: record
    with: {values: {a: 1}}
  - task: record
    if: metrics["v2"]["test/a"] > 0.5
    with: {values: {b: 1}}
  - task: record
    if: metrics["v2"]["test/a"] > 5
`,
			wantStates: []string{"record Succeeded ", "record Succeeded ", `record Skipped condition "metrics[\"v2\"][\"test/a\"] > 5" is false`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp := parse(t, header+tc.tasks)
			var saves int
			res, err := experiment.Execute(t.Context(), exp, experiment.Options{
				Now:  fixedClock(),
				Save: func(context.Context, *experiment.Result) error { saves++; return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantStates, states(res)); diff != "" {
				t.Errorf("task states (-want +got):\n%s", diff)
			}
			if res.Failed != tc.wantFailed || res.Error != tc.wantError || !res.Completed || res.Iterations != 1 {
				t.Errorf("failed %v error %q completed %v iterations %d", res.Failed, res.Error, res.Completed, res.Iterations)
			}
			if saves < 2 {
				t.Errorf("result saved %d times, want at least at start and end", saves)
			}
		})
	}
}

func TestExecuteRecordsPerVersion(t *testing.T) {
	exp := parse(t, header+"  - task: record\n    with: {values: {a: 1.5}}\n")
	res, _ := experiment.Execute(t.Context(), exp, experiment.Options{Now: fixedClock()})
	for _, v := range []string{"v1", "v2"} {
		if x, ok := res.Value(v, "test/a"); !ok || x != 1.5 {
			t.Errorf("%s test/a = %v, %v", v, x, ok)
		}
	}
	want := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	if !res.StartTime.Equal(want) || res.EndTime == nil || !res.EndTime.After(want) {
		t.Errorf("start %v end %v", res.StartTime, res.EndTime)
	}
}

func TestExecuteInterrupted(t *testing.T) {
	exp := parse(t, header+"  - task: record\n    with: {wait: true}\n  - task: record\n    if: failed\n")
	ctx, cancel := context.WithCancel(t.Context())
	var last *experiment.Result
	var calls int
	res, err := experiment.Execute(ctx, exp, experiment.Options{
		Save: func(ctx context.Context, r *experiment.Result) error {
			calls++
			if calls == 2 { // the first task is running
				cancel()
			}
			if ctx.Err() != nil {
				return errors.New("save got a cancelled context")
			}
			last = r
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"record Failed interrupted", "record Skipped the experiment was interrupted"}
	if diff := cmp.Diff(want, states(res)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !res.Failed || res.Completed || last != res {
		t.Errorf("failed %v completed %v, final result saved %v", res.Failed, res.Completed, last == res)
	}
}

func TestExecuteSaveErrorStops(t *testing.T) {
	exp := parse(t, header+"  - task: record\n")
	_, err := experiment.Execute(t.Context(), exp, experiment.Options{
		Save: func(context.Context, *experiment.Result) error { return errors.New("disk full") },
	})
	if err == nil || err.Error() != "saving result: disk full" {
		t.Errorf("got %v", err)
	}
}

func TestPreviousIterationsCount(t *testing.T) {
	exp := parse(t, header+"  - task: record\n")
	res, _ := experiment.Execute(t.Context(), exp, experiment.Options{Previous: &experiment.Result{Iterations: 4}})
	if res.Iterations != 5 {
		t.Errorf("iterations %d, want 5", res.Iterations)
	}
}

func TestRecordRejectsNonFinite(t *testing.T) {
	exp := parse(t, header+"  - task: record\n")
	res := experiment.NewResult(exp)
	if err := res.Record("v1", experiment.MetricInfo{Name: "x"}, 0.0/zero()); err == nil {
		t.Error("NaN accepted")
	}
	if err := res.Record("v3", experiment.MetricInfo{Name: "x"}, 1); err == nil {
		t.Error("unknown version accepted")
	}
}

func zero() float64 { return 0 }

func TestResultFileRoundTrip(t *testing.T) {
	exp := parse(t, header+"  - task: record\n    with: {values: {a: 2.5}}\n")
	res, _ := experiment.Execute(t.Context(), exp, experiment.Options{Now: fixedClock()})
	path := filepath.Join(t.TempDir(), experiment.ResultFileName)
	if err := experiment.WriteResultFile(path, res); err != nil {
		t.Fatal(err)
	}
	back, err := experiment.ReadResultFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d files, want only the result (no temporary left)", len(entries))
	}
}

func TestResultFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := experiment.ReadResultFile(filepath.Join(dir, "none.yaml"))
	if !errors.Is(err, experiment.ErrNoResult) {
		t.Errorf("missing file: got %v, want ErrNoResult", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("experiment: x\nsurprise: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := experiment.ReadResultFile(bad); err == nil || !strings.Contains(err.Error(), "is not an iter8 result") {
		t.Errorf("bad file: got %v", err)
	}
	// A write that cannot complete leaves the previous result intact:
	// here the target is a folder, so the final rename fails.
	target := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := experiment.WriteResultFile(target, &experiment.Result{Experiment: "new"}); err == nil {
		t.Error("writing over a folder succeeded")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"bad.yaml", "taken"}, names); diff != "" {
		t.Errorf("folder after a failed write (-want +got):\n%s", diff)
	}
}

func TestPeriodicRunsKeepHistory(t *testing.T) {
	exp := parse(t, header+"  - task: record\n    with: {values: {a: 1}}\n  - task: record\n    if: iteration == 2\n    with: {fail: second run fails}\n")
	var prev *experiment.Result
	for range 3 {
		res, err := experiment.Execute(t.Context(), exp, experiment.Options{Now: fixedClock(), Previous: prev})
		if err != nil {
			t.Fatal(err)
		}
		prev = res
	}
	if prev.Iterations != 3 || prev.Failed {
		t.Errorf("iterations %d failed %v, want 3 and the third run fine", prev.Iterations, prev.Failed)
	}
	var got []string
	for _, h := range prev.History.Runs() {
		got = append(got, fmt.Sprintf("%d completed=%v failed=%v %s", h.Iteration, h.Completed, h.Failed, h.Error))
		// Each run keeps its own figures.
		if want := map[string]map[string]float64{"v1": {"test/a": 1}, "v2": {"test/a": 1}}; !cmp.Equal(h.Metrics, want) {
			t.Errorf("run %d kept metrics %v, want %v", h.Iteration, h.Metrics, want)
		}
	}
	want := []string{"1 completed=true failed=false ", "2 completed=true failed=true task 2 (record) failed: second run fails"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}
