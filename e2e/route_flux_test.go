package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/iter8-tools/iter8/internal/gittest"
	"github.com/iter8-tools/iter8/internal/testenv"
)

// TestRouteGitOpsWithFlux is the headline flow: the Route controller,
// installed by `kubectl iter8-route install` and running as its own
// ServiceAccount (so the generated RBAC is what the real authorizer
// judges), commits the routing of a Route to a Git repository; real Flux
// (source-controller and kustomize-controller) applies it to the API
// server; when the candidate becomes ready the controller commits new
// weights and Flux applies them; set-weight changes them through the
// Route; and a deleted candidate is held until Flux applied routing without
// it.
func TestRouteGitOpsWithFlux(t *testing.T) {
	ctx := t.Context()
	startFlux(t)
	istio, err := testenv.IstioCRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, istio); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}

	// The controller, installed and run as its ServiceAccount.
	startRouteController(t, "--enable-leader-election")

	// The fleet repository, behind credentials, that Flux applies.
	srv := gittest.NewServer(t, gittest.ServerOptions{Username: "fleet", Password: "t0ken"})
	origin := srv.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})
	ns, err := env.CreateNamespace(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "fleet-auth"}, StringData: map[string]string{"username": "fleet", "password": "t0ken"}}
	if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	appVersions(t, ns, map[string]bool{"v1": true, "v2": false})
	mustKubectl(t, fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: shop}
spec:
  interval: 1s
  url: %s
  ref: {branch: main}
  secretRef: {name: fleet-auth}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: checkout-routing, namespace: shop}
spec:
  interval: 1m
  retryInterval: 1s
  path: ./clusters/prod/checkout
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
---
apiVersion: iter8.tools/v1alpha1
kind: Route
metadata: {name: checkout, namespace: shop}
spec:
  provider: istio
  strategy: blue-green
  versions:
  - name: v1
    service: {name: checkout-v1, port: 8080}
    weight: 50
    readiness: [{apiVersion: apps/v1, kind: Deployment, name: checkout-v1}]
  - name: v2
    service: {name: checkout-v2, port: 8080}
    weight: 50
    readiness: [{apiVersion: apps/v1, kind: Deployment, name: checkout-v2}]
  sink:
    type: git
    git:
      url: %s
      path: clusters/prod/checkout
      secretRef: {name: fleet-auth}
      kustomization: {name: checkout-routing}
`, origin, origin), "apply", "--server-side", "-f", "-")

	status := func() {
		t.Helper()
		if out, errOut, code := kubectlAdmin(t, "", "iter8-route", "status", "checkout", "-n", ns, "-w", "--timeout", "3m"); code != 0 {
			t.Fatalf("status -w: exit %d\n%s%s", code, out, errOut)
		}
	}
	// Committed by the controller, applied by Flux: v2 is not ready.
	status()
	w, manager := liveWeights(t, dyn, ns, "checkout")
	if !cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}) || manager != "kustomize-controller" {
		t.Fatalf("live VirtualService: weights %v, applied by %q", w, manager)
	}
	clone := gittest.Clone(t, strings.Replace(origin, "http://", "http://fleet:t0ken@", 1))
	if author := gittest.Git(t, clone, "log", "-1", "--format=%an: %s"); !strings.HasPrefix(author, "iter8-route-controller: route shop/checkout: v1 100%, v2 0% (not ready)") {
		t.Errorf("last commit: %s", author)
	}

	// The candidate becomes ready: new weights, committed and applied.
	setAvailability(t, ns, "checkout-v2", true)
	waitFor(t, "Flux applies the weights of both versions", func() (bool, string) {
		w, _ := liveWeights(t, dyn, ns, "checkout")
		return cmp.Equal(w, map[string]int64{"v1": 50, "v2": 50}), fmt.Sprint(w)
	})
	status()

	// set-weight edits the Route; status -w waits until Flux applied it.
	mustKubectl(t, "", "iter8-route", "set-weight", "checkout", "v1=80", "v2=20", "-n", ns)
	status()
	if w, _ := liveWeights(t, dyn, ns, "checkout"); !cmp.Equal(w, map[string]int64{"v1": 80, "v2": 20}) {
		t.Errorf("after set-weight: %v", w)
	}
	out := mustKubectl(t, "", "iter8-route", "status", "checkout", "-n", ns)
	for _, want := range []string{"Ready:     True Succeeded", "v2        True    20%       20%"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	// The candidate is deleted: it goes only once the routing without it is
	// live, so the routing in the cluster excludes it by then.
	if err := env.Client.AppsV1().Deployments(ns).Delete(ctx, "checkout-v2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted Deployment is gone", func() (bool, string) {
		_, err := env.Client.AppsV1().Deployments(ns).Get(ctx, "checkout-v2", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if w, _ := liveWeights(t, dyn, ns, "checkout"); !cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}) {
		t.Errorf("the Deployment went while the live routing was %v", w)
	}
	out = mustKubectl(t, "", "iter8-route", "list", "-n", ns)
	if !strings.Contains(out, "checkout   istio      blue-green   git    True    v1 100%, v2 0%") {
		t.Errorf("list:\n%s", out)
	}
	if t.Failed() {
		b, _ := os.ReadFile(filepath.Join(clone, "clusters/prod/checkout/virtualservice-checkout.yaml"))
		t.Logf("routing in Git:\n%s", b)
	}
}
