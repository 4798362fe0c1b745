package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// iter8Run runs the built kubectl-iter8_run against the control plane as
// the admin, in dir.
func iter8Run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), filepath.Join(binDir, "kubectl-iter8_run"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
	return run(t, cmd)
}

func availableDeployment(t *testing.T, ns, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}},
		},
	}
	if _, err := env.Client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.SetDeploymentAvailable(t.Context(), ns, name, true); err != nil {
		t.Fatal(err)
	}
}

// TestExperimentInTheCluster launches an experiment with the built binary;
// the Job controller creates its pod, the test kubelet runs the same binary
// in job mode with a token of the Job's ServiceAccount against a real HTTP
// service on loopback, and the results flow back through the Secret to
// report, assert, list and log.
func TestExperimentInTheCluster(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "e2e-run")
	if err != nil {
		t.Fatal(err)
	}
	startKubelet(t, env, ns)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(app.Close)
	availableDeployment(t, ns, "checkout-v1")

	dir := t.TempDir()
	spec := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: checkout}
spec:
  versions: [{name: v1}]
  tasks:
  - task: ready
    with:
      timeout: 30s
      objects: [{apiVersion: apps/v1, kind: Deployment, name: checkout-v1}]
  - task: http
    with: {url: %q, numRequests: 20, connections: 2}
  - task: assess
    with:
      SLOs:
        upper: [{metric: http/error-rate, limit: 0}]
`, app.URL)
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}

	_, errOut, code := iter8Run(t, dir, "launch", "-f", "experiment.yaml", "-n", ns, "--image", "iter8:e2e")
	if code != 0 || !strings.Contains(errOut, "experiment checkout launched in namespace "+ns) {
		t.Fatalf("launch: exit %d\n%s", code, errOut)
	}
	_, errOut, code = iter8Run(t, dir, "assert", "checkout", "-n", ns, "-c", "completed,nofailure,slos", "--timeout", "60s")
	if code != 0 {
		t.Fatalf("assert: exit %d\n%s", code, errOut)
	}

	out, errOut, code := iter8Run(t, dir, "report", "checkout", "-n", ns)
	for _, want := range []string{`Status:\s+completed, no task failed`, `SLOs:\s+satisfied by every version`, `http/request-count\s+20\n`} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %q (exit %d):\n%s%s", want, code, out, errOut)
		}
	}
	out, _, _ = iter8Run(t, dir, "list", "-n", ns)
	if !regexp.MustCompile(`checkout\s+completed, no task failed\s+satisfied\s+1\s`).MatchString(out) {
		t.Errorf("list:\n%s", out)
	}
	out, errOut, code = iter8Run(t, dir, "log", "checkout", "-n", ns)
	if code != 0 || !strings.Contains(out, "task 2/3 http: Succeeded") {
		t.Errorf("log: exit %d\n%s%s", code, out, errOut)
	}

	// The Job controller saw the pod succeed.
	waitFor(t, "the Job is Complete", func() (bool, string) {
		job, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "iter8-checkout", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return hasCondition(job, batchv1.JobComplete), fmt.Sprintf("%+v", job.Status)
	})

	// The Job's ServiceAccount may not read a Secret it does not own.
	if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "payments-db"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := env.Token(ctx, ns, "iter8-checkout")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "job-kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig, "job", token); err != nil {
		t.Fatal(err)
	}
	get := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "get", "secret", "payments-db", "-n", ns)
	if out, err := get.CombinedOutput(); err == nil || !strings.Contains(string(out), "Forbidden") {
		t.Errorf("the Job's token read another Secret: %v\n%s", err, out)
	}

	_, errOut, code = iter8Run(t, dir, "delete", "checkout", "-n", ns)
	if code != 0 {
		t.Fatalf("delete: exit %d\n%s", code, errOut)
	}
	out, errOut, _ = iter8Run(t, dir, "list", "-n", ns)
	if out != "" || !strings.Contains(errOut, "No experiments found") {
		t.Errorf("list after delete: %q %q", out, errOut)
	}
}

// TestFailingExperimentInTheCluster: a ready task that times out fails the
// experiment; assert says why and exits 1.
func TestFailingExperimentInTheCluster(t *testing.T) {
	ns, err := env.CreateNamespace(t.Context(), "e2e-fail")
	if err != nil {
		t.Fatal(err)
	}
	startKubelet(t, env, ns)
	dir := t.TempDir()
	spec := `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: missing}
spec:
  tasks:
  - task: ready
    with:
      timeout: 1s
      objects: [{apiVersion: apps/v1, kind: Deployment, name: not-there}]
`
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := iter8Run(t, dir, "launch", "-f", "experiment.yaml", "-n", ns, "--image", "iter8:e2e"); code != 0 {
		t.Fatalf("launch: exit %d\n%s", code, errOut)
	}
	_, errOut, code := iter8Run(t, dir, "assert", "missing", "-n", ns, "-c", "nofailure", "--timeout", "60s")
	want := "nofailure: not satisfied: task 1 (ready) failed: not ready after 1s: Deployment " + ns + "/not-there: not found\n"
	if code != 1 || errOut != want {
		t.Errorf("assert: exit %d\n%q\nwant\n%q", code, errOut, want)
	}
}

func hasCondition(job *batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
