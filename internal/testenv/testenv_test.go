package testenv_test

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/iter8-tools/iter8/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

func TestKubeconfigReachesServer(t *testing.T) {
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.Major != "1" || v.Minor != "37" {
		t.Errorf("server version %s.%s (%s), want 1.37", v.Major, v.Minor, v.GitVersion)
	}
}

func TestCreateNamespace(t *testing.T) {
	ctx := t.Context()
	name, err := env.CreateNamespace(ctx, "harness-ns")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := env.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("namespace phase %q, want Active", ns.Status.Phase)
	}
}

func TestMeshCRDsAcceptRoutes(t *testing.T) {
	ctx := t.Context()
	gw, err := testenv.GatewayAPICRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	istio, err := testenv.IstioCRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names, err := env.InstallCRDs(ctx, gw, istio)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"httproutes.gateway.networking.k8s.io", "virtualservices.networking.istio.io"} {
		if !slices.Contains(names, want) {
			t.Errorf("installed CRDs %v lack %s", names, want)
		}
	}
	ns, err := env.CreateNamespace(ctx, "harness-crds")
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config)

	route := obj("gateway.networking.k8s.io/v1", "HTTPRoute", ns, "app", map[string]any{
		"parentRefs": []any{map[string]any{"name": "gateway"}},
		"rules": []any{map[string]any{"backendRefs": []any{
			map[string]any{"name": "app-v1", "port": int64(80), "weight": int64(90)},
			map[string]any{"name": "app-v2", "port": int64(80), "weight": int64(10)},
		}}},
	})
	vs := obj("networking.istio.io/v1", "VirtualService", ns, "app", map[string]any{
		"hosts": []any{"app"},
		"http": []any{map[string]any{"route": []any{
			map[string]any{"destination": map[string]any{"host": "app-v1"}, "weight": int64(90)},
			map[string]any{"destination": map[string]any{"host": "app-v2"}, "weight": int64(10)},
		}}},
	})
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		obj  *unstructured.Unstructured
		path []string
	}{
		{schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}, route, []string{"spec", "rules"}},
		{schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}, vs, []string{"spec", "http"}},
	} {
		if _, err := dyn.Resource(tc.gvr).Namespace(ns).Create(ctx, tc.obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s: %v", tc.obj.GetKind(), err)
		}
		got, err := dyn.Resource(tc.gvr).Namespace(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := unstructured.NestedFieldCopy(tc.obj.Object, tc.path...)
		have, _, _ := unstructured.NestedFieldCopy(got.Object, tc.path...)
		// The API server adds defaults (e.g. HTTPRoute matches); compare what was sent.
		if tc.obj.GetKind() == "HTTPRoute" {
			rules := have.([]any)
			delete(rules[0].(map[string]any), "matches")
			for _, b := range rules[0].(map[string]any)["backendRefs"].([]any) {
				delete(b.(map[string]any), "group")
				delete(b.(map[string]any), "kind")
			}
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("%s %v (-sent +stored):\n%s", tc.obj.GetKind(), tc.path, diff)
		}
	}

	// The CRDs' schemas are enforced: a weight out of range is refused.
	bad := route.DeepCopy()
	bad.SetName("bad")
	_ = unstructured.SetNestedSlice(bad.Object, []any{map[string]any{"backendRefs": []any{
		map[string]any{"name": "app-v1", "port": int64(80), "weight": int64(-1)},
	}}}, "spec", "rules")
	_, err = dyn.Resource(schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}).
		Namespace(ns).Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("HTTPRoute with weight -1: got %v, want an Invalid error", err)
	}
}

func TestRBACIsEnforcedForMintedTokens(t *testing.T) {
	ctx := t.Context()
	ns, err := env.CreateNamespace(ctx, "harness-rbac")
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range []string{"allowed", "denied"} {
		_, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
	}
	if _, err := env.Client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "allowed"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "allowed", Namespace: ns}},
	}
	if _, err := env.Client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		sa        string
		resource  string
		forbidden bool
	}{
		{"allowed", "configmaps", false},
		{"allowed", "secrets", true},
		{"denied", "configmaps", true},
	}
	for _, tc := range tests {
		t.Run(tc.sa+"/"+tc.resource, func(t *testing.T) {
			token, err := env.Token(ctx, ns, tc.sa)
			if err != nil {
				t.Fatal(err)
			}
			client := kubernetes.NewForConfigOrDie(env.ConfigFor(token))
			if tc.resource == "configmaps" {
				_, err = client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			} else {
				_, err = client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			}
			if got := apierrors.IsForbidden(err); got != tc.forbidden {
				t.Fatalf("list %s as %s: err = %v, want forbidden = %v", tc.resource, tc.sa, err, tc.forbidden)
			}
			if tc.forbidden {
				if status, ok := err.(apierrors.APIStatus); !ok || status.Status().Code != 403 {
					t.Errorf("want HTTP 403, got %v", err)
				}
			}
		})
	}
}

func TestTokenForMissingServiceAccount(t *testing.T) {
	_, err := env.Token(t.Context(), "default", "no-such-account")
	if !apierrors.IsNotFound(err) {
		t.Errorf("got %v, want NotFound", err)
	}
}

func TestStopEndsProcessesAndRemovesState(t *testing.T) {
	e, err := testenv.Start(context.Background(), testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := e.Dir
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state folder %s still there after Stop: %v", dir, err)
	}
	if _, err := e.Client.Discovery().ServerVersion(); err == nil {
		t.Error("API server still answers after Stop")
	}
	if err := e.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func obj(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// BenchmarkStartStop measures how long a test package waits for its control
// plane: start until /readyz answers ok, then stop.
func BenchmarkStartStop(b *testing.B) {
	for b.Loop() {
		e, err := testenv.Start(context.Background(), testenv.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}
