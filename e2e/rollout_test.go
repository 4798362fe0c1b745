package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/iter8-tools/iter8/internal/gittest"
	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// rolloutRoute is checkout's Route on cluster: blue-green over primary and
// candidate, written to the fleet repository that Flux applies, rolled out
// 10 → 50 → 100 with an experiment at each step that loads url (the
// candidate) and needs no errors and a p99 latency under 500ms.
func rolloutRoute(ns, origin, primary, candidate, url string) string {
	analysis := fmt.Sprintf(`{spec: {versions: [{name: %s}], tasks: [
        {task: http, with: {url: %q, numRequests: 40, connections: 2}},
        {task: assess, with: {SLOs: {upper: [{metric: http/error-rate, limit: 0}, {metric: http/latency-p99, limit: 500}]}}}]}}`, candidate, url)
	return fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Route
metadata: {name: checkout, namespace: %[1]s}
spec:
  provider: istio
  strategy: blue-green
  versions:
  - name: %[3]s
    service: {name: checkout-%[3]s, port: 8080}
    readiness: [{apiVersion: apps/v1, kind: Deployment, name: checkout-%[3]s}]
  - name: %[4]s
    service: {name: checkout-%[4]s, port: 8080}
    readiness: [{apiVersion: apps/v1, kind: Deployment, name: checkout-%[4]s}]
  sink:
    type: git
    git:
      url: %[2]s
      path: clusters/prod/checkout
      secretRef: {name: fleet-auth}
      kustomization: {name: checkout-routing}
  rollout:
    steps:
    - {weight: 10, analysis: %[5]s}
    - {weight: 50, analysis: %[5]s}
    - {weight: 100, analysis: %[5]s}
`, ns, origin, primary, candidate, analysis)
}

// TestProgressiveRolloutWithFlux is the release optimizer's core loop on a
// real cluster: the Route controller, in a pod on the real node, rolls a
// candidate out through Git, 10 → 50 → 100 → promoted, each step committed,
// applied by real Flux, and gated by a real experiment Job (on the node,
// from the run image, as its own ServiceAccount) that load-tests the
// candidate; then a second candidate that misses its SLO is rolled back,
// as a commit saying so. The controller's process is killed with SIGKILL
// within a step (its experiment running) and between steps (a step
// written, not yet applied): it resumes, so that the Git log holds exactly
// the expected commits, in order, and each experiment ran once.
func TestProgressiveRolloutWithFlux(t *testing.T) {
	ctx := t.Context()
	e := cluster.env
	startControllerInAPod(t)
	startFluxOn(t, e)

	// The fleet repository, on the node's address so that the controller's
	// pod reaches it, behind credentials.
	srv := gittest.NewServer(t, gittest.ServerOptions{Username: "fleet", Password: "t0ken", Addr: testenv.NodeIP + ":0"})
	origin := srv.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})
	ns, err := e.CreateNamespace(ctx, "rollout")
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "fleet-auth"}, StringData: map[string]string{"username": "fleet", "password": "t0ken"}}
	if _, err := e.Client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nodeVersions(t, ns, "v1", "v2", "v3")
	// The candidates' endpoints, reached by the experiments' pods: v2
	// answers, v3 fails every request.
	var v2Requests, v3Requests atomic.Int64
	v2 := nodeServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { v2Requests.Add(1) }))
	v3 := nodeServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		v3Requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	mustKubectlOn(t, e, fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: %[1]s}
spec:
  interval: 1s
  url: %[2]s
  ref: {branch: main}
  secretRef: {name: fleet-auth}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: checkout-routing, namespace: %[1]s}
spec:
  interval: 1m
  retryInterval: 1s
  path: ./clusters/prod/checkout
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
`, ns, origin), "apply", "--server-side", "-f", "-")
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _, _ := kubectlOn(t, e, "", "iter8-route", "status", "checkout", "-n", ns)
			t.Logf("status:\n%s", out)
			out, _, _ = kubectlOn(t, e, "", "logs", "-n", reconcile.DefaultInstallNamespace, "deployment/"+reconcile.ControllerName, "--tail=60")
			t.Logf("controller log:\n%s", out)
		}
	})

	mustKubectlOn(t, e, rolloutRoute(ns, origin, "v1", "v2", v2.URL), "apply", "--server-side", "-f", "-")

	// SIGKILL within step 1 (its experiment running), then between steps
	// (step 2 committed, not yet applied by Flux).
	rollout := func() *v1alpha1.RolloutStatus {
		r := getRouteOn(t, dyn, ns, "checkout")
		return r.Status.Rollout
	}
	waitFor(t, "step 1's experiment runs", func() (bool, string) {
		st := rollout()
		return st != nil && st.Step == 1 && st.Stage == v1alpha1.StageAnalysing && st.Experiment != "", fmt.Sprintf("%+v", st)
	})
	killController(t)
	waitFor(t, "step 2 is written, not yet live", func() (bool, string) {
		st := rollout()
		return st != nil && st.Step == 2 && st.Stage == v1alpha1.StageApplying, fmt.Sprintf("%+v", st)
	})
	killController(t)

	out, errOut, code := kubectlOn(t, e, "", "iter8-route", "status", "checkout", "-n", ns, "-w", "--timeout", "8m")
	if code != 0 || !strings.Contains(out, "Rollout:   v2, step 3/3, v2 100%: Succeeded") {
		t.Fatalf("status -w: exit %d\n%s%s", code, out, errOut)
	}
	if w, manager := liveWeights(t, dyn, ns, "checkout"); !cmp.Equal(w, map[string]int64{"v1": 0, "v2": 100}) || manager != "kustomize-controller" {
		t.Errorf("live routing after the promotion: %v by %q", w, manager)
	}
	// Each step's experiment ran once, on the node, and load-tested v2.
	first := getRouteOn(t, dyn, ns, "checkout").Status.Rollout
	if n := v2Requests.Load(); n != 3*40 {
		t.Errorf("v2 served %d requests, want 3 experiments × 40", n)
	}
	// The verdict is read from the result, which the Job's pod writes
	// before it ends: the Job controller may count it a moment later.
	waitFor(t, "the three experiment Jobs succeeded, once each", func() (bool, string) {
		jobs, err := e.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: reconcile.LabelRolloutRoute + "=checkout"})
		if err != nil {
			return false, err.Error()
		}
		var states []string
		done := 0
		for _, j := range jobs.Items {
			states = append(states, fmt.Sprintf("%s: succeeded %d, failed %d", j.Name, j.Status.Succeeded, j.Status.Failed))
			if j.Status.Succeeded == 1 && j.Status.Failed == 0 {
				done++
			}
		}
		return len(jobs.Items) == 3 && done == 3, strings.Join(states, "; ")
	})
	// The report of a step's experiment reads as any other.
	if out := mustKubectlOn(t, e, "", "iter8-run", "report", first.Experiment, "-n", ns); !strings.Contains(out, "http/error-rate") {
		t.Errorf("report %s:\n%s", first.Experiment, out)
	}

	// The second candidate: v2 is the primary, v3 misses its SLO at step 1.
	mustKubectlOn(t, e, rolloutRoute(ns, origin, "v2", "v3", v3.URL), "apply", "--server-side", "-f", "-")
	out, errOut, code = kubectlOn(t, e, "", "iter8-route", "status", "checkout", "-n", ns, "-w", "--timeout", "5m")
	if code != 1 || !strings.Contains(out, "Rollout:   v3, step 1/3, v3 0%: RolledBack") || !strings.Contains(errOut, "the rollout of v3 is RolledBack") {
		t.Fatalf("status -w of the failing rollout: exit %d\n%s%s", code, out, errOut)
	}
	if w, _ := liveWeights(t, dyn, ns, "checkout"); !cmp.Equal(w, map[string]int64{"v2": 100, "v3": 0}) {
		t.Errorf("live routing after the rollback: %v", w)
	}
	if n := v3Requests.Load(); n != 40 {
		t.Errorf("v3 served %d requests, want 1 experiment × 40", n)
	}

	// The Git log is the rollouts' history: exactly these commits, in order.
	clone := gittest.Clone(t, strings.Replace(origin, "http://", "http://fleet:t0ken@", 1))
	log := gittest.Git(t, clone, "log", "--reverse", "--format=%an: %s", "--", "clusters/prod/checkout")
	want := []string{
		"iter8-route-controller: route " + ns + "/checkout: v2 step 1/3: v1 90%, v2 10%",
		"iter8-route-controller: route " + ns + "/checkout: v2 step 2/3: v1 50%, v2 50%",
		"iter8-route-controller: route " + ns + "/checkout: v2 step 3/3: v1 0%, v2 100%",
		"iter8-route-controller: route " + ns + "/checkout: v2 promoted: v1 0%, v2 100%",
		"iter8-route-controller: route " + ns + "/checkout: v3 step 1/3: v2 90%, v3 10%",
		"iter8-route-controller: route " + ns + "/checkout: v3 rolled back at step 1/3: v2 100%, v3 0%",
	}
	if diff := cmp.Diff(want, strings.Split(log, "\n")); diff != "" {
		t.Errorf("commits (-want +got):\n%s", diff)
	}
	body := gittest.Git(t, clone, "log", "-1", "--format=%b")
	if !strings.Contains(body, "v3: http/error-rate <= 0 (1)") || !strings.Contains(body, "at step 1/3") {
		t.Errorf("the rollback's commit does not say which SLO v3 missed at which step:\n%s", body)
	}
	second := getRouteOn(t, dyn, ns, "checkout").Status.Rollout
	t.Logf("verdict → next step live, Git sink with Flux: %s", verdictToLive(first))
	t.Logf("first rollout:\n%s\nsecond rollout:\n%s", history(first), history(second))
}

// killController sends SIGKILL to the process of the Route controller's
// container, and waits until the kubelet restarted it.
func killController(t *testing.T) {
	t.Helper()
	pod := podOf(t, reconcile.DefaultInstallNamespace, "app.kubernetes.io/name="+reconcile.ControllerName)
	st := pod.Status.ContainerStatuses[0]
	if err := cluster.node.KillContainer(t.Context(), st.ContainerID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the kubelet restarts the controller", func() (bool, string) {
		p, err := cluster.env.Client.CoreV1().Pods(pod.Namespace).Get(t.Context(), pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		c := p.Status.ContainerStatuses[0]
		return c.RestartCount > st.RestartCount && c.State.Running != nil, fmt.Sprintf("%+v", c)
	})
}

// getRouteOn reads a Route through the dynamic client.
func getRouteOn(t *testing.T, dyn dynamic.Interface, ns, name string) *v1alpha1.Route {
	t.Helper()
	u, err := dyn.Resource(v1alpha1.GroupVersion.WithResource("routes")).Namespace(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	r := &v1alpha1.Route{}
	if err := json.Unmarshal(b, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// history lists a rollout's records, one per line.
func history(st *v1alpha1.RolloutStatus) string {
	var b strings.Builder
	for _, h := range st.History {
		fmt.Fprintf(&b, "  %s step %d %s %d%% %s: %s\n", h.Time.UTC().Format("15:04:05.000"), h.Step, h.Phase, h.Weight, h.Revision, h.Message)
	}
	return b.String()
}

// verdictToLive lists, for each passed experiment, the time from its
// verdict to the next step (or promotion) being live.
func verdictToLive(st *v1alpha1.RolloutStatus) string {
	var out []string
	var verdict *v1alpha1.RolloutRecord
	for i := range st.History {
		h := &st.History[i]
		switch {
		case strings.Contains(h.Message, "passed: every SLO holds"):
			verdict = h
		case verdict != nil && h.Revision != "":
			out = append(out, h.Time.Sub(verdict.Time.Time).Round(time.Millisecond).String())
			verdict = nil
		}
	}
	return strings.Join(out, ", ")
}
