//go:build linux

package abn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/iter8-tools/iter8/internal/abntest/servicetest"
	"github.com/iter8-tools/iter8/internal/testenv"
	abnpkg "github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/legacypb"
	"github.com/iter8-tools/iter8/pkg/abn/routes"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// TestServeReadsRoutes runs serve without --apps, as deploy without --apps
// runs it: with the ServiceAccount's token it reads the namespace's abn
// Routes, and looks users up in their applications.
func TestServeReadsRoutes(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, filepath.Join(root, "config", "crd", "iter8.tools_routes.yaml")); err != nil {
		t.Fatal(err)
	}
	ns, err := env.CreateNamespace(ctx, "abn-serve-routes")
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := iter8(t, dir, "deploy", "--kubeconfig", env.Kubeconfig, "-n", ns); code != 0 {
		t.Fatalf("deploy: exit %d: %s", code, errOut)
	}
	token, err := env.Token(ctx, ns, "iter8-abn")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "sa.kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig, "iter8-abn", token); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"v1", "v2"} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}},
		}
		if _, err := env.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	route := &v1alpha1.Route{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Route"},
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
		Spec: v1alpha1.RouteSpec{
			Provider: v1alpha1.ProviderIstio, Strategy: v1alpha1.StrategyABN,
			Versions: []v1alpha1.Version{
				{Name: "v1", Service: &v1alpha1.ServiceBackend{Name: "v1", Port: 80}},
				{Name: "v2", Service: &v1alpha1.ServiceBackend{Name: "v2", Port: 80}},
			},
		},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(route)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamic.NewForConfigOrDie(env.Config).Resource(routes.RoutesResource).Namespace(ns).
		Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	svc := servicetest.StartProcess(t, "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
		"--store=bolt:"+filepath.Join(dir, "abn.db"), "--kubeconfig", kubeconfig, "-n", ns)
	if !strings.Contains(svc.Log(), "reading applications from Routes") {
		t.Errorf("service log:\n%s", svc.Log())
	}
	a := abnpkg.App{Name: "checkout", Versions: []abnpkg.Version{{Name: "v1", Weight: 1, Ready: true}, {Name: "v2", Weight: 1, Ready: true}}}
	for _, user := range []string{"ann", "bob", "cy", "dee"} {
		i, _ := abnpkg.Assign(&a, user)
		v := a.Versions[i].Name
		out, errOut, code := iter8(t, dir, "lookup", "checkout", user, "--endpoint", svc.GRPC)
		want := "VERSION   INDEX   HEADER\n" + v + "        " + string(rune('0'+i)) + "       x-iter8-version: " + v + "\n"
		if code != 0 || out != want {
			t.Errorf("lookup %s: exit %d:\n%s\nwant:\n%s\nstderr: %s", user, code, out, want, errOut)
		}
	}
	if _, errOut, code := iter8(t, dir, "lookup", "cart", "ann", "--endpoint", svc.GRPC); code != 1 || errOut != "Error: application \"cart\" not found\n" {
		t.Errorf("lookup cart: exit %d, stderr %q", code, errOut)
	}
	// Iter8's API names the application after the Routes' namespace.
	checkIter8Lookups(t, svc.GRPC, ns+"/checkout", &a)
	svc.Stop(t)
}

// TestServeIter8APINamespace: with --apps, Iter8's API names applications
// after -n, else default.
func TestServeIter8APINamespace(t *testing.T) {
	dir := t.TempDir()
	apps := filepath.Join(dir, "apps.yaml")
	if err := os.WriteFile(apps, []byte("applications: [{name: shop, versions: [{name: v1}, {name: v2}, {name: v3}]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := abnpkg.App{Name: "shop", Versions: []abnpkg.Version{{Name: "v1", Weight: 1, Ready: true}, {Name: "v2", Weight: 1, Ready: true}, {Name: "v3", Weight: 1, Ready: true}}}
	for ns, flags := range map[string][]string{"prod": {"-n", "prod"}, "default": nil} {
		svc := servicetest.StartProcess(t, append([]string{"--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
			"--store=bolt:" + filepath.Join(dir, ns+".db"), "--apps", apps, "--kubeconfig", filepath.Join(dir, "none")}, flags...)...)
		checkIter8Lookups(t, svc.GRPC, ns+"/shop", &a)
		svc.Stop(t)
	}
}

// checkIter8Lookups looks users up through Iter8's API (main.ABN) at
// endpoint: each gets the index of the version the assignment gives.
func checkIter8Lookups(t *testing.T, endpoint, application string, a *abnpkg.App) {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := legacypb.NewABNClient(conn)
	for _, user := range []string{"ann", "bob", "cy", "dee", "eve"} {
		want, _ := abnpkg.Assign(a, user)
		got, err := c.Lookup(t.Context(), &legacypb.Application{Name: application, User: user})
		if err != nil || int(got.GetVersionNumber()) != want {
			t.Errorf("Iter8's Lookup(%s, %s): %v, %v; want version %d", application, user, got, err, want)
		}
	}
}
