//go:build linux

package abn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/iter8-tools/iter8/examples/abn/app"
	abnpkg "github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/deploy"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
	"github.com/iter8-tools/iter8/pkg/abn/service/servicetest"
)

// TestWalkThrough is the A/B/n walk-through of docs/abn.md end to end:
// deploy applies its objects to the real API server; the service runs as a
// local process with the Deployment's arguments, the ConfigMap's
// applications and the ServiceAccount's token; the example app's shoppers
// look up versions and record sales; and metrics shows what they did.
func TestWalkThrough(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	ns, err := env.CreateNamespace(ctx, "abn-walk-through")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps.yaml"), []byte(checkoutApps+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// 1. Deploy.
	out, errOut, code := iter8(t, dir, "deploy", "--kubeconfig", env.Kubeconfig, "-n", ns, "--apps", "apps.yaml")
	want := "serviceaccounts/iter8-abn serverside-applied\n" +
		"roles.rbac.authorization.k8s.io/iter8-abn serverside-applied\n" +
		"rolebindings.rbac.authorization.k8s.io/iter8-abn serverside-applied\n" +
		"persistentvolumeclaims/iter8-abn-data serverside-applied\n" +
		"configmaps/iter8-abn-apps serverside-applied\n" +
		"services/iter8-abn serverside-applied\n" +
		"deployments.apps/iter8-abn serverside-applied\n"
	if code != 0 || out != want {
		t.Fatalf("deploy: exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errOut)
	}
	// Applying again changes nothing and succeeds.
	if _, errOut, code := iter8(t, dir, "deploy", "--kubeconfig", env.Kubeconfig, "-n", ns, "--apps", "apps.yaml"); code != 0 {
		t.Fatalf("deploy again: exit %d: %s", code, errOut)
	}

	// 2. The ServiceAccount may read Routes and the objects versions name,
	// in its namespace, and nothing else.
	token, err := env.Token(ctx, ns, "iter8-abn")
	if err != nil {
		t.Fatal(err)
	}
	checkAccess(ctx, t, kubernetes.NewForConfigOrDie(env.ConfigFor(token)), ns)

	// 3. Run the service as the Deployment would: its arguments, with
	// local addresses and paths, the ConfigMap's file, the token.
	d, err := env.Client.AppsV1().Deployments(ns).Get(ctx, "iter8-abn", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, "iter8-abn-apps", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mounted := filepath.Join(dir, "etc", deploy.AppsKey)
	if err := os.MkdirAll(filepath.Dir(mounted), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mounted, []byte(cm.Data[deploy.AppsKey]), 0o600); err != nil {
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
		deploy.AppsDir+"/"+deploy.AppsKey, mounted,
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

	// 4. Shoppers visit the example shop.
	c, err := sdk.New(svc.GRPC, sdk.WithDefaultVersion("v1"))
	if err != nil {
		t.Fatal(err)
	}
	shoppers := app.Shoppers(1000)
	tally, err := app.Local(ctx, c, "checkout", shoppers, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if tally.Fallbacks != 0 {
		t.Errorf("%d visits fell back to the default version", tally.Fallbacks)
	}
	// They were assigned as the published algorithm says.
	a, _ := checkout(t).Application("checkout")
	assigned := map[string]int64{}
	for _, u := range shoppers {
		i, _ := abnpkg.Assign(&a, u)
		assigned[a.Versions[i].Name]++
	}
	if diff := cmp.Diff(assigned, tally.Users); diff != "" {
		t.Errorf("versions that served the shoppers (-assigned +served):\n%s", diff)
	}

	// 5. metrics shows what they did.
	out, errOut, code = iter8(t, dir, "metrics", "checkout", "--endpoint", svc.GRPC, "-o", "json")
	if code != 0 {
		t.Fatalf("metrics: exit %d: %s", code, errOut)
	}
	var rep abnpkg.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Versions {
		sales := v.Metrics[slices.IndexFunc(v.Metrics, func(m abnpkg.MetricReport) bool { return m.Name == app.Metric })]
		if v.Users != tally.Users[v.Name] || v.Transactions != tally.Purchases[v.Name] ||
			sales.Count != tally.Purchases[v.Name] || sales.Mean*float64(sales.Count) != tally.Revenue[v.Name] ||
			sales.PerUser.Users != tally.Users[v.Name] {
			t.Errorf("%s: users %d, transactions %d, sales %+v; shoppers: %d users, %d purchases, revenue %g",
				v.Name, v.Users, v.Transactions, sales, tally.Users[v.Name], tally.Purchases[v.Name], tally.Revenue[v.Name])
		}
	}
	if rep.SampleRatio == nil || rep.SampleRatio.Mismatch || rep.Versions[1].Metrics[0].VsBaseline == nil {
		t.Errorf("report: %+v", rep)
	}
	out, _, _ = iter8(t, dir, "metrics", "checkout", "--endpoint", svc.GRPC)
	for _, want := range []string{"Sample ratio: ok", "sales    v2", "(baseline)"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics table lacks %q:\n%s", want, out)
		}
	}

	// 6. The service stops cleanly on SIGTERM, as in a rollout.
	svc.Stop(t)
	if !strings.Contains(svc.Log(), "msg=stopped") {
		t.Errorf("service log:\n%s", svc.Log())
	}
}

// checkAccess checks what the service's ServiceAccount may do.
func checkAccess(ctx context.Context, t *testing.T, sa kubernetes.Interface, ns string) {
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
		r, err := sa.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx,
			&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &tc.attrs}},
			metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Allowed != tc.allowed {
			t.Errorf("ServiceAccount may %s %s.%s in %q: %v, want %v", tc.attrs.Verb, tc.attrs.Resource, tc.attrs.Group, tc.attrs.Namespace, r.Status.Allowed, tc.allowed)
		}
	}
}
