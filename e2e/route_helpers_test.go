package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// kubectlAdmin runs kubectl against env as the admin with the built
// plugins first on PATH, with stdin.
func kubectlAdmin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return kubectlOn(t, env, stdin, args...)
}

// kubectlOn runs kubectl against e as the admin with the built plugins
// first on PATH, with stdin.
func kubectlOn(t *testing.T, e *testenv.Env, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), kubectl, args...)
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+e.Kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	return run(t, cmd)
}

// mustKubectl runs kubectl against env as the admin and fails the test on
// a non-zero exit.
func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return mustKubectlOn(t, env, stdin, args...)
}

// mustKubectlOn runs kubectl against e as the admin and fails the test on
// a non-zero exit.
func mustKubectlOn(t *testing.T, e *testenv.Env, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := kubectlOn(t, e, stdin, args...)
	if code != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// startRouteController installs the Route controller with `kubectl
// iter8-route install` and runs it as its ServiceAccount until the test
// ends, so that the generated RBAC is what the real authorizer judges.
// Extra flags follow the defaults.
func startRouteController(t *testing.T, flags ...string) {
	t.Helper()
	ctx := t.Context()
	mustKubectl(t, "", "iter8-route", "install", "--replicas=1")
	mustKubectl(t, "", "wait", "--for=condition=established", "crd/routes.iter8.tools", "--timeout=60s")
	token, err := env.Token(ctx, "iter8-system", "iter8-route-controller")
	if err != nil {
		t.Fatal(err)
	}
	saConfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(saConfig, "iter8-route-controller", token); err != nil {
		t.Fatal(err)
	}
	testenv.StartProcess(t, "iter8-route-controller", nil, filepath.Join(binDir, "kubectl-iter8_route"), append([]string{"controller",
		"--kubeconfig", saConfig, "-n", "iter8-system",
		"--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--git-dir", t.TempDir(), "--log-encoding=console"}, flags...)...)
}

// startFlux builds (once, cached by version) and starts Flux's
// source-controller and kustomize-controller against the control plane,
// with their CRDs installed.
func startFlux(t *testing.T) {
	t.Helper()
	startFluxOn(t, env)
}

// startFluxOn starts Flux's controllers against e (see startFlux).
func startFluxOn(t *testing.T, env *testenv.Env) {
	t.Helper()
	ctx := t.Context()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "controlplane.sh"), "source-controller", "kustomize-controller")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("building the Flux controllers: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	crds, err := testenv.FluxCRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, crds...); err != nil {
		t.Fatal(err)
	}
	if _, err := env.CreateNamespace(ctx, "flux-system"); err != nil {
		t.Fatal(err)
	}
	envs := []string{"KUBECONFIG=" + env.Kubeconfig, "RUNTIME_NAMESPACE=flux-system"}
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	storage := fmt.Sprintf("127.0.0.1:%d", ports[0])
	testenv.StartProcess(t, "source-controller", envs, filepath.Join(dir, "source-controller"),
		"--storage-path="+t.TempDir(), "--storage-addr="+storage, "--storage-adv-addr="+storage,
		"--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--enable-leader-election=false", "--log-level=info")
	testenv.StartProcess(t, "kustomize-controller", envs, filepath.Join(dir, "kustomize-controller"),
		"--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--enable-leader-election=false", "--log-level=info")
}

// appVersions creates the Service and Deployment of each version of
// checkout; available says which Deployments are Available.
func appVersions(t *testing.T, ns string, available map[string]bool) {
	t.Helper()
	ctx := t.Context()
	for v, a := range available {
		name := "checkout-" + v
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}},
		}
		if _, err := env.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}},
			},
		}
		if _, err := env.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setAvailability(t, ns, name, a)
	}
}

// setAvailability sets a Deployment's status as the Deployment controller
// would.
func setAvailability(t *testing.T, ns, name string, available bool) {
	t.Helper()
	if err := env.SetDeploymentAvailable(t.Context(), ns, name, available); err != nil {
		t.Fatal(err)
	}
}

var virtualServices = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}

// liveWeights reads the weights of the VirtualService in the cluster, by
// version, and the field manager that last applied it; nil when missing.
func liveWeights(t *testing.T, dyn dynamic.Interface, ns, name string) (map[string]int64, string) {
	t.Helper()
	vs, err := dyn.Resource(virtualServices).Namespace(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		return nil, ""
	}
	out := map[string]int64{}
	rules, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	for _, rule := range rules {
		r := rule.(map[string]any)
		if r["name"] != "default" {
			continue
		}
		for _, d := range r["route"].([]any) {
			dest := d.(map[string]any)
			v, _, _ := unstructured.NestedString(dest, "headers", "response", "set", v1alpha1.VersionHeader)
			w, _, _ := unstructured.NestedInt64(dest, "weight")
			out[v] = w
		}
	}
	manager := ""
	for _, m := range vs.GetManagedFields() {
		manager = m.Manager
	}
	return out, manager
}

// waitFor polls cond until it holds; the bound is only reached when
// something is broken.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var msg string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, msg = cond(); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: still not so: %s", what, msg)
}
