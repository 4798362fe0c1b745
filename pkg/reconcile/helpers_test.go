package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/go-logr/logr/funcr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, &env))
}

// setup installs the CRDs the tests use (the Route's, Istio's, the Gateway
// API's) and returns an admin client and a new namespace.
func setup(t *testing.T) (client.Client, string) {
	t.Helper()
	ctx := t.Context()
	istio, err := testenv.IstioCRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := testenv.GatewayAPICRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, "../../config/crd", istio, gw); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, env.Config)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "reconcile-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	return c, ns.Name
}

func newClient(t testing.TB, cfg *rest.Config) client.Client {
	t.Helper()
	scheme, err := reconcile.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writes counts the requests that change something, other than those of
// leader election and events.
type writes struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (w *writes) RoundTrip(req *http.Request) (*http.Response, error) {
	p := req.URL.Path
	if req.Method != http.MethodGet && !strings.Contains(p, "/leases") && !strings.Contains(p, "/events") {
		w.n.Add(1)
	}
	return w.rt.RoundTrip(req)
}

// controller runs the Route controller for the namespace until the test
// ends (or stop is called) and returns a counter of its writes.
type controller struct {
	writes *writes
	stop   func()
}

func startController(t *testing.T, ns string, change func(*reconcile.Options)) *controller {
	t.Helper()
	opts := reconcile.DefaultOptions()
	opts.Namespaces = []string{ns}
	opts.MetricsAddr, opts.HealthAddr = "0", "0"
	opts.GitDir = t.TempDir()
	// controller-runtime may still log from a goroutine of its stop
	// procedure after the manager has returned; t.Log then panics, so the
	// logger goes quiet once the test has ended.
	var logMu sync.Mutex
	ended := false
	opts.Logger = funcr.New(func(prefix, args string) {
		logMu.Lock()
		defer logMu.Unlock()
		if !ended {
			t.Log(prefix, args)
		}
	}, funcr.Options{Verbosity: 0})
	t.Cleanup(func() {
		logMu.Lock()
		ended = true
		logMu.Unlock()
	})
	opts.RateLimiter.MinRetryDelay, opts.RateLimiter.MaxRetryDelay = 20*time.Millisecond, 500*time.Millisecond
	opts.DrainDelay = 200 * time.Millisecond
	if change != nil {
		change(&opts)
	}
	cfg := rest.CopyConfig(env.Config)
	w := &writes{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { w.rt = rt; return w }
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := reconcile.NewManager(ctx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var stopped atomic.Bool
	stop := func() {
		if stopped.CompareAndSwap(false, true) {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("controller: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return &controller{writes: w, stop: stop}
}

// eventually polls cond until it holds, failing the test with its last
// message after a bound that only a broken controller reaches.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var msg string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, msg = cond(); ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: still not so: %s", what, msg)
}

// service creates a Service for a version.
func service(t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if err := c.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}

// deployment creates a Deployment, Available or not.
func deployment(t *testing.T, c client.Client, ns, name string, available bool) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
			},
		},
	}
	if err := c.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	setAvailable(t, ns, name, available)
}

// setAvailable sets a Deployment's Available condition, for its current
// generation, as the Deployment controller would.
func setAvailable(t testing.TB, ns, name string, available bool) {
	t.Helper()
	if err := env.SetDeploymentAvailable(t.Context(), ns, name, available); err != nil {
		t.Fatal(err)
	}
}

// blueGreen is a Route with a version per weight, v1 the primary, each
// with its Service and its Deployment as readiness object.
func blueGreen(ns string, weights ...int32) *v1alpha1.Route {
	r := &v1alpha1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
		Spec:       v1alpha1.RouteSpec{Provider: v1alpha1.ProviderIstio, Strategy: v1alpha1.StrategyBlueGreen},
	}
	for i, w := range weights {
		name := fmt.Sprintf("v%d", i+1)
		r.Spec.Versions = append(r.Spec.Versions, v1alpha1.Version{
			Name:      name,
			Service:   &v1alpha1.ServiceBackend{Name: "checkout-" + name, Port: 8080},
			Weight:    ptr.To(w),
			Readiness: []v1alpha1.ObjectReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "checkout-" + name}},
		})
	}
	return r
}

// versionObjects creates the Service and Deployment of each version.
func versionObjects(t *testing.T, c client.Client, ns string, available ...bool) {
	t.Helper()
	for i, a := range available {
		name := fmt.Sprintf("checkout-v%d", i+1)
		service(t, c, ns, name)
		deployment(t, c, ns, name, a)
	}
}

// weights reads the weight of each version in the default rule of the
// VirtualService (Istio leaves out a weight of 0); nil when there is none.
func weights(t testing.TB, c client.Client, ns, name string) map[string]int64 {
	t.Helper()
	vs := &unstructured.Unstructured{}
	vs.SetAPIVersion("networking.istio.io/v1")
	vs.SetKind("VirtualService")
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, vs); err != nil {
		return nil
	}
	return vsWeights(vs)
}

// vsWeights reads the weight of each version in the default rule of a
// VirtualService (Istio leaves out a weight of 0).
func vsWeights(vs *unstructured.Unstructured) map[string]int64 {
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
	return out
}

func getRoute(t *testing.T, c client.Client, ns, name string) *v1alpha1.Route {
	t.Helper()
	r := &v1alpha1.Route{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// ready reports whether the Route is Ready for its current generation.
func ready(r *v1alpha1.Route) (bool, string) {
	c := apimeta.FindStatusCondition(r.Status.Conditions, meta.ReadyCondition)
	if c == nil {
		return false, "no Ready condition"
	}
	return c.Status == metav1.ConditionTrue && r.Status.ObservedGeneration == r.Generation,
		fmt.Sprintf("Ready=%s %s: %s (generation %d, observed %d)", c.Status, c.Reason, c.Message, r.Generation, r.Status.ObservedGeneration)
}

// updateRoute changes the Route, retrying when the controller changed it
// in the meantime.
func updateRoute(t *testing.T, c client.Client, ns, name string, change func(*v1alpha1.Route)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		r := getRoute(t, c, ns, name)
		change(r)
		return c.Update(t.Context(), r)
	})
	if err != nil {
		t.Fatal(err)
	}
}
