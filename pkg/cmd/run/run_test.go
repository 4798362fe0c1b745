package run_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/cmd/run"
	"github.com/iter8-tools/iter8/pkg/experiment"
)

// iter8 runs kubectl iter8-run in-process and returns stdout, stderr and
// the exit code.
func iter8(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	t.Chdir(dir)
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code := cli.Execute(run.NewCommand(streams), args)
	return out.String(), errOut.String(), code
}

func experimentFile(t *testing.T, dir, url string, errorLimit float64) string {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: cli}
spec:
  tasks:
  - task: http
    with: {url: %q, numRequests: 20, connections: 2}
  - task: assess
    with:
      SLOs:
        upper: [{metric: http/error-rate, limit: %g}]
`, url, errorLimit)
	path := filepath.Join(dir, "experiment.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// flaky fails every other request.
func flaky(t *testing.T) string {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n++
		if n%2 == 0 {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestLaunchReportAssert(t *testing.T) {
	dir := t.TempDir()
	experimentFile(t, dir, flaky(t), 0.9)
	out, errOut, code := iter8(t, dir, "launch", "-f", "experiment.yaml", "--local")
	if code != 0 || out != "" {
		t.Fatalf("launch: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"task 1/2 http: started", "task 2/2 assess: Succeeded", "result written to result.yaml"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("launch progress lacks %q:\n%s", want, errOut)
		}
	}

	out, _, code = iter8(t, dir, "report")
	if code != 0 || !strings.Contains(out, "Status:      completed, no task failed") || !strings.Contains(out, "http/error-rate <= 0.9   ✓") {
		t.Errorf("report: exit %d:\n%s", code, out)
	}
	out, _, _ = iter8(t, dir, "report", "-o", "json")
	var res experiment.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("report -o json: %v", err)
	}
	if rc, _ := res.Value(experiment.DefaultVersion, "http/request-count"); rc != 20 {
		t.Errorf("report -o json: request-count %g, want 20", rc)
	}

	for format, want := range map[string]string{
		`jsonpath={.versions[0].metrics.http/request-count}`:               "20",
		`go-template={{index .versions 0 "metrics" "http/request-count"}}`: "20",
	} {
		if out, errOut, code := iter8(t, dir, "report", "-o", format); code != 0 || out != want {
			t.Errorf("report -o %s: exit %d, stdout %q, want %q; stderr %s", format, code, out, want, errOut)
		}
	}

	out, _, code = iter8(t, dir, "report", "-o", "html")
	if code != 0 || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, "<title>Experiment cli</title>") || !strings.Contains(out, `"http/latency: distribution"`) {
		t.Errorf("report -o html: exit %d, %d bytes starting %.80q", code, len(out), out)
	}

	_, errOut, code = iter8(t, dir, "assert", "-c", "completed,nofailure,slos")
	if code != 0 || errOut != "experiment cli: completed, nofailure, slos hold\n" {
		t.Errorf("assert: exit %d, stderr %q", code, errOut)
	}
}

func TestAssertFailsWithReasons(t *testing.T) {
	dir := t.TempDir()
	experimentFile(t, dir, flaky(t), 0.1)
	if _, errOut, code := iter8(t, dir, "launch", "-f", "experiment.yaml", "--local"); code != 0 {
		t.Fatalf("launch: exit %d\n%s", code, errOut)
	}
	_, errOut, code := iter8(t, dir, "assert", "-c", "completed", "-c", "slos")
	want := "slos: not satisfied: default (http/error-rate <= 0.1)\n"
	if code != 1 || errOut != want {
		t.Errorf("assert: exit %d, stderr %q, want 1 and %q", code, errOut, want)
	}
}

func TestLaunchFailedExperimentExitsOne(t *testing.T) {
	dir := t.TempDir()
	// No server listens at this address: every request fails, then assess
	// finds the SLO unmet; a task failure comes from the missing metric.
	doc := `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: broken}
spec:
  versions: [{name: v1}]
  tasks:
  - task: http
    with: {url: "http://127.0.0.1:1/", numRequests: 2, connections: 1, timeout: 1s}
  - task: assess
    if: "false"
    with:
      SLOs: {upper: [{metric: http/error-rate, limit: 0}]}
`
	if err := os.WriteFile(filepath.Join(dir, "e.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := iter8(t, dir, "launch", "-f", "e.yaml", "--local")
	if code != 0 {
		t.Fatalf("launch of a run whose requests fail (the task itself succeeds): exit %d\n%s", code, errOut)
	}
	_, errOut, code = iter8(t, dir, "assert", "-c", "slos")
	if code != 1 || !strings.Contains(errOut, "slos: not satisfied: no SLOs were assessed") {
		t.Errorf("assert slos without assessment: exit %d, %q", code, errOut)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	previous := []byte("experiment: earlier\n")
	if err := os.WriteFile(filepath.Join(dir, "result.yaml"), previous, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := "apiVersion: iter8.tools/v1alpha1\nkind: Experiment\nmetadata: {name: x}\nspec:\n  tasks:\n  - task: http\n    with: {url: 'http://x/', qps: fast}\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"launch", "--local"}, "Error: flag -f/--filename is required: the experiment file to run\n"},
		{[]string{"launch", "-f", "bad.yaml", "--result", "x.yaml"}, "Error: flag --result is for local runs: use it with --local\n"},
		{[]string{"launch", "-f", "bad.yaml", "--local", "--schedule", "@daily"}, "Error: flags --image, --schedule, --env-from-secret, --secret-env and --dry-run are for in-cluster runs: not with --local\n"},
		{[]string{"launch", "-f", "bad.yaml", "--dry-run=server"}, "Error: invalid value \"server\" for flag --dry-run: allowed values are none, client\n"},
		{[]string{"launch", "-f", "bad.yaml", "--dry-run", "-o", "table"}, "Error: invalid value \"table\" for flag -o/--output: allowed values are yaml, json, name\n"},
		{[]string{"report", "exp", "--result", "x.yaml"}, "Error: give an experiment NAME (in the cluster) or --result (a local run), not both\n"},
		{[]string{"launch", "-f", "missing.yaml", "--local"}, "Error: reading experiment: open missing.yaml: no such file or directory\n"},
		{[]string{"launch", "-f", "bad.yaml", "--local"}, "Error: bad.yaml is not a valid experiment:\n  bad.yaml:7: spec.tasks[0].with.qps: Invalid value: \"fast\": must be a number\n"},
		{[]string{"report", "-o", "table"}, "Error: invalid value \"table\" for flag -o/--output: allowed values are text, json, yaml, html, jsonpath=TEMPLATE, go-template=TEMPLATE\n"},
		{[]string{"report", "--result", "none.yaml"}, "Error: no result at none.yaml: run kubectl iter8-run launch --local first, or point --result at one\n"},
		{[]string{"assert"}, "Error: flag -c/--condition is required: one or more of completed, nofailure, slos\n"},
		{[]string{"assert", "-c", "fast"}, "Error: invalid value \"fast\" for flag -c/--condition: allowed values are completed, nofailure, slos\n"},
	}
	for _, tc := range tests {
		out, errOut, code := iter8(t, dir, tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", tc.args, code, out, errOut, tc.want)
		}
	}
	// Nothing stored was touched by the failed commands.
	got, _ := os.ReadFile(filepath.Join(dir, "result.yaml"))
	if !bytes.Equal(got, previous) {
		t.Errorf("result.yaml changed to %q", got)
	}
}

func TestAssertWaitsForARunningExperiment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "result.yaml")
	running := &experiment.Result{Experiment: "slow", Versions: []experiment.VersionResult{{Name: "v1"}}}
	if err := experiment.WriteResultFile(path, running); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		end := time.Now()
		done := *running
		done.EndTime, done.Completed, done.Iterations = &end, true, 1
		_ = experiment.WriteResultFile(path, &done)
	}()
	t.Chdir(dir)
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	o := &run.AssertOptions{IOStreams: streams, ResultPath: path, Conditions: []string{"completed"}, Timeout: time.Minute, Interval: 20 * time.Millisecond}
	if err := o.Run(t.Context()); err != nil {
		t.Fatalf("assert: %v (%s)", err, errOut)
	}
	// Without waiting, the running experiment fails "completed".
	o = &run.AssertOptions{IOStreams: streams, ResultPath: path, Conditions: []string{"completed"}}
	if err := experiment.WriteResultFile(path, running); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	err := o.Run(t.Context())
	if diff := cmp.Diff("completed: not satisfied: the experiment is still running\n", errOut.String()); err == nil || diff != "" {
		t.Errorf("assert of a running experiment: %v\n%s", err, diff)
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := iter8(t, dir, "demo", "--save-experiment", "demo.yaml")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"Experiment:  demo", "SLOs:        satisfied by v1; not by v2", "http/error-rate <= 0.01   ✓     ✗", "http/request-count"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo report lacks %q:\n%s", want, out)
		}
	}
	res, err := experiment.ReadResultFile(filepath.Join(dir, "result.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// v2 fails every 25th request.
	if rate, _ := res.Value("v2", "http/error-rate"); rate != 0.04 {
		t.Errorf("v2 error-rate %g, want 0.04", rate)
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.yaml")); err != nil {
		t.Errorf("demo experiment not saved: %v", err)
	}
	_, errOut, code = iter8(t, dir, "assert", "-c", "completed,nofailure,slos")
	if code != 1 || !strings.Contains(errOut, "v2 (http/error-rate <= 0.01)") {
		t.Errorf("assert after demo: exit %d, %q", code, errOut)
	}
}
