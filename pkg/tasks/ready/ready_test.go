package ready_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks/ready"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

var registry = experiment.Registry{ready.Name: ready.New}

func deployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			},
		},
	}
	d, err := env.Client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// makeAvailable sets the status a Deployment controller would.
func makeAvailable(ctx context.Context, d *appsv1.Deployment) error {
	d.Status = testenv.DeploymentStatus(d, true)
	_, err := env.Client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	return err
}

func cluster() genericclioptions.RESTClientGetter {
	f := genericclioptions.NewConfigFlags(false)
	f.KubeConfig = &env.Kubeconfig
	return f
}

func execute(t *testing.T, ctx context.Context, ns, with string) *experiment.Result {
	t.Helper()
	doc := fmt.Sprintf("apiVersion: iter8.tools/v1alpha1\nkind: Experiment\nmetadata: {name: r}\nspec:\n  tasks:\n  - task: ready\n    with: %s\n", with)
	exp, err := experiment.Parse("e.yaml", ".", []byte(doc), registry)
	if err != nil {
		t.Fatal(err)
	}
	res, err := experiment.Execute(ctx, exp, experiment.Options{Cluster: cluster(), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestWaitsUntilReady(t *testing.T) {
	ns, err := env.CreateNamespace(t.Context(), "ready-wait")
	if err != nil {
		t.Fatal(err)
	}
	d := deployment(t, ns, "app")
	errs := make(chan error, 1)
	go func() {
		// The task polls every 500 ms; the status changes while it waits.
		time.Sleep(time.Second)
		errs <- makeAvailable(context.Background(), d)
	}()
	res := execute(t, t.Context(), ns, "{timeout: 10s, objects: [{apiVersion: apps/v1, kind: Deployment, name: app}]}")
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if res.Tasks[0].State != experiment.TaskSucceeded {
		t.Errorf("task %+v", res.Tasks[0])
	}
}

func TestTimeoutNamesObjectAndCondition(t *testing.T) {
	ns, err := env.CreateNamespace(t.Context(), "ready-timeout")
	if err != nil {
		t.Fatal(err)
	}
	deployment(t, ns, "app")
	res := execute(t, t.Context(), ns, `{timeout: 1s, objects: [
      {apiVersion: apps/v1, kind: Deployment, name: app, conditions: [Available]},
      {apiVersion: v1, kind: Service, name: missing}]}`)
	want := "not ready after 1s: Deployment " + ns + "/app: condition Available is not set; Service " + ns + "/missing: not found"
	if st := res.Tasks[0]; st.State != experiment.TaskFailed || st.Error != want {
		t.Errorf("task %s %q\nwant Failed %q", st.State, st.Error, want)
	}
}

func TestForbiddenIsReportedAtOnce(t *testing.T) {
	ns, err := env.CreateNamespace(t.Context(), "ready-forbidden")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := env.Token(t.Context(), ns, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := t.TempDir() + "/kubeconfig"
	if err := env.WriteKubeconfig(kubeconfig, "nobody", token); err != nil {
		t.Fatal(err)
	}
	f := genericclioptions.NewConfigFlags(false)
	f.KubeConfig = &kubeconfig
	doc := "apiVersion: iter8.tools/v1alpha1\nkind: Experiment\nmetadata: {name: r}\nspec:\n  tasks:\n  - task: ready\n    with: {timeout: 1m, objects: [{apiVersion: apps/v1, kind: Deployment, name: app}]}\n"
	exp, err := experiment.Parse("e.yaml", ".", []byte(doc), registry)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := experiment.Execute(t.Context(), exp, experiment.Options{Cluster: f, Namespace: ns})
	if st := res.Tasks[0]; st.State != experiment.TaskFailed || !strings.Contains(st.Error, "forbidden") {
		t.Errorf("task %s %q, want Failed and forbidden", st.State, st.Error)
	}
}

func TestNoCluster(t *testing.T) {
	doc := "apiVersion: iter8.tools/v1alpha1\nkind: Experiment\nmetadata: {name: r}\nspec:\n  tasks:\n  - task: ready\n    with: {objects: [{apiVersion: apps/v1, kind: Deployment, name: app}]}\n"
	exp, err := experiment.Parse("e.yaml", ".", []byte(doc), registry)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := experiment.Execute(t.Context(), exp, experiment.Options{})
	if st := res.Tasks[0]; st.Error != "the ready task needs a Kubernetes cluster: none is configured" {
		t.Errorf("task %q", st.Error)
	}
}

func TestValidate(t *testing.T) {
	doc := "apiVersion: iter8.tools/v1alpha1\nkind: Experiment\nmetadata: {name: r}\nspec:\n  tasks:\n  - task: ready\n    with: {objects: [{apiVersion: 'a/b/c', name: Bad_Name}]}\n"
	_, err := experiment.Parse("e.yaml", ".", []byte(doc), registry)
	for _, want := range []string{
		`e.yaml:7: spec.tasks[0].with.objects[0].apiVersion: Invalid value: "a/b/c": must be group/version such as apps/v1, or v1`,
		`e.yaml:7: spec.tasks[0].with.objects[0].kind: Required value: e.g. Deployment`,
		`e.yaml:7: spec.tasks[0].with.objects[0].name: Invalid value: "Bad_Name"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant it to contain %q", err, want)
		}
	}
	if r := (ready.Object{APIVersion: "serving.kserve.io/v1beta1", Kind: "InferenceService"}).GroupVersionResource(); r.Resource != "inferenceservices" || r.Group != "serving.kserve.io" {
		t.Errorf("GroupVersionResource = %v", r)
	}
}
