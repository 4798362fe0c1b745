package routes_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/routes"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// installRoutes installs the Route CRD.
func installRoutes(t *testing.T, ctx context.Context) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, filepath.Join(root, "config", "crd", "iter8.tools_routes.yaml")); err != nil {
		t.Fatal(err)
	}
}

// createBackend creates the Service and Deployment of a version; the
// Deployment is Available when available is true.
func createBackend(t *testing.T, ctx context.Context, ns, name string, available bool) {
	t.Helper()
	labels := map[string]string{"app": name}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if _, err := env.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}},
			},
		},
	}
	if _, err := env.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if available {
		makeAvailable(t, ctx, ns, name)
	}
}

// makeAvailable sets the status of an Available Deployment, as the
// Deployment controller would (none runs).
func makeAvailable(t *testing.T, ctx context.Context, ns, name string) {
	t.Helper()
	if err := env.SetDeploymentAvailable(ctx, ns, name, true); err != nil {
		t.Fatal(err)
	}
}

// abnVersion is a version of an abn Route served by the Service and
// Deployment named name.
func abnVersion(name string) v1alpha1.Version {
	return v1alpha1.Version{
		Name:      name,
		Service:   &v1alpha1.ServiceBackend{Name: name, Port: 80},
		Readiness: []v1alpha1.ObjectReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name}},
	}
}

// createRoute creates a Route.
func createRoute(t *testing.T, ctx context.Context, dyn dynamic.Interface, route *v1alpha1.Route) {
	t.Helper()
	route.APIVersion, route.Kind = v1alpha1.GroupVersion.String(), "Route"
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(route)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(routes.RoutesResource).Namespace(route.Namespace).Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond for up to 30 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runs counts the runs of TestRouteApplications (-count), which each
// need a new namespace.
var runs int

func TestRouteApplications(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	installRoutes(t, ctx)
	runs++
	ns, err := env.CreateNamespace(ctx, fmt.Sprintf("abn-routes-%d", runs))
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	createBackend(t, ctx, ns, "v1", true)
	createBackend(t, ctx, ns, "v2", false)
	v2 := abnVersion("v2")
	v2.Primary = true
	createRoute(t, ctx, dyn, &v1alpha1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-route", Namespace: ns},
		Spec: v1alpha1.RouteSpec{
			App: "checkout", Provider: v1alpha1.ProviderIstio, Strategy: v1alpha1.StrategyABN,
			Versions: []v1alpha1.Version{abnVersion("v1"), v2},
		},
	})
	// Named after the Route; v3's objects do not exist.
	createRoute(t, ctx, dyn, &v1alpha1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: ns},
		Spec: v1alpha1.RouteSpec{
			Provider: v1alpha1.ProviderIstio, Strategy: v1alpha1.StrategyABN,
			Versions: []v1alpha1.Version{weighted(abnVersion("v1"), 80), weighted(abnVersion("v3"), 10), weighted(v1alpha1.Version{Name: "plain", Service: &v1alpha1.ServiceBackend{Name: "v1", Port: 80}}, 10)},
		},
	})
	// Not abn: not an application.
	createRoute(t, ctx, dyn, &v1alpha1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "bluegreen", Namespace: ns},
		Spec: v1alpha1.RouteSpec{
			Provider: v1alpha1.ProviderIstio, Strategy: v1alpha1.StrategyBlueGreen,
			Versions: []v1alpha1.Version{{Name: "v1", Service: &v1alpha1.ServiceBackend{Name: "v1", Port: 80}, Weight: ptr.To[int32](1)}},
		},
	})

	apps, err := routes.NewRouteApplications(ctx, env.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "both applications are read", func() bool { return len(apps.Names()) == 2 })
	if diff := cmp.Diff([]string{"cart", "checkout"}, apps.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	got, ok := apps.Application("checkout")
	want := abn.App{Name: "checkout", Baseline: "v2", Versions: []abn.Version{
		{Name: "v1", Weight: 1, Ready: true},
		{Name: "v2", Weight: 1, Ready: false},
	}}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("checkout: found %v (-want +got):\n%s", ok, diff)
	}
	for u := range 1000 {
		if i, _ := abn.Assign(&got, user(u)); i != 0 {
			t.Fatalf("%s was assigned version %d while v2 is not ready", user(u), i)
		}
	}
	cart, ok := apps.Application("cart")
	wantCart := abn.App{Name: "cart", Baseline: "v1", Versions: []abn.Version{
		{Name: "v1", Weight: 80, Ready: true},
		{Name: "v3", Weight: 10, Ready: false},
		{Name: "plain", Weight: 10, Ready: true},
	}}
	if diff := cmp.Diff(wantCart, cart); !ok || diff != "" {
		t.Errorf("cart: found %v (-want +got):\n%s", ok, diff)
	}
	if _, ok := apps.Application("bluegreen"); ok {
		t.Error("a blue-green Route is an application")
	}
	if a, ok := apps.Application("nope"); ok {
		t.Errorf("unknown application found: %+v", a)
	}

	makeAvailable(t, ctx, ns, "v2")
	eventually(t, "v2 is ready", func() bool {
		a, _ := apps.Application("checkout")
		return len(a.Versions) == 2 && a.Versions[1].Ready
	})
	got, _ = apps.Application("checkout")
	counts := make([]int, 2)
	for u := range 1000 {
		i, err := abn.Assign(&got, user(u))
		if err != nil {
			t.Fatal(err)
		}
		counts[i]++
	}
	if counts[1] == 0 {
		t.Errorf("no user was assigned v2 once ready: %v", counts)
	}

	// A weight change in the Route changes the application's weights.
	patch := []byte(`[{"op": "replace", "path": "/spec/versions/0/weight", "value": 20}]`)
	if _, err := dyn.Resource(routes.RoutesResource).Namespace(ns).Patch(ctx, "cart", types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cart's v1 weighs 20", func() bool {
		a, _ := apps.Application("cart")
		return len(a.Versions) == 3 && a.Versions[0].Weight == 20
	})

	if err := dyn.Resource(routes.RoutesResource).Namespace(ns).Delete(ctx, "checkout-route", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "checkout is gone", func() bool {
		_, ok := apps.Application("checkout")
		return !ok
	})
	if _, ok := apps.Application("cart"); !ok {
		t.Error("cart is gone with checkout's Route")
	}
}

func TestRouteApplicationsErrors(t *testing.T) {
	ctx := t.Context()
	if _, err := routes.NewRouteApplications(ctx, env.Config, ""); err == nil {
		t.Error("no namespace: no error")
	}
	// A client that may not list Routes fails at once.
	if _, err := routes.NewRouteApplications(ctx, env.ConfigFor("not-a-token"), "default"); err == nil {
		t.Error("unauthenticated: no error")
	}
}

// weighted returns v with a weight.
func weighted(v v1alpha1.Version, w int32) v1alpha1.Version {
	v.Weight = ptr.To(w)
	return v
}
