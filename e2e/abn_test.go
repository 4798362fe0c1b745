//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/iter8-tools/iter8/examples/abn/app"
	"github.com/iter8-tools/iter8/internal/abntest/servicetest"
	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/deploy"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
)

// checkoutRoute is the abn Route of the walk-through: 60% of shoppers to
// v1, 40% to v2, each version ready when its Deployment is Available.
const checkoutRoute = `apiVersion: iter8.tools/v1alpha1
kind: Route
metadata:
  name: checkout
spec:
  provider: istio
  strategy: abn
  versions:
  - name: v1
    weight: 60
    service: {name: checkout-v1, port: 8080}
    readiness: [{apiVersion: apps/v1, kind: Deployment, name: checkout-v1}]
  - name: v2
    weight: 40
    service: {name: checkout-v2, port: 8080}
    readiness: [{apiVersion: apps/v1, kind: Deployment, name: checkout-v2}]
`

// TestABNWalkThrough is the A/B/n walk-through of docs/abn.md in a cluster,
// driven with kubectl as a user would: kubectl iter8-abn deploy applies its
// objects; the versions' Deployments and an abn Route declare the
// application; the service runs as a local process with the Deployment's
// arguments and the ServiceAccount's token, learning the application from
// the Route; the example shop's shoppers look up versions and buy; and
// kubectl iter8-abn metrics shows what they did. Then a version stops
// being ready, and its shoppers are sent to the baseline until it is back.
func TestABNWalkThrough(t *testing.T) {
	ctx := t.Context()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ns, err := env.CreateNamespace(ctx, "abn-walk-through")
	if err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "", "apply", "--server-side", "-f", filepath.Join(root, "config", "crd"))

	// 1. Deploy the service; it learns applications from Routes.
	out := mustKubectl(t, "", "iter8-abn", "deploy", "-n", ns)
	want := "serviceaccount/iter8-abn serverside-applied\n" +
		"role.rbac.authorization.k8s.io/iter8-abn serverside-applied\n" +
		"rolebinding.rbac.authorization.k8s.io/iter8-abn serverside-applied\n" +
		"persistentvolumeclaim/iter8-abn-data serverside-applied\n" +
		"service/iter8-abn serverside-applied\n" +
		"deployment.apps/iter8-abn serverside-applied\n"
	if out != want {
		t.Fatalf("deploy printed:\n%s\nwant:\n%s", out, want)
	}
	// Applying again changes nothing and succeeds.
	mustKubectl(t, "", "iter8-abn", "deploy", "-n", ns)

	// 2. The ServiceAccount may read Routes and the objects versions name,
	// in its namespace, and nothing else.
	token, err := env.Token(ctx, ns, "iter8-abn")
	if err != nil {
		t.Fatal(err)
	}
	sa := kubernetes.NewForConfigOrDie(env.ConfigFor(token))
	checkABNAccess(ctx, t, sa, ns)
	// Readiness objects of another kind are readable once asked for.
	rollouts := authorizationv1.ResourceAttributes{Namespace: ns, Verb: "watch", Group: "argoproj.io", Resource: "rollouts"}
	mustKubectl(t, "", "iter8-abn", "deploy", "-n", ns, "--readiness-resource", "argoproj.io/rollouts")
	if !may(ctx, t, sa, rollouts) {
		t.Error("with --readiness-resource argoproj.io/rollouts, the ServiceAccount may not watch rollouts.argoproj.io")
	}

	// 3. The versions, both Available, and their Route.
	appVersions(t, ns, map[string]bool{"v1": true, "v2": true})
	mustKubectl(t, checkoutRoute, "apply", "-n", ns, "-f", "-")

	// 4. Run the service as the Deployment would: its arguments, with
	// local addresses and paths, and the ServiceAccount's token.
	d, err := env.Client.AppsV1().Deployments(ns).Get(ctx, "iter8-abn", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "sa.kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig, "iter8-abn", token); err != nil {
		t.Fatal(err)
	}
	local := strings.NewReplacer(
		fmt.Sprintf(":%d", deploy.GRPCPort), "127.0.0.1:0",
		fmt.Sprintf(":%d", deploy.HTTPPort), "127.0.0.1:0",
		deploy.DataDir, filepath.Join(dir, "data"),
	)
	args := d.Spec.Template.Spec.Containers[0].Args
	if args[0] != "serve" {
		t.Fatalf("the Deployment runs %v, not serve", args)
	}
	var serveArgs []string
	for _, a := range args[1:] {
		serveArgs = append(serveArgs, local.Replace(a))
	}
	svc := servicetest.StartProcess(t, append(serveArgs, "--kubeconfig", kubeconfig, "-n", ns)...)

	// 5. A thousand shoppers visit the example shop, run as docs/abn.md
	// runs it.
	shop := filepath.Join(dir, "shop")
	build := exec.CommandContext(ctx, "go", "build", "-o", shop, "./examples/abn")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example shop: %v\n%s", err, b)
	}
	cmd := exec.CommandContext(ctx, shop, "local", "--abn", svc.GRPC, "--users", "1000")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("the shop: %v", err)
	}
	var tally app.Tally
	if err := json.Unmarshal(b, &tally); err != nil {
		t.Fatalf("the shop printed %q: %v", b, err)
	}
	if tally.Fallbacks != 0 {
		t.Errorf("%d visits fell back to the default version", tally.Fallbacks)
	}
	// They were assigned as the published algorithm says, with the Route's
	// weights.
	checkout := abn.App{Name: "checkout", Baseline: "v1", Versions: []abn.Version{
		{Name: "v1", Weight: 60, Ready: true}, {Name: "v2", Weight: 40, Ready: true},
	}}
	assigned := map[string]int64{}
	for _, u := range app.Shoppers(1000) {
		i, err := abn.Assign(&checkout, u)
		if err != nil {
			t.Fatal(err)
		}
		assigned[checkout.Versions[i].Name]++
	}
	if diff := cmp.Diff(assigned, tally.Users); diff != "" {
		t.Errorf("versions that served the shoppers (-assigned +served):\n%s", diff)
	}

	// 6. metrics shows what they did.
	out, errOut, code := runKubectl(t, "iter8-abn", "metrics", "checkout", "--endpoint", svc.GRPC, "-o", "json")
	if code != 0 {
		t.Fatalf("metrics: exit %d: %s", code, errOut)
	}
	var rep abn.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Versions) != 2 || rep.Versions[0].Weight != 60 || rep.Versions[1].Weight != 40 {
		t.Errorf("versions %+v, want v1 and v2 weighing 60 and 40", rep.Versions)
	}
	for _, v := range rep.Versions {
		i := slices.IndexFunc(v.Metrics, func(m abn.MetricReport) bool { return m.Name == app.Metric })
		if i < 0 {
			t.Errorf("%s: no %s metric in %+v", v.Name, app.Metric, v.Metrics)
			continue
		}
		sales := v.Metrics[i]
		if v.Users != tally.Users[v.Name] || v.Transactions != tally.Purchases[v.Name] ||
			sales.Count != tally.Purchases[v.Name] || sales.Mean*float64(sales.Count) != tally.Revenue[v.Name] ||
			sales.PerUser.Users != tally.Users[v.Name] {
			t.Errorf("%s: users %d, transactions %d, sales %+v; shoppers: %d users, %d purchases, revenue %g",
				v.Name, v.Users, v.Transactions, sales, tally.Users[v.Name], tally.Purchases[v.Name], tally.Revenue[v.Name])
		}
	}
	if rep.SampleRatio == nil || rep.SampleRatio.Mismatch || len(rep.Versions) < 2 || len(rep.Versions[1].Metrics) == 0 || rep.Versions[1].Metrics[0].VsBaseline == nil {
		t.Errorf("report: %+v", rep)
	}
	out, _, _ = runKubectl(t, "iter8-abn", "metrics", "checkout", "--endpoint", svc.GRPC)
	for _, want := range []string{"Sample ratio: ok", "sales    v2", "(baseline)", "v1        0       60       true"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics table lacks %q:\n%s", want, out)
		}
	}

	// 7. v2 stops being Available: its shoppers are looked up to the
	// baseline, and back to v2 once it is Available again.
	shopper := app.Shoppers(1000)[slices.IndexFunc(app.Shoppers(1000), func(u string) bool {
		i, _ := abn.Assign(&checkout, u)
		return i == 1
	})]
	lookup := func() string {
		out, errOut, code := runKubectl(t, "iter8-abn", "lookup", "checkout", shopper, "--endpoint", svc.GRPC, "-o", "json")
		if code != 0 {
			t.Fatalf("lookup: exit %d: %s", code, errOut)
		}
		var v sdk.Version
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("lookup printed %q: %v", out, err)
		}
		return v.Name
	}
	if got := lookup(); got != "v2" {
		t.Fatalf("%s is looked up to %s, want v2", shopper, got)
	}
	setAvailability(t, ns, "checkout-v2", false)
	waitFor(t, shopper+" goes to v1 while v2 is not ready", func() (bool, string) {
		got := lookup()
		return got == "v1", got
	})
	setAvailability(t, ns, "checkout-v2", true)
	waitFor(t, shopper+" is back on v2", func() (bool, string) {
		got := lookup()
		return got == "v2", got
	})

	// 8. The service stops cleanly on SIGTERM, as in a rollout.
	svc.Stop(t)
	if !strings.Contains(svc.Log(), "msg=stopped") {
		t.Errorf("service log:\n%s", svc.Log())
	}
}

// checkABNAccess checks what the A/B/n service's ServiceAccount may do.
func checkABNAccess(ctx context.Context, t *testing.T, sa kubernetes.Interface, ns string) {
	t.Helper()
	if _, err := sa.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing Deployments as the ServiceAccount: %v", err)
	}
	if _, err := sa.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("watching Services as the ServiceAccount: %v", err)
	}
	tests := []struct {
		attrs   authorizationv1.ResourceAttributes
		allowed bool
	}{
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "watch", Group: "iter8.tools", Resource: "routes"}, true},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Group: "iter8.tools", Resource: "routes"}, true},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Group: "serving.kserve.io", Resource: "inferenceservices"}, true},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "update", Group: "iter8.tools", Resource: "routes"}, false},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Group: "apps", Resource: "deployments"}, false},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Resource: "pods"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "default", Verb: "list", Group: "iter8.tools", Resource: "routes"}, false},
		{authorizationv1.ResourceAttributes{Verb: "list", Group: "apps", Resource: "deployments"}, false},
	}
	for _, tc := range tests {
		if allowed := may(ctx, t, sa, tc.attrs); allowed != tc.allowed {
			t.Errorf("ServiceAccount may %s %s.%s in %q: %v, want %v", tc.attrs.Verb, tc.attrs.Resource, tc.attrs.Group, tc.attrs.Namespace, allowed, tc.allowed)
		}
	}
}

// may asks the API server whether the client sa may do what attrs say.
func may(ctx context.Context, t *testing.T, sa kubernetes.Interface, attrs authorizationv1.ResourceAttributes) bool {
	t.Helper()
	r, err := sa.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
		&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}
