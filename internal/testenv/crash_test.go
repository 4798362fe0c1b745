package testenv_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/iter8-tools/iter8/internal/testenv"
)

// TestProcessesDieWithTheTest runs a copy of this test binary that starts a
// control plane and crashes without stopping it, then checks that etcd and
// kube-apiserver did not outlive it.
func TestProcessesDieWithTheTest(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel ends orphaned children only on Linux (PR_SET_PDEATHSIG)")
	}
	dirFile := filepath.Join(t.TempDir(), "dir")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperCrash$")
	cmd.Env = append(os.Environ(), "ITER8_TESTENV_CRASH="+dirFile)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 3 {
		t.Fatalf("helper: %v, want exit code 3\n%s", err, out)
	}
	dir, err := os.ReadFile(dirFile)
	if err != nil {
		t.Fatalf("helper wrote no state folder: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = os.RemoveAll(string(dir)) })
	// The kernel sends SIGKILL as the parent exits; allow the reaping a moment.
	var left []string
	for range 50 {
		if left = processesMentioning(t, string(dir)); len(left) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("processes left after the test process died: %v", left)
}

func TestHelperCrash(t *testing.T) {
	dirFile := os.Getenv("ITER8_TESTENV_CRASH")
	if dirFile == "" {
		t.Skip("run by TestProcessesDieWithTheTest")
	}
	e, err := testenv.Start(context.Background(), testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dirFile, []byte(e.Dir), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(processesMentioning(t, e.Dir)) != 2 {
		t.Fatalf("want etcd and kube-apiserver running")
	}
	os.Exit(3) // no Stop, no cleanup: as if the test had crashed
}

// processesMentioning lists the command lines of processes whose arguments contain s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
