package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// TestLaunchLocalInterruptedWritesPartialResult runs the built binary,
// interrupts it with SIGINT (Ctrl-C) mid-load, and checks that it exits 1
// and leaves a complete result file marked failed.
func TestLaunchLocalInterruptedWritesPartialResult(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	spec := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: long}
spec:
  versions: [{name: v1}, {name: v2}]
  tasks:
  - task: http
    with: {url: %q, qps: 20, duration: 10m, connections: 1}
  - task: assess
    with:
      SLOs: {upper: [{metric: http/error-rate, limit: 0}]}
`, srv.URL)
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "kubectl-iter8_run"), "launch", "-f", "experiment.yaml", "--local")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Wait (bounded) until the result shows the http task running.
	resultPath := filepath.Join(dir, "result.yaml")
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := experiment.ReadResultFile(resultPath)
		if err == nil && r.Tasks[0].State == experiment.TaskRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the http task did not start: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // some requests
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after SIGINT\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Error: experiment long failed: the experiment was interrupted") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	r, err := experiment.ReadResultFile(resultPath)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Failed || r.Completed || r.EndTime == nil {
		t.Errorf("result: failed %v completed %v end %v", r.Failed, r.Completed, r.EndTime)
	}
	if r.Tasks[0].State != experiment.TaskFailed || r.Tasks[1].State != experiment.TaskSkipped {
		t.Errorf("tasks %+v", r.Tasks)
	}
	if n, ok := r.Value("v1", "http/request-count"); !ok || n < 1 {
		t.Errorf("v1 request-count %v %v: the partial load should be recorded", n, ok)
	}
	if _, ok := r.Value("v2", "http/request-count"); ok {
		t.Error("v2 was load-tested after the interrupt")
	}
}
