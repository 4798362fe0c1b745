// Package e2e holds the end-to-end tests: they build the plugin binaries and
// drive them as a user would, through kubectl, against the real control plane.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iter8-tools/iter8/internal/testenv"
)

// The version and commit the binaries are built with.
const (
	e2eVersion = "v0.0.0-e2e"
	e2eCommit  = "e2e0123456789abcdef0123456789abcdef0123"
)

var (
	binDir  string       // holds the built kubectl-iter8_* binaries
	kubectl string       // a kubectl of the control plane's version
	env     *testenv.Env // a control plane, with the Job and garbage collector controllers, and no node
)

func TestMain(m *testing.M) {
	// Everything runs in a network namespace of its own, where a real
	// node runs pods on a pod network that never leaves it.
	if code, ok := testenv.InNetns(); ok {
		os.Exit(code)
	}
	flag.Parse()
	if testing.Short() {
		fmt.Fprintln(os.Stderr, "e2e: -short: the end-to-end tests need a cluster, which -short does not start: skipped")
		os.Exit(0)
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e setup: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return 1, err
	}
	dir, err := os.MkdirTemp("", "iter8-e2e-bin-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	binDir = dir
	for _, p := range []string{"run", "route", "abn"} {
		// Static, as make build and make images build them: the
		// images run them too.
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(binDir, "kubectl-iter8_"+p),
			"-ldflags", "-X github.com/iter8-tools/iter8/pkg/version.Version="+e2eVersion+
				" -X github.com/iter8-tools/iter8/pkg/version.Commit="+e2eCommit,
			"./plugins/kubectl-iter8-"+p)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return 1, fmt.Errorf("building kubectl-iter8_%s: %w", p, err)
		}
	}
	cmd := exec.Command(filepath.Join(root, "hack", "controlplane.sh"), "kube-apiserver", "etcd", "kubectl", "kube-controller-manager", "kube-scheduler", "kubelet")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 1, fmt.Errorf("building the control plane: %w", err)
	}
	assets := strings.TrimSpace(string(out))
	kubectl = filepath.Join(assets, "kubectl")
	env, err = testenv.Start(context.Background(), testenv.Options{AssetsDir: assets})
	if err != nil {
		return 1, err
	}
	defer env.Stop()
	if err := env.StartControllerManager("job-controller", "cronjob-controller", "garbage-collector-controller"); err != nil {
		return 1, err
	}
	stop, err := startCluster(context.Background(), assets)
	if err != nil {
		return 1, err
	}
	defer stop()
	return m.Run(), nil
}

// runKubectl runs kubectl with the built plugins first on PATH.
func runKubectl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), kubectl, args...)
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	return run(t, cmd)
}

// run runs cmd and returns its output and exit code; it fails the test
// when cmd cannot run.
func run(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return out.String(), errOut.String(), code
}

func TestKubectlFindsThePlugins(t *testing.T) {
	out, errOut, code := runKubectl(t, "plugin", "list", "--name-only")
	if code != 0 {
		t.Fatalf("kubectl plugin list: exit %d\n%s", code, errOut)
	}
	for _, p := range []string{"kubectl-iter8_run", "kubectl-iter8_route", "kubectl-iter8_abn"} {
		if !strings.Contains(out, p+"\n") {
			t.Errorf("kubectl plugin list lacks %s:\n%s", p, out)
		}
	}
	if strings.Contains(errOut, "iter8") {
		t.Errorf("kubectl plugin list warns about iter8 plugins:\n%s", errOut)
	}
}

func TestPluginHelpUsesKubectlName(t *testing.T) {
	for _, p := range []string{"run", "route", "abn"} {
		out, errOut, code := runKubectl(t, "iter8-"+p, "--help")
		if code != 0 {
			t.Fatalf("kubectl iter8-%s --help: exit %d\n%s", p, code, errOut)
		}
		for _, want := range []string{"kubectl iter8-" + p + " [command]", "--kubeconfig", "--context", "--namespace"} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl iter8-%s --help lacks %q:\n%s", p, want, out)
			}
		}
		if strings.Contains(out, "kubectl-iter8_") {
			t.Errorf("kubectl iter8-%s --help shows the binary name:\n%s", p, out)
		}
	}
}

func TestPluginVersion(t *testing.T) {
	out, errOut, code := runKubectl(t, "iter8-route", "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var v struct{ Version, GoVersion, Platform string }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Version != e2eVersion || !strings.HasPrefix(v.GoVersion, "go1.") || v.Platform == "" {
		t.Errorf("version = %+v", v)
	}
}

func TestBadOutputFlagExitsNonZero(t *testing.T) {
	out, errOut, code := runKubectl(t, "iter8-abn", "version", "-o", "xml")
	if code != 1 || out != "" || !strings.Contains(errOut, "allowed values are table, json, yaml") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
