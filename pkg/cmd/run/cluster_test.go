package run_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/cmd/run"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/gitops"
	"github.com/iter8-tools/iter8/pkg/runner"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

const clusterSpec = `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: gitops}
spec:
  tasks:
  - task: ready
    with: {objects: [{apiVersion: apps/v1, kind: Deployment, name: app}]}
  - task: http
    with: {url: "http://app/", numRequests: 10}
`

func writeSpec(t *testing.T, dir, doc string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDryRunCreatesNothing(t *testing.T) {
	ns, err := env.CreateNamespace(t.Context(), "cli-dry-run")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeSpec(t, dir, clusterSpec)
	out, errOut, code := iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "launch", "-f", "experiment.yaml", "--dry-run=client", "--image", "iter8:test")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	// As deploy and install print theirs: nothing the API server owns.
	for _, field := range []string{"status:", "creationTimestamp:"} {
		if strings.Contains(out, field) {
			t.Errorf("the printed objects hold %s:\n%s", field, out)
		}
	}
	var kinds []string
	for _, doc := range strings.Split(out, "---\n") {
		var m struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, fmt.Sprintf("%s %s/%s", m.Kind, m.Metadata.Namespace, m.Metadata.Name))
	}
	want := []string{"Secret", "ServiceAccount", "Role", "RoleBinding", "Job"}
	for i := range want {
		want[i] += " " + ns + "/iter8-gitops"
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("printed objects (-want +got):\n%s", diff)
	}
	out, errOut, code = iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "launch", "-f", "experiment.yaml", "--dry-run", "-o", "name", "--schedule", "@daily", "--image", "iter8:test")
	if want := "secret/iter8-gitops\nserviceaccount/iter8-gitops\nrole.rbac.authorization.k8s.io/iter8-gitops\nrolebinding.rbac.authorization.k8s.io/iter8-gitops\ncronjob.batch/iter8-gitops\n"; code != 0 || out != want {
		t.Errorf("-o name: exit %d, stdout %q, want %q\n%s", code, out, want, errOut)
	}
	secrets, err := env.Client.CoreV1().Secrets(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(secrets.Items) != 0 {
		t.Errorf("dry run created %d Secrets (%v)", len(secrets.Items), err)
	}
	jobs, err := env.Client.BatchV1().Jobs(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 0 {
		t.Errorf("dry run created %d Jobs (%v)", len(jobs.Items), err)
	}
}

// TestGenerateBuildsAndApplies writes the GitOps directory, builds it with
// the kustomize API, and applies the result to the real API server.
func TestGenerateBuildsAndApplies(t *testing.T) {
	ns, err := env.CreateNamespace(t.Context(), "cli-generate")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeSpec(t, dir, clusterSpec)
	out := filepath.Join(dir, "deploy")
	if _, errOut, code := iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "generate", "-f", "experiment.yaml", "--out", out, "--image", "iter8:test"); code != 0 {
		t.Fatalf("generate: exit %d\n%s", code, errOut)
	}
	entries, _ := os.ReadDir(out)
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	want := []string{"job-iter8-gitops.yaml", "kustomization.yaml", "role-iter8-gitops.yaml", "rolebinding-iter8-gitops.yaml", "secret-iter8-gitops.yaml", "serviceaccount-iter8-gitops.yaml"}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	first, _ := os.ReadFile(filepath.Join(out, "job-iter8-gitops.yaml"))
	// A second run writes the same bytes.
	if _, errOut, code := iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "generate", "-f", "experiment.yaml", "--out", out, "--image", "iter8:test"); code != 0 {
		t.Fatalf("generate again: exit %d\n%s", code, errOut)
	}
	if again, _ := os.ReadFile(filepath.Join(out, "job-iter8-gitops.yaml")); string(again) != string(first) {
		t.Error("a second generate changed the output")
	}

	objs, err := gitops.Build(out)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)
	resources := map[string]string{"Secret": "secrets", "ServiceAccount": "serviceaccounts", "Role": "roles", "RoleBinding": "rolebindings", "Job": "jobs"}
	for _, o := range objs {
		gv, _ := schema.ParseGroupVersion(o.GetAPIVersion())
		gvr := gv.WithResource(resources[o.GetKind()])
		b, _ := o.MarshalJSON()
		if _, err := dyn.Resource(gvr).Namespace(o.GetNamespace()).Patch(t.Context(), o.GetName(), types.ApplyPatchType, b,
			metav1.PatchOptions{FieldManager: "flux"}); err != nil {
			t.Errorf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	// What Flux applied is an experiment iter8 can read.
	out2, errOut, code := iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "list", "-o", "json")
	if code != 0 || !strings.Contains(out2, `"name": "gitops"`) || !strings.Contains(out2, `"status": "pending"`) {
		t.Errorf("list after applying: exit %d\n%s%s", code, out2, errOut)
	}
	_, errOut, code = iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "report", "gitops")
	if code != 1 || !strings.Contains(errOut, "no result yet for experiment gitops in namespace "+ns+": its Job has not started") {
		t.Errorf("report before the Job ran: exit %d %q", code, errOut)
	}
}

func TestClusterBadInput(t *testing.T) {
	dir := t.TempDir()
	doc := strings.Replace(clusterSpec, "metadata: {name: gitops}", "metadata: {name: gitops, namespace: prod}", 1)
	writeSpec(t, dir, doc)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-n", "staging", "launch", "-f", "experiment.yaml", "--dry-run"}, `Error: the experiment's metadata.namespace "prod" does not match the namespace "staging" of flag -n/--namespace` + "\n"},
		{[]string{"-n", "prod", "report", "nope"}, "Error: experiment not found: nope in namespace prod\n"},
		{[]string{"-n", "prod", "delete", "nope"}, "Error: experiment not found: nope in namespace prod\n"},
		{[]string{"-n", "prod", "log", "nope"}, "Error: experiment not found: nope in namespace prod\n"},
		{[]string{"generate", "-f", "experiment.yaml"}, "Error: flag --out is required: the folder to write\n"},
	}
	for _, tc := range tests {
		out, errOut, code := iter8(t, dir, append([]string{"--kubeconfig", env.Kubeconfig}, tc.args...)...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q\nwant %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestAssertWatchesAnExperiment: assert --timeout on an in-cluster
// experiment wakes when its result changes (a watch), not on a poll: the
// poll interval here is an hour, and the result ends 300 ms in.
func TestAssertWatchesAnExperiment(t *testing.T) {
	ns, err := env.CreateNamespace(t.Context(), "cli-assert-watch")
	if err != nil {
		t.Fatal(err)
	}
	result := func(r *experiment.Result) []byte {
		b, err := yaml.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	running := &experiment.Result{Experiment: "gitops", Versions: []experiment.VersionResult{{Name: "v1"}}}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: runner.ObjectName("gitops"), Labels: map[string]string{runner.LabelManagedBy: runner.ManagedBy, runner.LabelExperiment: "gitops"}},
		Type:       runner.SecretType,
		Data:       map[string][]byte{runner.SpecKey: []byte(clusterSpec), runner.ResultKey: result(running)},
	}
	if secret, err = env.Client.CoreV1().Secrets(ns).Create(t.Context(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		end := time.Now()
		done := *running
		done.EndTime, done.Completed, done.Iterations = &end, true, 1
		secret.Data[runner.ResultKey] = result(&done)
		_, _ = env.Client.CoreV1().Secrets(ns).Update(context.Background(), secret, metav1.UpdateOptions{})
	}()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &env.Kubeconfig, &ns
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	o := &run.AssertOptions{IOStreams: streams, Flags: flags, Name: "gitops", Conditions: []string{"completed"}, Timeout: time.Minute, Interval: time.Hour}
	start := time.Now()
	if err := o.Run(t.Context()); err != nil {
		t.Fatalf("assert: %v (%s)", err, errOut)
	}
	t.Logf("assert returned %s after it started, the result ending at 300 ms", time.Since(start).Round(time.Millisecond))
}

// TestLogFollowWaitsForThePod: log -f waits (a watch) for the experiment's
// pod to leave Pending, up to --pod-running-timeout. This API server has no
// kubelet: the pod that starts is one the test marks Running, whose log is
// empty.
func TestLogFollowWaitsForThePod(t *testing.T) {
	ns, err := env.CreateNamespace(t.Context(), "cli-log-follow")
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: runner.ObjectName("gitops"), Labels: map[string]string{runner.LabelManagedBy: runner.ManagedBy, runner.LabelExperiment: "gitops"}},
		Type:       runner.SecretType,
		Data:       map[string][]byte{runner.SpecKey: []byte(clusterSpec)},
	}
	if _, err := env.Client.CoreV1().Secrets(ns).Create(t.Context(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, errOut, code := iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "log", "gitops", "-f", "--pod-running-timeout", "300ms")
	if want := "waiting for the pod of experiment gitops to start\nError: no pod of experiment gitops started within 300ms (--pod-running-timeout)\n"; code != 1 || errOut != want {
		t.Errorf("no pod: exit %d, stderr %q, want %q", code, errOut, want)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "iter8-gitops-abcde", Labels: map[string]string{runner.LabelExperiment: "gitops"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "iter8", Image: "iter8:test"}}},
		}
		pod, err := env.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
		if err != nil {
			return
		}
		pod.Status.Phase = corev1.PodRunning
		_, _ = env.Client.CoreV1().Pods(ns).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{})
	}()
	_, errOut, code = iter8(t, dir, "--kubeconfig", env.Kubeconfig, "-n", ns, "log", "gitops", "-f", "--pod-running-timeout", "1m")
	if code != 0 || errOut != "waiting for the pod of experiment gitops to start\n" {
		t.Errorf("a pod that starts: exit %d, stderr %q", code, errOut)
	}
}
