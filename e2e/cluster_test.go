package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/version"
)

// iter8RunOn runs the built kubectl-iter8_run against e as the admin, in
// dir.
func iter8RunOn(t *testing.T, e *testenv.Env, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), filepath.Join(binDir, "kubectl-iter8_run"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.Kubeconfig)
	return run(t, cmd)
}

// runningDeployment creates a Deployment on cluster's node whose one pod
// runs testenv.PauseImage, and waits until the Deployment controller says
// it is Available.
func runningDeployment(t *testing.T, ns, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: testenv.PauseImage, ImagePullPolicy: corev1.PullNever}},
			}},
		},
	}
	if _, err := cluster.env.Client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Deployment "+name+" is Available", func() (bool, string) {
		d, err := cluster.env.Client.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", d.Status)
	})
}

// nodeServer serves h on the node's IP, inside the tests' network
// namespace, where the node's pods reach it.
func nodeServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", testenv.NodeIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestExperimentInTheCluster launches an experiment with the built binary
// on cluster's real node: the Job controller creates its pod, the kubelet
// runs it from the run image as the Job's ServiceAccount, its http task
// loads a real HTTP service that only the node's pod network reaches, and
// the results flow back through the Secret to report, assert, list, and
// log (the container's log, from the kubelet).
func TestExperimentInTheCluster(t *testing.T) {
	ctx := t.Context()
	e := cluster.env
	ns, err := e.CreateNamespace(ctx, "e2e-run")
	if err != nil {
		t.Fatal(err)
	}
	// The app counts the requests that carry the payload file's bytes; the
	// webhook records the notification and its token.
	payload := `{"cart": ["book", "pen"]}`
	var requests, withPayload atomic.Int64
	var notified atomic.Value
	app := nodeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/webhook" {
			notified.Store(r.Header.Get("Authorization") + " " + string(body))
			return
		}
		requests.Add(1)
		if string(body) == payload && r.Header.Get("Content-Type") == "application/json" {
			withPayload.Add(1)
		}
	}))
	runningDeployment(t, ns, "checkout-v1")
	// The webhook's URL and token are in a Secret, as Slack's are.
	if _, err := e.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook"},
		StringData: map[string]string{"url": app.URL + "/webhook", "token": "s3cret\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

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
    with: {url: %q, numRequests: 20, connections: 2, payloadFile: payloads/cart.json, contentType: application/json}
  - task: assess
    with:
      SLOs:
        upper: [{metric: http/error-rate, limit: 0}]
  - task: notify
    with: {urlEnv: WEBHOOK_URL, tokenEnv: WEBHOOK_TOKEN, format: custom, payloadTemplate: '{"slos": {{ .SLOsSatisfied }}}'}
`, app.URL)
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "payloads"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "payloads", "cart.json"), []byte(payload), 0o600); err != nil {
		t.Fatal(err)
	}

	_, errOut, code := iter8RunOn(t, e, dir, "launch", "-f", "experiment.yaml", "-n", ns,
		"--secret-env", "WEBHOOK_URL=webhook/url", "--secret-env", "WEBHOOK_TOKEN=webhook/token")
	if code != 0 || !strings.Contains(errOut, "experiment checkout launched in namespace "+ns) {
		t.Fatalf("launch: exit %d\n%s", code, errOut)
	}
	_, errOut, code = iter8RunOn(t, e, dir, "assert", "checkout", "-n", ns, "-c", "completed,nofailure,slos", "--timeout", "120s")
	if code != 0 {
		t.Fatalf("assert: exit %d\n%s", code, errOut)
	}
	if n, p := requests.Load(), withPayload.Load(); n != 20 || p != 20 {
		t.Errorf("the service got %d requests from the pod, %d with the payload file, want 20", n, p)
	}
	if got, want := notified.Load(), `Bearer s3cret {"slos": true}`; got != want {
		t.Errorf("the webhook got %q, want %q", got, want)
	}

	out, errOut, code := iter8RunOn(t, e, dir, "report", "checkout", "-n", ns)
	for _, want := range []string{`Status:\s+completed, no task failed`, `SLOs:\s+satisfied by every version`, `http/request-count\s+20\n`} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %q (exit %d):\n%s%s", want, code, out, errOut)
		}
	}
	// The same result as a page, read from the cluster, opened offline.
	out, errOut, code = iter8RunOn(t, e, dir, "report", "checkout", "-n", ns, "-o", "html")
	page := filepath.Join(t.TempDir(), "checkout.html")
	if err := os.WriteFile(page, []byte(out), 0o600); err != nil || code != 0 {
		t.Fatalf("report -o html: exit %d, %v\n%s", code, err, errOut)
	}
	p := testenv.OpenPage(t, "file://"+page)
	p.WaitForPlots(t, 30*time.Second)
	if probs := p.Problems(); len(probs) > 0 {
		t.Errorf("the report page logged or requested:\n%s", strings.Join(probs, "\n"))
	}
	if n := testenv.Eval[float64](t, p, `[...document.querySelectorAll(".plot")].find(d => d.layout.title.text === "http/latency: distribution").data[0].y.reduce((a, b) => a + b, 0)`); n != 20 {
		t.Errorf("the page's latency distribution counts %g requests, want 20", n)
	}
	if fails := testenv.Eval[int](t, p, `document.querySelectorAll("#slos td.fail").length`); fails != 0 {
		t.Errorf("the page's SLO matrix has %d failures; the result has none", fails)
	}

	out, _, _ = iter8RunOn(t, e, dir, "list", "-n", ns)
	if !regexp.MustCompile(`checkout\s+completed, no task failed\s+satisfied\s+1\s`).MatchString(out) {
		t.Errorf("list:\n%s", out)
	}
	out, errOut, code = iter8RunOn(t, e, dir, "log", "checkout", "-n", ns)
	if code != 0 || !strings.Contains(out, "task 2/4 http: Succeeded") {
		t.Errorf("log: exit %d\n%s%s", code, out, errOut)
	}

	// The Job controller saw the pod succeed, and the pod ran the image
	// as its numeric user.
	waitFor(t, "the Job is Complete", func() (bool, string) {
		job, err := e.Client.BatchV1().Jobs(ns).Get(ctx, "iter8-checkout", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return hasCondition(job, batchv1.JobComplete), fmt.Sprintf("%+v", job.Status)
	})
	pods, err := e.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=iter8-checkout"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("the Job's pods: %v %v", pods, err)
	}
	pod := pods.Items[0]
	st := pod.Status.ContainerStatuses
	if len(st) != 1 || st[0].State.Terminated == nil || st[0].State.Terminated.ExitCode != 0 || st[0].Image != version.ImageName("run")+":"+e2eVersion || st[0].ImageID == "" {
		t.Errorf("the Job's container: %+v", st)
	} else {
		t.Logf("the Job's pod: created %s, container started %s later, ran %s",
			pod.CreationTimestamp.Format(time.RFC3339), st[0].State.Terminated.StartedAt.Sub(pod.CreationTimestamp.Time), st[0].State.Terminated.FinishedAt.Sub(st[0].State.Terminated.StartedAt.Time))
	}

	// The Job's ServiceAccount may not read a Secret it does not own.
	if _, err := e.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "payments-db"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := e.Token(ctx, ns, "iter8-checkout")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "job-kubeconfig")
	if err := e.WriteKubeconfig(kubeconfig, "job", token); err != nil {
		t.Fatal(err)
	}
	get := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "get", "secret", "payments-db", "-n", ns)
	if out, err := get.CombinedOutput(); err == nil || !strings.Contains(string(out), "Forbidden") {
		t.Errorf("the Job's token read another Secret: %v\n%s", err, out)
	}

	_, errOut, code = iter8RunOn(t, e, dir, "delete", "checkout", "-n", ns)
	if code != 0 {
		t.Fatalf("delete: exit %d\n%s", code, errOut)
	}
	out, errOut, _ = iter8RunOn(t, e, dir, "list", "-n", ns)
	if out != "" || !strings.Contains(errOut, "No experiments found") {
		t.Errorf("list after delete: %q %q", out, errOut)
	}
}

// TestFailingExperimentInTheCluster: a ready task that times out fails the
// experiment; assert says why and exits 1.
func TestFailingExperimentInTheCluster(t *testing.T) {
	e := cluster.env
	ns, err := e.CreateNamespace(t.Context(), "e2e-fail")
	if err != nil {
		t.Fatal(err)
	}
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
	if _, errOut, code := iter8RunOn(t, e, dir, "launch", "-f", "experiment.yaml", "-n", ns); code != 0 {
		t.Fatalf("launch: exit %d\n%s", code, errOut)
	}
	_, errOut, code := iter8RunOn(t, e, dir, "assert", "missing", "-n", ns, "-c", "nofailure", "--timeout", "120s")
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
