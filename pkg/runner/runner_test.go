package runner_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/runner"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

var (
	env    *testenv.Env
	update = flag.Bool("update", false, "rewrite golden files")
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

const spec = `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata:
  name: checkout
  labels: {team: payments}
spec:
  versions: [{name: v1}]
  tasks:
  - task: ready
    with:
      timeout: 10s
      objects:
      - {apiVersion: v1, kind: Service, name: checkout}
      - {apiVersion: apps/v1, kind: Deployment, name: checkout-v2}
      - {apiVersion: apps/v1, kind: Deployment, name: checkout-v1}
  - task: http
    with: {url: %q, numRequests: 10, connections: 1}
`

func parse(t *testing.T, url string) (*experiment.Experiment, []byte) {
	t.Helper()
	b := []byte(fmt.Sprintf(spec, url))
	exp, err := experiment.Parse("experiment.yaml", ".", b, tasks.Registry())
	if err != nil {
		t.Fatal(err)
	}
	return exp, b
}

func yamlOf(t *testing.T, objs []runtime.Object) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestObjectsGolden(t *testing.T) {
	exp, b := parse(t, "http://checkout.shop.svc/")
	objs, err := runner.Objects(exp, b, runner.Options{Namespace: "shop", Image: "iter8:test"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "objects.yaml", yamlOf(t, objs))
	cron, err := runner.Objects(exp, b, runner.Options{Namespace: "shop", Image: "iter8:test", Schedule: "*/10 * * * *"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "cronjob.yaml", yamlOf(t, cron[4:]))
}

func TestObjectsRefuseOtherNamespaces(t *testing.T) {
	doc := `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: x}
spec:
  tasks:
  - task: ready
    with: {objects: [{apiVersion: v1, kind: Service, name: s, namespace: other}]}
`
	exp, err := experiment.Parse("e.yaml", ".", []byte(doc), tasks.Registry())
	if err != nil {
		t.Fatal(err)
	}
	_, err = runner.Objects(exp, []byte(doc), runner.Options{Namespace: "shop"})
	want := `spec.tasks[0].with.objects[0].namespace: "other" is not the experiment's namespace "shop": an in-cluster experiment reads objects in its own namespace only`
	if err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}
}

// live lists the experiment's objects in the cluster, as "Kind/name" with
// their owner.
func live(t *testing.T, c kubernetes.Interface, ns string) []string {
	t.Helper()
	ctx := t.Context()
	sel := metav1.ListOptions{LabelSelector: runner.LabelExperiment + "=checkout"}
	var out []string
	add := func(kind string, m metav1.Object) {
		owner := ""
		for _, r := range m.GetOwnerReferences() {
			owner = " owned by " + r.Kind + "/" + r.Name
		}
		out = append(out, kind+"/"+m.GetName()+owner)
	}
	secrets, _ := c.CoreV1().Secrets(ns).List(ctx, sel)
	for i := range secrets.Items {
		add("Secret", &secrets.Items[i])
	}
	sas, _ := c.CoreV1().ServiceAccounts(ns).List(ctx, sel)
	for i := range sas.Items {
		add("ServiceAccount", &sas.Items[i])
	}
	roles, _ := c.RbacV1().Roles(ns).List(ctx, sel)
	for i := range roles.Items {
		add("Role", &roles.Items[i])
	}
	rbs, _ := c.RbacV1().RoleBindings(ns).List(ctx, sel)
	for i := range rbs.Items {
		add("RoleBinding", &rbs.Items[i])
	}
	jobs, _ := c.BatchV1().Jobs(ns).List(ctx, sel)
	for i := range jobs.Items {
		add("Job", &jobs.Items[i])
	}
	crons, _ := c.BatchV1().CronJobs(ns).List(ctx, sel)
	for i := range crons.Items {
		add("CronJob", &crons.Items[i])
	}
	return out
}

func TestLaunchRelaunchDelete(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "runner-launch")
	if err != nil {
		t.Fatal(err)
	}
	exp, b := parse(t, "http://checkout/")
	objs, err := runner.Objects(exp, b, runner.Options{Namespace: ns, Image: "iter8:test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Launch(ctx, env.Client, objs); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Secret/iter8-checkout",
		"ServiceAccount/iter8-checkout owned by Secret/iter8-checkout",
		"Role/iter8-checkout owned by Secret/iter8-checkout",
		"RoleBinding/iter8-checkout owned by Secret/iter8-checkout",
		"Job/iter8-checkout owned by Secret/iter8-checkout",
	}
	if diff := cmp.Diff(want, live(t, env.Client, ns)); diff != "" {
		t.Errorf("objects after launch (-want +got):\n%s", diff)
	}
	// What was stored is what was built (the API server adds defaults to
	// the Job, so compare the Secret's content and the Role's rules).
	stored, err := runner.Get(ctx, env.Client, ns, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.Spec, b) || stored.Result != nil {
		t.Errorf("stored spec differs or a result exists before any run")
	}
	firstJob, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "iter8-checkout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *firstJob.Spec.BackoffLimit != 0 || firstJob.Spec.Template.Annotations["sidecar.istio.io/inject"] != "false" {
		t.Errorf("job spec: %+v", firstJob.Spec)
	}

	// Relaunch: a result was written meanwhile; the new launch starts afresh.
	sec, _ := env.Client.CoreV1().Secrets(ns).Get(ctx, "iter8-checkout", metav1.GetOptions{})
	sec.Data[runner.ResultKey] = []byte("experiment: checkout\niterations: 1\n")
	if _, err := env.Client.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs, _ = runner.Objects(exp, b, runner.Options{Namespace: ns, Image: "iter8:test"})
	if err := runner.Launch(ctx, env.Client, objs); err != nil {
		t.Fatal(err)
	}
	secondJob, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "iter8-checkout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secondJob.UID == firstJob.UID {
		t.Error("relaunch kept the old Job")
	}
	if stored, _ := runner.Get(ctx, env.Client, ns, "checkout"); stored.Result != nil {
		t.Error("relaunch kept the old result")
	}
	if diff := cmp.Diff(want, live(t, env.Client, ns)); diff != "" {
		t.Errorf("objects after relaunch (-want +got):\n%s", diff)
	}

	if err := runner.Delete(ctx, env.Client, ns, "checkout"); err != nil {
		t.Fatal(err)
	}
	if got := live(t, env.Client, ns); len(got) != 0 {
		t.Errorf("objects left after delete: %v", got)
	}
	if err := runner.Delete(ctx, env.Client, ns, "checkout"); !errors.Is(err, runner.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := runner.Get(ctx, env.Client, ns, "checkout"); !errors.Is(err, runner.ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
}

// asServiceAccount returns kubectl-style flags that act as the experiment's
// ServiceAccount, with a token minted by the TokenRequest API.
func asServiceAccount(t *testing.T, ns string) (genericclioptions.RESTClientGetter, kubernetes.Interface) {
	t.Helper()
	token, err := env.Token(t.Context(), ns, "iter8-checkout")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig, "iter8-checkout", token); err != nil {
		t.Fatal(err)
	}
	f := genericclioptions.NewConfigFlags(false)
	f.KubeConfig = &kubeconfig
	return f, kubernetes.NewForConfigOrDie(env.ConfigFor(token))
}

// TestJobRunsWithItsRole runs the Job's mode in-process as the Job's
// ServiceAccount: the real RBAC authorizer judges every call, so this shows
// the generated Role suffices, and that it does not allow more.
func TestJobRunsWithItsRole(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "runner-job")
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(app.Close)
	for _, name := range []string{"checkout-v1", "checkout-v2"} {
		readyDeployment(t, ns, name)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "checkout"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := env.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	exp, b := parse(t, app.URL)
	objs, _ := runner.Objects(exp, b, runner.Options{Namespace: ns, Image: "iter8:test"})
	if err := runner.Launch(ctx, env.Client, objs); err != nil {
		t.Fatal(err)
	}

	cluster, client := asServiceAccount(t, ns)
	var progress bytes.Buffer
	res, err := runner.RunJob(ctx, cluster, ns, "checkout", tasks.Registry(), &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if res.Failed {
		t.Fatalf("experiment failed: %s\n%s", res.Error, progress.String())
	}
	stored, err := runner.Get(ctx, env.Client, ns, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := stored.Result.Value("v1", "http/request-count"); n != 10 || stored.Result.EndTime == nil {
		t.Errorf("stored result: request-count %g, end %v", n, stored.Result.EndTime)
	}

	// The Role is least privilege: no other Secret, no listing, no Jobs.
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "other"}}
	if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	denied := map[string]error{}
	_, denied["get another Secret"] = client.CoreV1().Secrets(ns).Get(ctx, "other", metav1.GetOptions{})
	_, denied["list Secrets"] = client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	_, denied["list Jobs"] = client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	_, denied["get a Deployment not named"] = client.AppsV1().Deployments("default").Get(ctx, "checkout-v1", metav1.GetOptions{})
	denied["delete its Secret"] = client.CoreV1().Secrets(ns).Delete(ctx, "iter8-checkout", metav1.DeleteOptions{})
	for what, err := range denied {
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want forbidden", what, err)
		}
	}

	// A second run (as a CronJob's) counts on from the stored result.
	res, err = runner.RunJob(ctx, cluster, ns, "checkout", tasks.Registry(), &progress)
	if err != nil || res.Iterations != 2 || res.History.Len() != 1 {
		t.Errorf("second run: %v, iterations %d, history %d", err, res.Iterations, res.History.Len())
	}
}

func TestJobCommandWithoutExperiment(t *testing.T) {
	f := genericclioptions.NewConfigFlags(false)
	f.KubeConfig = &env.Kubeconfig
	_, err := runner.RunJob(context.Background(), f, "default", "nope", tasks.Registry(), &bytes.Buffer{})
	if !errors.Is(err, runner.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func readyDeployment(t *testing.T, ns, name string) {
	t.Helper()
	y := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec: {containers: [{name: app, image: app}]}
`, name, name, name)
	d := &appsv1.Deployment{}
	if err := yaml.UnmarshalStrict([]byte(y), d); err != nil {
		t.Fatal(err)
	}
	created, err := env.Client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.ObservedGeneration = created.Generation
	created.Status.Replicas, created.Status.UpdatedReplicas, created.Status.ReadyReplicas, created.Status.AvailableReplicas = 1, 1, 1, 1
	created.Status.Conditions = []appsv1.DeploymentCondition{
		{Type: "Available", Status: corev1.ConditionTrue},
		{Type: "Progressing", Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
	}
	if _, err := env.Client.AppsV1().Deployments(ns).UpdateStatus(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestThousandRunsFitTheirSecret runs a scheduled experiment (two
// versions, real HTTP load, SLOs) 1,000 times: 999 runs locally, each
// from the result before it, then the 1,000th as the Job does, which
// stores the result in its Secret through the real API server (which
// refuses Secrets over 1 MiB). Every run's figures and the merged
// histograms survive.
func TestThousandRunsFitTheirSecret(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "runner-history")
	if err != nil {
		t.Fatal(err)
	}
	var urls []any
	for range 2 {
		app := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		t.Cleanup(app.Close)
		urls = append(urls, app.URL)
	}
	const requests = 4
	b := []byte(fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: checkout}
spec:
  versions: [{name: v1}, {name: v2}]
  tasks:
  - task: http
    with:
      numRequests: %d
      connections: 1
      versions: {v1: {url: %q}, v2: {url: %q}}
  - task: assess
    with:
      SLOs:
        upper: [{metric: http/error-rate, limit: 0}, {metric: http/latency-p99, limit: 1000}]
`, append([]any{requests}, urls...)...))
	exp, err := experiment.Parse("experiment.yaml", ".", b, tasks.Registry())
	if err != nil {
		t.Fatal(err)
	}
	var prev *experiment.Result
	for range 999 {
		if prev, err = experiment.Execute(ctx, exp, experiment.Options{Previous: prev}); err != nil {
			t.Fatal(err)
		}
		if prev.Failed {
			t.Fatalf("run %d failed: %s", prev.Iterations, prev.Error)
		}
	}
	objs, err := runner.Objects(exp, b, runner.Options{Namespace: ns, Image: "iter8:test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Launch(ctx, env.Client, objs); err != nil {
		t.Fatal(err)
	}
	secret, err := env.Client.CoreV1().Secrets(ns).Get(ctx, runner.ObjectName("checkout"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Data[runner.ResultKey], err = yaml.Marshal(prev); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().Secrets(ns).Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cluster, _ := asServiceAccount(t, ns)
	var progress bytes.Buffer
	if _, err := runner.RunJob(ctx, cluster, ns, "checkout", tasks.Registry(), &progress); err != nil {
		t.Fatalf("the 1,000th run: %v\n%s", err, progress.String())
	}
	secret, err = env.Client.CoreV1().Secrets(ns).Get(ctx, runner.ObjectName("checkout"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := runner.Get(ctx, env.Client, ns, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	res := stored.Result
	runs := res.History.Runs()
	// What the runs would have taken as the list of summaries results
	// held before.
	before, err := yaml.Marshal(map[string]any{"history": runs})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after 1,000 runs: result %d bytes (%d of them history); as the list of run summaries, the history alone would take %d",
		len(secret.Data[runner.ResultKey]), len(mustYAML(t, res.History)), len(before))
	if n := len(secret.Data[runner.ResultKey]); n > 1<<20/2 {
		t.Errorf("the result takes %d bytes, more than half a Secret's 1 MiB", n)
	}
	if res.Iterations != 1000 || res.EndTime == nil || res.Failed || len(runs) != 999 {
		t.Fatalf("stored: %d iterations, ended %v, failed %v, %d runs kept; want the 1,000th ended, after 999 kept", res.Iterations, res.EndTime, res.Failed, len(runs))
	}
	for i, run := range runs {
		if run.Iteration != i+1 || !run.Completed || run.Failed || run.EndTime == nil || !run.EndTime.After(run.StartTime) {
			t.Fatalf("run %d: %+v", i+1, run)
		}
		for _, v := range []string{"v1", "v2"} {
			if run.Metrics[v]["http/request-count"] != requests || run.Metrics[v]["http/latency-max"] <= 0 || !run.SLOsSatisfied[v] {
				t.Fatalf("run %d of %s: metrics %v, SLOs satisfied %v", i+1, v, run.Metrics[v], run.SLOsSatisfied)
			}
		}
	}
	for _, v := range []string{"v1", "v2"} {
		if h := res.MergedHistogram(v, "http/latency"); h == nil || h.Count != 1000*requests {
			t.Errorf("%s's latency merged over the runs: %+v, want %d values", v, h, 1000*requests)
		}
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
