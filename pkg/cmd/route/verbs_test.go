package route_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/config/grafana"
	"github.com/iter8-tools/iter8/internal/gittest"
	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/cli"
	"github.com/iter8-tools/iter8/pkg/cmd/route"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	routefile "github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
	"github.com/iter8-tools/iter8/pkg/version"
)

// TestInstallGolden prints and writes the install objects: the same bytes
// every time, reviewed in testdata/golden.
func TestInstallGolden(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	out, errOut, code := iter8(t, dir, "install", "--dry-run", "-o", "yaml", "--image", "iter8:test")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	golden(t, "install-dry-run", map[string]string{"objects.yaml": out})

	out, errOut, code = iter8(t, dir, "install", "-n", "shop", "--namespaced", "--readiness-resource", "argoproj.io/rollouts", "--image", "iter8:test", "--out", "iter8")
	if code != 0 || out != "" || errOut != "wrote 8 objects and kustomization.yaml to iter8\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	golden(t, "install-namespaced", readDir(t, filepath.Join(dir, "iter8")))

	// The default image of this build, not a release, deploys with a warning.
	_, errOut, code = iter8(t, dir, "install", "--out", "default")
	if want := version.DefaultImageWarning(reconcile.DefaultImage()) + "\nwrote 9 objects and kustomization.yaml to default\n"; code != 0 || errOut != want || !strings.Contains(want, "kubectl-iter8-route") {
		t.Fatalf("exit %d, stderr %q, want %q", code, errOut, want)
	}
}

func TestInstallFlagErrors(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"install", "-o", "yaml"}, "Error: flag -o/--output needs --dry-run: it prints the objects instead of applying them\n"},
		{[]string{"install", "--dry-run=server"}, "Error: invalid value \"server\" for flag --dry-run: allowed values are none, client\n"},
		{[]string{"install", "--dry-run", "--out", "x"}, "Error: flags --dry-run and --out cannot be used together: print the objects, or write them\n"},
		{[]string{"install", "--dry-run", "-o", "table"}, "Error: invalid value \"table\" for flag -o/--output: allowed values are yaml, json, name\n"},
		{[]string{"install", "--dry-run", "--replicas", "0"}, "Error: invalid flags: replicas must be at least 1, not 0\n"},
		{[]string{"install", "--dry-run", "--readiness-resource", "rollouts"}, "Error: invalid flags: readiness resource \"rollouts\": must be group/resource, e.g. argoproj.io/rollouts (core/resource for the core group)\n"},
		{[]string{"set-weight", "checkout", "v2"}, "Error: invalid weight \"v2\": want VERSION=N with N from 0 to 100, e.g. v2=20\n"},
		{[]string{"set-weight", "checkout", "v2=120"}, "Error: invalid weight \"v2=120\": want VERSION=N with N from 0 to 100, e.g. v2=20\n"},
		{[]string{"promote", "checkout", "v2", "--push"}, "Error: flag --push needs --git: it pushes the commit made\n"},
		{[]string{"status", "checkout", "--timeout", "1m"}, "Error: flag --timeout needs -w/--watch: it bounds the wait\n"},
		{[]string{"controller", "--log-level", "loud"}, "Error: invalid value \"loud\" for flag --log-level: allowed values are trace, debug, info, error\n"},
		{[]string{"controller", "--concurrent", "0", "--kubeconfig", "/nonexistent"}, "Error: reading the kubeconfig: stat /nonexistent: no such file or directory\n"},
	}
	for _, tc := range tests {
		out, errOut, code := iter8(t, dir, tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestSetWeightInGitTouchesOnlyWeightLines edits a Route file with
// comments in a Git checkout: the commit changes the two weight lines.
func TestSetWeightInGitTouchesOnlyWeightLines(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "--quiet", "--initial-branch=main")
	routeYAML := `# the checkout app
apiVersion: iter8.tools/v1alpha1
kind: Route
metadata:
  name: checkout
  namespace: shop
spec:
  provider: istio
  strategy: blue-green
  versions:
  - name: v1   # stable
    service: {name: checkout-v1, port: 8080}
    weight: 90
  - name: v2
    service: {name: checkout-v2, port: 8080}
    weight: 10
`
	gittest.WriteFile(t, filepath.Join(dir, "apps", "checkout", "route.yaml"), routeYAML)
	gittest.WriteFile(t, filepath.Join(dir, "apps", "other.yaml"), "kind: ConfigMap\n")
	gittest.Git(t, dir, "add", "--all")
	gittest.Git(t, dir, "commit", "--quiet", "-m", "initial")

	out, errOut, code := iter8(t, dir, "set-weight", "checkout", "v1=40", "v2=60", "--git", ".")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if want := "apps/checkout/route.yaml: route checkout: set weights v1=40, v2=60\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	diff := gittest.Git(t, dir, "show", "--format=%s", "--unified=0", "HEAD")
	var changed []string
	for _, l := range strings.Split(diff, "\n") {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			changed = append(changed, l)
		}
	}
	want := []string{"-    weight: 90", "+    weight: 40", "-    weight: 10", "+    weight: 60"}
	if d := cmp.Diff(want, changed); d != "" || !strings.HasPrefix(diff, "route checkout: set weights v1=40, v2=60\n") {
		t.Errorf("commit (-want +got):\n%s\n%s", d, diff)
	}

	// promote changes what no single value can: the file is rewritten, valid.
	if _, errOut, code := iter8(t, dir, "promote", "checkout", "v2", "--git", "apps"); code != 0 {
		t.Fatalf("promote: exit %d\n%s", code, errOut)
	}
	r, err := routefile.ReadFile(filepath.Join(dir, "apps", "checkout", "route.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Spec.Versions[1].Primary || *r.Spec.Versions[1].Weight != 100 || *r.Spec.Versions[0].Weight != 0 {
		t.Errorf("after promote: %+v", r.Spec.Versions)
	}
	if log := gittest.Git(t, dir, "log", "--format=%s"); log != "route checkout: promoted v2: the primary, with all traffic\nroute checkout: set weights v1=40, v2=60\ninitial" {
		t.Errorf("log:\n%s", log)
	}
	if _, errOut, code := iter8(t, dir, "abort", "missing", "--git", "."); code != 1 || errOut != "Error: no file under . holds a valid Route named missing\n" {
		t.Errorf("abort missing: exit %d, %q", code, errOut)
	}
}

// TestEdits shows what each verb does to the spec of each strategy.
func TestEdits(t *testing.T) {
	two := func(s v1alpha1.Strategy, mod func(*v1alpha1.RouteSpec)) v1alpha1.RouteSpec {
		spec := v1alpha1.RouteSpec{Provider: v1alpha1.ProviderIstio, Strategy: s, Versions: []v1alpha1.Version{
			{Name: "v1", Service: &v1alpha1.ServiceBackend{Name: "a", Port: 80}},
			{Name: "v2", Service: &v1alpha1.ServiceBackend{Name: "b", Port: 80}},
		}}
		mod(&spec)
		return spec
	}
	weights := func(w1, w2 *int32) func(*v1alpha1.RouteSpec) {
		return func(s *v1alpha1.RouteSpec) { s.Versions[0].Weight, s.Versions[1].Weight = w1, w2 }
	}
	match := func(s *v1alpha1.RouteSpec) {
		s.Versions[1].Match = []v1alpha1.Match{{Headers: []v1alpha1.HeaderMatch{{Name: "x", Value: "y"}}}}
	}
	promoted := func(s *v1alpha1.RouteSpec) {
		s.Versions[1].Primary = true
		weights(ptr.To[int32](0), ptr.To[int32](100))(s)
	}
	tests := []struct {
		name string
		args []string
		in   v1alpha1.RouteSpec
		want v1alpha1.RouteSpec
		msg  string
	}{
		{"set-weight blue-green", []string{"set-weight", "checkout", "v2=30"}, two("blue-green", weights(ptr.To[int32](90), ptr.To[int32](10))),
			two("blue-green", weights(ptr.To[int32](90), ptr.To[int32](30))), "set weights v2=30"},
		{"set-weight mirror", []string{"set-weight", "checkout", "v2=5"}, two("mirror", weights(nil, ptr.To[int32](10))),
			two("mirror", weights(nil, ptr.To[int32](5))), "set weights v2=5"},
		{"promote blue-green", []string{"promote", "checkout", "v2"}, two("blue-green", weights(ptr.To[int32](90), ptr.To[int32](10))),
			two("blue-green", promoted), "promoted v2: the primary, with all traffic"},
		{"promote canary", []string{"promote", "checkout", "v2"}, two("canary", match),
			two("blue-green", promoted), "promoted v2: the primary, with all traffic (strategy blue-green, was canary)"},
		{"promote mirror", []string{"promote", "checkout", "v2"}, two("mirror", weights(nil, ptr.To[int32](10))),
			two("mirror", func(s *v1alpha1.RouteSpec) { s.Versions[1].Primary = true; weights(ptr.To[int32](0), nil)(s) }), "promoted v2: the primary, with all traffic"},
		{"abort blue-green", []string{"abort", "checkout"}, two("blue-green", weights(ptr.To[int32](50), ptr.To[int32](50))),
			two("blue-green", weights(ptr.To[int32](100), ptr.To[int32](0))), "aborted: all traffic to the primary v1"},
		{"abort abn", []string{"abort", "checkout"}, two("abn", func(*v1alpha1.RouteSpec) {}),
			two("blue-green", weights(ptr.To[int32](100), ptr.To[int32](0))), "aborted: all traffic to the primary v1 (strategy blue-green, was abn)"},
	}
	env := clusterEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ns := routeNamespace(t, env)
			r := &v1alpha1.Route{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns}, Spec: tc.in}
			if err := c.Create(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := iter8(t, t.TempDir(), append(tc.args, "--kubeconfig", env.Kubeconfig, "-n", ns)...)
			if code != 0 || out != "route.iter8.tools/checkout: "+tc.msg+"\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			got := &v1alpha1.Route{}
			if err := c.Get(t.Context(), client.ObjectKeyFromObject(r), got); err != nil {
				t.Fatal(err)
			}
			tc.want.Protocol = v1alpha1.ProtocolHTTP // the CRD's default
			if diff := cmp.Diff(tc.want, got.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
	c, ns := routeNamespace(t, env)
	r := &v1alpha1.Route{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns}, Spec: two("canary", match)}
	if err := c.Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"set-weight", "checkout", "v2=10"}, "Error: the Route checkout has strategy canary: weights are used only by blue-green and mirror (promote or abort move all traffic)\n"},
		{[]string{"promote", "checkout", "v3"}, "Error: the Route checkout has no version \"v3\": its versions are v1, v2\n"},
		{[]string{"abort", "nothere"}, "Error: routes.iter8.tools \"nothere\" not found\n"},
	} {
		out, errOut, code := iter8(t, t.TempDir(), append(tc.args, "--kubeconfig", env.Kubeconfig, "-n", ns)...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q, want %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestStatusAndList print a Route whose status a controller wrote, and
// wait on it with -w.
func TestStatusAndList(t *testing.T) {
	isolate(t)
	env := clusterEnv(t)
	c, ns := routeNamespace(t, env)
	ctx := t.Context()
	r := &v1alpha1.Route{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns}, Spec: v1alpha1.RouteSpec{
		Provider: v1alpha1.ProviderIstio, Strategy: v1alpha1.StrategyBlueGreen,
		Versions: []v1alpha1.Version{
			{Name: "v1", Service: &v1alpha1.ServiceBackend{Name: "a", Port: 80}, Weight: ptr.To[int32](80)},
			{Name: "v2", Service: &v1alpha1.ServiceBackend{Name: "b", Port: 80}, Weight: ptr.To[int32](20)},
		},
	}}
	if err := c.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	setStatus := func(status metav1.ConditionStatus, reason, msg string, stalled bool) {
		t.Helper()
		r.Status = v1alpha1.RouteStatus{
			ObservedGeneration: r.Generation, LastRenderedRevision: "sha256:abc", LastAppliedRevision: "sha256:abc",
			Versions:   []v1alpha1.VersionStatus{{Name: "v1", Ready: true, Weight: 100}, {Name: "v2", Weight: 0, Reason: "Deployment shop/b: condition Available is False"}},
			Conditions: []metav1.Condition{{Type: meta.ReadyCondition, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now(), ObservedGeneration: r.Generation}},
		}
		if stalled {
			r.Status.Conditions = append(r.Status.Conditions, metav1.Condition{Type: meta.StalledCondition, Status: metav1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()})
		}
		if err := c.Status().Update(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	setStatus(metav1.ConditionTrue, meta.SucceededReason, "routing sha256:abc: v1 100%, v2 0% (not ready)", false)
	flags := []string{"--kubeconfig", env.Kubeconfig, "-n", ns}
	dir := t.TempDir()

	out, errOut, code := iter8(t, dir, append([]string{"status", "checkout", "-w", "--timeout", "1m"}, flags...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("status -w: exit %d\n%s", code, errOut)
	}
	golden(t, "status", map[string]string{"status.txt": strings.ReplaceAll(out, ns, "NAMESPACE")})

	out, _, code = iter8(t, dir, append([]string{"status", "checkout", "-o", "json"}, flags...)...)
	var v route.RouteView
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	v.Created, v.Namespace = v.Created.UTC().Truncate(0), ""
	want := route.RouteView{Name: "checkout", Provider: "istio", Strategy: "blue-green", Sink: "apply", Ready: "True", Reason: "Succeeded",
		Message: "routing sha256:abc: v1 100%, v2 0% (not ready)", Current: true, Revision: "sha256:abc", AppliedRevision: "sha256:abc",
		Versions: []route.VersionView{{Name: "v1", Ready: true, Desired: "80%", Applied: "100%"}, {Name: "v2", Desired: "20%", Applied: "0%", Reason: "Deployment shop/b: condition Available is False"}},
		Created:  v.Created}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("status -o json (-want +got):\n%s", diff)
	}

	out, _, code = iter8(t, dir, append([]string{"list"}, flags...)...)
	if code != 0 || !regexp.MustCompile(`^NAME       PROVIDER   STRATEGY     SINK    READY   TRAFFIC          AGE\ncheckout   istio      blue-green   apply   True    v1 100%, v2 0%   \d+s\n$`).MatchString(out) {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	if out, errOut, code := iter8(t, dir, append([]string{"list", "-o", "name"}, flags...)...); code != 0 || out != "route.iter8.tools/checkout\n" {
		t.Errorf("list -o name: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Stalled: -w exits 1, naming it.
	setStatus(metav1.ConditionFalse, "InvalidRoute", "readiness object: bad apiVersion", true)
	out, errOut, code = iter8(t, dir, append([]string{"status", "checkout", "-w"}, flags...)...)
	if code != 1 || !strings.Contains(out, "Ready:     False (Stalled) InvalidRoute") || errOut != "Error: route "+ns+"/checkout is stalled: readiness object: bad apiVersion\n" {
		t.Errorf("stalled: exit %d, stdout:\n%s\nstderr %q", code, out, errOut)
	}
	// A spec change not yet reconciled: -w times out with exit 1.
	r.Spec.Versions[1].Weight = ptr.To[int32](30)
	if err := c.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = iter8(t, dir, append([]string{"status", "checkout", "-w", "--timeout", "300ms"}, flags...)...)
	if code != 1 || out != "" || !strings.HasSuffix(errOut, "Error: timed out after 300ms waiting for route "+ns+"/checkout to be Ready\n") {
		t.Errorf("timeout: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// -w follows the Route: once the controller reports the new generation
	// Ready, the waiting command ends with 0 and prints it.
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		code := cli.Execute(route.NewCommand(streams), append([]string{"status", "checkout", "-w", "--timeout", "1m"}, flags...))
		done <- result{out.String(), code}
	}()
	if err := c.Get(ctx, client.ObjectKeyFromObject(r), r); err != nil {
		t.Fatal(err)
	}
	setStatus(metav1.ConditionTrue, meta.SucceededReason, "routing sha256:def: v1 70%, v2 30%", false)
	if got := <-done; got.code != 0 || !strings.Contains(got.out, "routing sha256:def: v1 70%, v2 30%") {
		t.Errorf("status -w across the change: exit %d, stdout:\n%s", got.code, got.out)
	}
}

var (
	envOnce sync.Once
	envErr  error
	shared  *testenv.Env
)

// clusterEnv starts the package's control plane on first use; TestMain
// stops it. Under -short, the test is skipped.
func clusterEnv(t *testing.T) *testenv.Env {
	t.Helper()
	testenv.SkipShort(t)
	envOnce.Do(func() {
		shared, envErr = testenv.Start(context.Background(), testenv.Options{})
		if envErr == nil {
			_, envErr = shared.InstallCRDs(context.Background(), filepath.Join(testdata, "..", "..", "..", "..", "config", "crd"))
		}
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
}

func stopClusterEnv() {
	if shared != nil {
		if err := shared.Stop(); err != nil {
			os.Stderr.WriteString("stopping the control plane: " + err.Error() + "\n")
		}
	}
}

// routeNamespace returns a client and a new namespace.
func routeNamespace(t *testing.T, env *testenv.Env) (client.Client, string) {
	t.Helper()
	scheme, err := reconcile.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "route-"}}
	if err := c.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	return c, ns.Name
}

// TestInstallGrafanaDashboard: --grafana-dashboard adds the dashboard, as
// embedded, in a ConfigMap that Grafana's sidecar loads.
func TestInstallGrafanaDashboard(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	_, errOut, code := iter8(t, dir, "install", "--grafana-dashboard", "--image", "iter8:test", "--out", "iter8")
	if code != 0 || errOut != "wrote 10 objects and kustomization.yaml to iter8\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "iter8", "configmap-iter8-route-controller-dashboard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := sigsyaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Namespace != "iter8-system" || cm.Labels[grafana.SidecarLabel] != "1" || cm.Data["iter8-route-controller.json"] != grafana.RouteController {
		t.Errorf("the dashboard's ConfigMap:\n%s", b)
	}
}

// TestRolloutVerbs: resume, promote and abort on a Route with a rollout
// set the action annotation (what the controller acts on), refuse what a
// rollout cannot do, and status prints the rollout's state and history.
func TestRolloutVerbs(t *testing.T) {
	isolate(t)
	env := clusterEnv(t)
	c, ns := routeNamespace(t, env)
	ctx := t.Context()
	r := &v1alpha1.Route{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns}, Spec: v1alpha1.RouteSpec{
		Provider: v1alpha1.ProviderIstio, Strategy: v1alpha1.StrategyBlueGreen,
		Versions: []v1alpha1.Version{
			{Name: "v1", Service: &v1alpha1.ServiceBackend{Name: "a", Port: 80}},
			{Name: "v2", Service: &v1alpha1.ServiceBackend{Name: "b", Port: 80}},
		},
		Rollout: &v1alpha1.Rollout{Steps: []v1alpha1.RolloutStep{{Weight: ptr.To[int32](10), Pause: &v1alpha1.Pause{UntilResumed: true}}, {Weight: ptr.To[int32](100)}}},
	}}
	if err := c.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--kubeconfig", env.Kubeconfig, "-n", ns}
	dir := t.TempDir()
	action := func() string {
		t.Helper()
		got := &v1alpha1.Route{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(r), got); err != nil {
			t.Fatal(err)
		}
		return got.Annotations[reconcile.AnnotationAction]
	}
	for _, tc := range []struct {
		args       []string
		verb, want string
	}{
		{[]string{"resume", "checkout"}, "resume", "route.iter8.tools/checkout: resume requested: the current step's pause ends\n"},
		{[]string{"promote", "checkout", "v2"}, "promote", "route.iter8.tools/checkout: promotion of v2 requested: it takes all traffic once the controller writes it\n"},
		{[]string{"abort", "checkout"}, "abort", "route.iter8.tools/checkout: abort requested: the primary v1 takes all traffic once the controller writes it\n"},
	} {
		before := action()
		out, errOut, code := iter8(t, dir, append(tc.args, flags...)...)
		a := action()
		if code != 0 || out != tc.want || !strings.HasPrefix(a, tc.verb+"/") || a == before {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; annotation %q (was %q)", tc.args, code, out, errOut, a, before)
		}
	}
	out, errOut, code := iter8(t, dir, append([]string{"promote", "checkout", "v1"}, flags...)...)
	if code != 1 || out != "" || errOut != "Error: the Route checkout rolls out v2: promote it, not v1\n" {
		t.Errorf("promote the primary: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	if err := c.Get(ctx, client.ObjectKeyFromObject(r), r); err != nil {
		t.Fatal(err)
	}
	start := metav1.NewMicroTime(time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC))
	r.Status = v1alpha1.RouteStatus{
		ObservedGeneration: r.Generation, LastRenderedRevision: "sha256:abc", LastAppliedRevision: "sha256:abc",
		Versions:   []v1alpha1.VersionStatus{{Name: "v1", Ready: true, Weight: 90}, {Name: "v2", Ready: true, Weight: 10}},
		Conditions: []metav1.Condition{{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: meta.SucceededReason, Message: "routing sha256:abc", LastTransitionTime: metav1.Now(), ObservedGeneration: r.Generation}},
		Rollout: &v1alpha1.RolloutStatus{Candidate: "v2", ID: "0123456789", Step: 1, Phase: v1alpha1.RolloutPaused, Stage: v1alpha1.StagePausing, Weight: 10,
			Message: "step 1/2 paused until `kubectl iter8-route resume`",
			History: []v1alpha1.RolloutRecord{
				{Time: start, Step: 1, Phase: v1alpha1.RolloutProgressing, Weight: 10, Message: "Rollout 0123456789 of v2 started. Step 1/2: v2 10%."},
				{Time: start, Step: 1, Phase: v1alpha1.RolloutProgressing, Weight: 10, Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567", Message: "Step 1/2 live: v2 10%."},
			}},
	}
	if err := c.Status().Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	out, _, code = iter8(t, dir, append([]string{"status", "checkout"}, flags...)...)
	for _, want := range []string{
		"Rollout:   v2, step 1/2, v2 10%: Paused (Pausing)\nMessage:   step 1/2 paused until `kubectl iter8-route resume`\n",
		"2026-12-07T01:02:03Z   1      Progressing   10%      main@sha1:0123456789ab   Step 1/2 live: v2 10%.\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// -w waits while the rollout is paused.
	out, errOut, code = iter8(t, dir, append([]string{"status", "checkout", "-w", "--timeout", "300ms"}, flags...)...)
	if code != 1 || out != "" || !strings.Contains(errOut, "rollout of v2: step 1/2, v2 10%, Paused: step 1/2 paused") {
		t.Errorf("status -w of a paused rollout: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// It exits 1 once the rollout rolled back, 0 once it succeeded.
	for phase, wantCode := range map[v1alpha1.RolloutPhase]int{v1alpha1.RolloutRolledBack: 1, v1alpha1.RolloutSucceeded: 0} {
		r.Status.Rollout.Phase, r.Status.Rollout.Stage, r.Status.Rollout.Message = phase, v1alpha1.StageDone, "over"
		if err := c.Status().Update(ctx, r); err != nil {
			t.Fatal(err)
		}
		_, errOut, code = iter8(t, dir, append([]string{"status", "checkout", "-w", "--timeout", "1m"}, flags...)...)
		if code != wantCode {
			t.Errorf("status -w of a rollout %s: exit %d, stderr %q", phase, code, errOut)
		}
	}
}
