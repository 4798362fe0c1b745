package reconcile_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/iter8-tools/iter8/internal/gittest"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
	"github.com/iter8-tools/iter8/pkg/runner"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

// kubelet plays the node's part for the experiments of rollouts' steps:
// each Job created in the namespace runs once, in this process, as the
// Job's own ServiceAccount (so the real authorizer judges what the Role
// the controller made allows), and the routing live when it started is
// recorded.
type kubelet struct {
	mu sync.Mutex
	// runs counts the runs of each experiment.
	runs map[string]int
	// routing is the VirtualService's weights when each experiment ran.
	routing map[string]map[string]int64
	// order lists the experiments in the order they ran.
	order []string
}

func startKubelet(t testing.TB, c client.Client, ns string) *kubelet {
	t.Helper()
	k := &kubelet{runs: map[string]int{}, routing: map[string]map[string]int64{}}
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped })
	go func() {
		defer close(stopped)
		seen := map[string]bool{}
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			jobs, err := env.Client.BatchV1().Jobs(ns).List(t.Context(), metav1.ListOptions{LabelSelector: runner.LabelExperiment})
			if err != nil {
				continue
			}
			for _, j := range jobs.Items {
				if seen[j.Name] {
					continue
				}
				seen[j.Name] = true
				name := j.Labels[runner.LabelExperiment]
				k.mu.Lock()
				k.runs[name]++
				k.routing[name] = weights(t, c, ns, "checkout")
				k.order = append(k.order, name)
				k.mu.Unlock()
				if err := runAsJob(t, ns, name); err != nil {
					t.Errorf("experiment %s: %v", name, err)
				}
			}
		}
	}()
	return k
}

// runAsJob runs the experiment's Job mode as its ServiceAccount.
func runAsJob(t testing.TB, ns, name string) error {
	token, err := env.Token(t.Context(), ns, runner.ObjectName(name))
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig-"+name)
	if err := env.WriteKubeconfig(kubeconfig, runner.ObjectName(name), token); err != nil {
		return err
	}
	f := genericclioptions.NewConfigFlags(false)
	f.KubeConfig = &kubeconfig
	_, err = runner.RunJob(t.Context(), f, ns, name, tasks.Registry(), io.Discard)
	return err
}

func (k *kubelet) ran() ([]string, map[string]int, map[string]map[string]int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.order...), k.runs, k.routing
}

// candidate is the candidate's HTTP server; failing makes it answer 500.
type candidate struct {
	*httptest.Server
	failing atomic.Bool
}

func newCandidate(t *testing.T) *candidate {
	c := &candidate{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if c.failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

// analysis loads url with 20 requests and passes when none fails.
func analysis(t testing.TB, url string) *v1alpha1.Analysis {
	t.Helper()
	spec := map[string]any{
		"versions": []any{map[string]any{"name": "v2"}},
		"tasks": []any{
			map[string]any{"task": "http", "with": map[string]any{"url": url, "numRequests": 20, "connections": 2}},
			map[string]any{"task": "assess", "with": map[string]any{"SLOs": map[string]any{"upper": []any{map[string]any{"metric": "http/error-rate", "limit": 0}}}}},
		},
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &v1alpha1.Analysis{Spec: &apiextensionsv1.JSON{Raw: b}}
}

// rolloutRoute is checkout's blue-green Route, v1 the primary and v2 the
// candidate, with the steps.
func rolloutRoute(ns string, steps ...v1alpha1.RolloutStep) *v1alpha1.Route {
	r := blueGreen(ns, 0, 0)
	for i := range r.Spec.Versions {
		r.Spec.Versions[i].Weight = nil
	}
	r.Spec.Rollout = &v1alpha1.Rollout{Steps: steps}
	return r
}

// rolloutState is the rollout's status once it reached phase.
func waitPhase(t *testing.T, c client.Client, ns string, phase v1alpha1.RolloutPhase, stage v1alpha1.RolloutStage) *v1alpha1.Route {
	t.Helper()
	var r *v1alpha1.Route
	eventually(t, fmt.Sprintf("the rollout is %s (%s)", phase, stage), func() (bool, string) {
		r = getRoute(t, c, ns, "checkout")
		st := r.Status.Rollout
		if st == nil {
			return false, "no rollout status"
		}
		return st.Phase == phase && st.Stage == stage, fmt.Sprintf("%s %s step %d: %s", st.Phase, st.Stage, st.Step, st.Message)
	})
	return r
}

// messages are the messages of the rollout's history.
func messages(r *v1alpha1.Route) []string {
	var out []string
	for _, h := range r.Status.Rollout.History {
		out = append(out, fmt.Sprintf("%d %s %d%%: %s", h.Step, h.Phase, h.Weight, h.Message))
	}
	return out
}

func TestRolloutPromotesOnPassingAnalyses(t *testing.T) {
	c, ns := setup(t)
	startController(t, ns, nil)
	versionObjects(t, c, ns, true, false)
	k := startKubelet(t, c, ns)
	cand := newCandidate(t)
	route := rolloutRoute(ns,
		v1alpha1.RolloutStep{Weight: ptr.To[int32](10), Analysis: analysis(t, cand.URL)},
		v1alpha1.RolloutStep{Weight: ptr.To[int32](50), Analysis: analysis(t, cand.URL)},
		v1alpha1.RolloutStep{Weight: ptr.To[int32](100)},
	)
	if err := c.Create(t.Context(), route); err != nil {
		t.Fatal(err)
	}
	// Until the candidate is ready, the primary takes everything.
	r := waitPhase(t, c, ns, v1alpha1.RolloutWaiting, "")
	eventually(t, "the primary takes all traffic", func() (bool, string) {
		w := weights(t, c, ns, "checkout")
		return cmp.Equal(w, map[string]int64{"v1": 100, "v2": 0}), fmt.Sprint(w)
	})
	id := r.Status.Rollout.ID
	setAvailable(t, ns, "checkout-v2", true)

	r = waitPhase(t, c, ns, v1alpha1.RolloutSucceeded, v1alpha1.StageDone)
	if w := weights(t, c, ns, "checkout"); w["v2"] != 100 || w["v1"] != 0 {
		t.Errorf("promoted: %v", w)
	}
	order, runs, routing := k.ran()
	s1, s2 := "checkout-v2-"+id[:6]+"-s1", "checkout-v2-"+id[:6]+"-s2"
	if !cmp.Equal(order, []string{s1, s2}) || runs[s1] != 1 || runs[s2] != 1 {
		t.Errorf("experiments ran: %v (runs %v)", order, runs)
	}
	// Each experiment ran against its step's routing, live.
	if !cmp.Equal(routing[s1], map[string]int64{"v1": 90, "v2": 10}) || !cmp.Equal(routing[s2], map[string]int64{"v1": 50, "v2": 50}) {
		t.Errorf("routing while the experiments ran: %v", routing)
	}
	want := []string{
		"1 Progressing 10%: Rollout " + id + " of v2 started. Step 1/3: v2 10%.",
		"1 Progressing 10%: Step 1/3 live: v2 10%.",
		"1 Progressing 10%: Experiment " + s1 + " of step 1/3 passed: every SLO holds.",
		"2 Progressing 50%: Step 1/3 passed. Step 2/3: v2 50%.",
		"2 Progressing 50%: Step 2/3 live: v2 50%.",
		"2 Progressing 50%: Experiment " + s2 + " of step 2/3 passed: every SLO holds.",
		"3 Progressing 100%: Step 2/3 passed. Step 3/3: v2 100%.",
		"3 Progressing 100%: Step 3/3 live: v2 100%.",
		"3 Succeeded 100%: Step 3/3 passed. Promoting v2.",
		"3 Succeeded 100%: v2 promoted: it takes all traffic.",
	}
	if diff := cmp.Diff(want, messages(r)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	for _, h := range r.Status.Rollout.History {
		if strings.Contains(h.Message, "live") && !strings.HasPrefix(h.Revision, "sha256:") {
			t.Errorf("%q records no revision", h.Message)
		}
	}
	if ok, msg := ready(r); !ok {
		t.Errorf("not Ready: %s", msg)
	}
	// The experiments are the Route's: they go with it.
	stored, err := runner.Get(t.Context(), env.Client, ns, s1)
	if err != nil || stored.Result == nil || !stored.Result.SLOsSatisfied() {
		t.Fatalf("stored experiment %s: %v", s1, err)
	}
	s, err := env.Client.CoreV1().Secrets(ns).Get(t.Context(), runner.ObjectName(s1), metav1.GetOptions{})
	if err != nil || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != r.UID {
		t.Errorf("experiment Secret's owners: %v %v", s.OwnerReferences, err)
	}
}

func TestRolloutRollsBackOnAMissedSLO(t *testing.T) {
	c, ns := setup(t)
	startController(t, ns, nil)
	versionObjects(t, c, ns, true, true)
	k := startKubelet(t, c, ns)
	cand := newCandidate(t)
	cand.failing.Store(true)
	route := rolloutRoute(ns,
		v1alpha1.RolloutStep{Weight: ptr.To[int32](20), Analysis: analysis(t, cand.URL)},
		v1alpha1.RolloutStep{Weight: ptr.To[int32](100)},
	)
	if err := c.Create(t.Context(), route); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, c, ns, v1alpha1.RolloutRolledBack, v1alpha1.StageDone)
	if w := weights(t, c, ns, "checkout"); w["v1"] != 100 || w["v2"] != 0 {
		t.Errorf("rolled back: %v", w)
	}
	st := r.Status.Rollout
	exp := "checkout-v2-" + st.ID[:6] + "-s1"
	if st.Step != 1 || st.Verdict != "Failed" || st.Experiment != exp {
		t.Errorf("status: step %d, verdict %q, experiment %q", st.Step, st.Verdict, st.Experiment)
	}
	// The history says which version missed which SLO, at which step.
	hist := messages(r)
	missed := "1 Progressing 20%: Experiment " + exp + " of step 1/2 missed its SLOs: v2: http/error-rate <= 0 (1)."
	if len(hist) != 5 || hist[2] != missed || !strings.HasPrefix(hist[3], "1 RolledBack 0%: Rolled back v2 at step 1/2: Experiment "+exp+" of step 1/2 missed") || hist[4] != "1 RolledBack 0%: v2 rolled back: the primary takes all traffic." {
		t.Errorf("history:\n%s", strings.Join(hist, "\n"))
	}
	// Nothing runs again once the verdict is recorded, however often the
	// Route is reconciled.
	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) { r.Labels = map[string]string{"touched": "yes"} })
	requestReconcile(t, c, ns)
	time.Sleep(300 * time.Millisecond)
	if _, runs, _ := k.ran(); runs[exp] != 1 || len(runs) != 1 {
		t.Errorf("runs: %v", runs)
	}
	if w := weights(t, c, ns, "checkout"); w["v2"] != 0 {
		t.Errorf("after a reconcile: %v", w)
	}
}

// requestReconcile asks for a reconcile as `flux reconcile` does.
func requestReconcile(t *testing.T, c client.Client, ns string) {
	t.Helper()
	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) {
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		r.Annotations["reconcile.fluxcd.io/requestedAt"] = time.Now().Format(time.RFC3339Nano)
	})
}

// act sets the action annotation, as the CLI does.
func act(t *testing.T, c client.Client, ns string, a reconcile.Action) {
	t.Helper()
	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) {
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		r.Annotations[reconcile.AnnotationAction] = string(a) + "/" + time.Now().Format(time.RFC3339Nano)
	})
}

func TestRolloutPausesAndResumes(t *testing.T) {
	c, ns := setup(t)
	startController(t, ns, nil)
	versionObjects(t, c, ns, true, true)
	route := rolloutRoute(ns,
		v1alpha1.RolloutStep{Weight: ptr.To[int32](20), Pause: &v1alpha1.Pause{UntilResumed: true}},
		v1alpha1.RolloutStep{Weight: ptr.To[int32](60), Pause: &v1alpha1.Pause{Duration: &metav1.Duration{Duration: 500 * time.Millisecond}}},
	)
	if err := c.Create(t.Context(), route); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, c, ns, v1alpha1.RolloutPaused, v1alpha1.StagePausing)
	if w := weights(t, c, ns, "checkout"); w["v1"] != 80 || w["v2"] != 20 || r.Status.Rollout.Step != 1 {
		t.Fatalf("paused at step %d: %v", r.Status.Rollout.Step, w)
	}
	// It stays paused: a reconcile does not move it.
	requestReconcile(t, c, ns)
	time.Sleep(300 * time.Millisecond)
	if r := getRoute(t, c, ns, "checkout"); r.Status.Rollout.Step != 1 || r.Status.Rollout.Phase != v1alpha1.RolloutPaused {
		t.Fatalf("moved without a resume: %+v", r.Status.Rollout)
	}
	act(t, c, ns, reconcile.ActionResume)
	start := time.Now()
	eventually(t, "step 2 is live", func() (bool, string) {
		w := weights(t, c, ns, "checkout")
		return w["v2"] == 60, fmt.Sprint(w)
	})
	r = waitPhase(t, c, ns, v1alpha1.RolloutSucceeded, v1alpha1.StageDone)
	if held := time.Since(start); held < 500*time.Millisecond {
		t.Errorf("step 2's pause of 500ms held %s", held)
	}
	hist := strings.Join(messages(r), "\n")
	for _, want := range []string{"1 Paused 20%: Step 1/2 resumed by route.iter8.tools/action.", "2 Progressing 60%: Step 1/2 passed. Step 2/2: v2 60%."} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	// An action on a finished rollout does nothing.
	act(t, c, ns, reconcile.ActionAbort)
	eventually(t, "the abort is handled", func() (bool, string) {
		r := getRoute(t, c, ns, "checkout")
		return strings.HasPrefix(r.Status.Rollout.LastHandledAction, "abort/"), r.Status.Rollout.Message
	})
	if w := weights(t, c, ns, "checkout"); w["v2"] != 100 {
		t.Errorf("abort after the promotion moved traffic: %v", w)
	}
}

func TestRolloutAbortAndPromoteAtAnyStep(t *testing.T) {
	for _, a := range []reconcile.Action{reconcile.ActionAbort, reconcile.ActionPromote} {
		t.Run(string(a), func(t *testing.T) {
			c, ns := setup(t)
			startController(t, ns, nil)
			versionObjects(t, c, ns, true, true)
			route := rolloutRoute(ns,
				v1alpha1.RolloutStep{Weight: ptr.To[int32](30), Pause: &v1alpha1.Pause{UntilResumed: true}},
				v1alpha1.RolloutStep{Weight: ptr.To[int32](70), Pause: &v1alpha1.Pause{UntilResumed: true}},
			)
			if err := c.Create(t.Context(), route); err != nil {
				t.Fatal(err)
			}
			waitPhase(t, c, ns, v1alpha1.RolloutPaused, v1alpha1.StagePausing)
			act(t, c, ns, a)
			phase, want := v1alpha1.RolloutRolledBack, map[string]int64{"v1": 100, "v2": 0}
			if a == reconcile.ActionPromote {
				phase, want = v1alpha1.RolloutSucceeded, map[string]int64{"v1": 0, "v2": 100}
			}
			r := waitPhase(t, c, ns, phase, v1alpha1.StageDone)
			if w := weights(t, c, ns, "checkout"); w["v1"] != want["v1"] || w["v2"] != want["v2"] {
				t.Errorf("after %s: %v", a, w)
			}
			if r.Status.Rollout.Step != 1 {
				t.Errorf("%s moved through the steps: at %d", a, r.Status.Rollout.Step)
			}
		})
	}
}

// hook is a webhook that answers the codes given, in turn, then the last
// one, and records the events it was sent.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	codes  []int
	events []v1alpha1.RolloutEvent
}

func newHook(t *testing.T, codes ...int) *hook {
	h := &hook{codes: codes}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev v1alpha1.RolloutEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.events = append(h.events, ev)
		code := h.codes[0]
		if len(h.codes) > 1 {
			h.codes = h.codes[1:]
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) received() []v1alpha1.RolloutEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]v1alpha1.RolloutEvent(nil), h.events...)
}

func TestRolloutWebhooksHoldAndAbort(t *testing.T) {
	c, ns := setup(t)
	startController(t, ns, nil)
	versionObjects(t, c, ns, true, true)
	// The first webhook holds step 1 twice, then lets it go; step 2's
	// aborts. The notification hook hears of every change.
	holder, aborter, told := newHook(t, 503, 503, 200), newHook(t, 409), newHook(t, 200)
	route := rolloutRoute(ns,
		v1alpha1.RolloutStep{Weight: ptr.To[int32](25), Webhooks: []v1alpha1.Webhook{{Name: "load-ok", URL: holder.URL}}},
		v1alpha1.RolloutStep{Weight: ptr.To[int32](75), Webhooks: []v1alpha1.Webhook{{Name: "change-freeze", URL: aborter.URL}}},
	)
	route.Spec.Rollout.Notify = []v1alpha1.Notification{{URL: told.URL, Format: v1alpha1.NotificationJSON}}
	if err := c.Create(t.Context(), route); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, c, ns, v1alpha1.RolloutRolledBack, v1alpha1.StageDone)
	if w := weights(t, c, ns, "checkout"); w["v1"] != 100 || w["v2"] != 0 {
		t.Errorf("aborted: %v", w)
	}
	if got := holder.received(); len(got) != 3 || got[0].Step != 1 || got[0].Weight != 25 || got[0].Route != ns+"/checkout" || got[0].Candidate != "v2" {
		t.Errorf("the holding webhook was sent %+v", got)
	}
	if got := aborter.received(); len(got) != 1 || got[0].Step != 2 || got[0].Weight != 75 {
		t.Errorf("the aborting webhook was sent %+v", got)
	}
	hist := messages(r)
	if !strings.Contains(strings.Join(hist, "\n"), "2 RolledBack 0%: Rolled back v2 at step 2/2: webhook change-freeze aborted it (409 Conflict).") {
		t.Errorf("history:\n%s", strings.Join(hist, "\n"))
	}
	// Every record was notified, in order.
	eventually(t, "every record is notified", func() (bool, string) {
		return len(told.received()) == len(hist), fmt.Sprintf("%d of %d", len(told.received()), len(hist))
	})
	for i, ev := range told.received() {
		h := r.Status.Rollout.History[i]
		if ev.Message != h.Message || ev.Step != h.Step || ev.Phase != h.Phase {
			t.Errorf("notification %d: %+v, record %+v", i, ev, h)
		}
	}
}

func TestRolloutRefusesBadSteps(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*v1alpha1.Route)
		want   string
	}{
		"weights decrease": {func(r *v1alpha1.Route) {
			r.Spec.Rollout.Steps = []v1alpha1.RolloutStep{{Weight: ptr.To[int32](50)}, {Weight: ptr.To[int32](20)}}
		}, "spec.rollout.steps[1].weight: Invalid value: 20: weights never decrease: spec.rollout.steps[0].weight is 50"},
		"canary unweighted after weighted": {func(r *v1alpha1.Route) {
			r.Spec.Strategy = v1alpha1.StrategyCanary
			r.Spec.Versions[1].Match = []v1alpha1.Match{{Headers: []v1alpha1.HeaderMatch{{Name: "x-beta", Value: "1"}}}}
			r.Spec.Rollout.Steps = []v1alpha1.RolloutStep{{Weight: ptr.To[int32](10)}, {}}
		}, "spec.rollout.steps[1].weight: Required value: a canary's steps without a weight come before those with one, and spec.rollout.steps[0] has one"},
	} {
		t.Run(name, func(t *testing.T) {
			r := rolloutRoute("shop", v1alpha1.RolloutStep{Weight: ptr.To[int32](10)})
			tc.change(r)
			errs := r.Validate()
			if len(errs) != 1 || errs[0].Error() != tc.want {
				t.Errorf("got %v\nwant %s", errs, tc.want)
			}
		})
	}
}

// TestRolloutCommitsEveryStep runs two rollouts through a Git sink: the
// Git log of the folder reads as their history, one commit per step, per
// promotion and per rollback, each saying why, and the revisions the
// status records are those commits.
func TestRolloutCommitsEveryStep(t *testing.T) {
	c, ns := setup(t)
	ctx := t.Context()
	srv := gittest.NewServer(t, gittest.ServerOptions{})
	origin := srv.NewRepository(t, "fleet", map[string]string{"README.md": "fleet\n"})
	versionObjects(t, c, ns, true, true, true)
	startController(t, ns, nil)
	ok, freeze := newHook(t, 200), newHook(t, 409)
	r := rolloutRoute(ns,
		v1alpha1.RolloutStep{Weight: ptr.To[int32](10), Pause: &v1alpha1.Pause{Duration: &metav1.Duration{Duration: 100 * time.Millisecond}}},
		v1alpha1.RolloutStep{Weight: ptr.To[int32](50), Webhooks: []v1alpha1.Webhook{{Name: "ok", URL: ok.URL}}},
		v1alpha1.RolloutStep{Weight: ptr.To[int32](100)},
	)
	r.Spec.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkGit, Git: &v1alpha1.GitSink{URL: origin, Path: "clusters/prod/checkout"}}
	if err := c.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	r = waitPhase(t, c, ns, v1alpha1.RolloutSucceeded, v1alpha1.StageDone)
	revisions := map[string]bool{}
	for _, h := range r.Status.Rollout.History {
		if h.Revision != "" {
			revisions[h.Revision] = true
		}
	}

	// The promoted v2 becomes the primary, and v3 the candidate, whose
	// first step a webhook aborts.
	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) {
		r.Spec.Versions[0] = r.Spec.Versions[1]
		r.Spec.Versions[1] = v1alpha1.Version{Name: "v3", Service: &v1alpha1.ServiceBackend{Name: "checkout-v3", Port: 8080},
			Readiness: []v1alpha1.ObjectReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "checkout-v3"}}}
		r.Spec.Rollout.Steps[0].Webhooks = []v1alpha1.Webhook{{Name: "change-freeze", URL: freeze.URL}}
	})
	r = waitPhase(t, c, ns, v1alpha1.RolloutRolledBack, v1alpha1.StageDone)
	if r.Status.Rollout.Candidate != "v3" {
		t.Fatalf("rollout of %s", r.Status.Rollout.Candidate)
	}
	for _, h := range r.Status.Rollout.History {
		if h.Revision != "" {
			revisions[h.Revision] = true
		}
	}

	clone := gittest.Clone(t, origin)
	log := gittest.Git(t, clone, "log", "--reverse", "--format=%H %s", "--", "clusters/prod/checkout")
	want := []string{
		"route " + ns + "/checkout: v2 step 1/3: v1 90%, v2 10%",
		"route " + ns + "/checkout: v2 step 2/3: v1 50%, v2 50%",
		"route " + ns + "/checkout: v2 step 3/3: v1 0%, v2 100%",
		"route " + ns + "/checkout: v2 promoted: v1 0%, v2 100%",
		"route " + ns + "/checkout: v3 step 1/3: v2 90%, v3 10%",
		"route " + ns + "/checkout: v3 rolled back at step 1/3: v2 100%, v3 0%",
	}
	var subjects []string
	commits := map[string]bool{}
	for _, line := range strings.Split(log, "\n") {
		sha, subject, _ := strings.Cut(line, " ")
		subjects = append(subjects, subject)
		commits["main@sha1:"+sha] = true
	}
	if diff := cmp.Diff(want, subjects); diff != "" {
		t.Errorf("commits (-want +got):\n%s", diff)
	}
	if !cmp.Equal(commits, revisions) {
		t.Errorf("commits %v, revisions in the history %v", commits, revisions)
	}
	// Each commit says why.
	body := gittest.Git(t, clone, "log", "-1", "--format=%b")
	if !strings.Contains(body, "Rolled back v3 at step 1/3: webhook change-freeze aborted it (409 Conflict).") {
		t.Errorf("the rollback's commit message:\n%s", body)
	}
	body = gittest.Git(t, clone, "log", "-1", "--skip=2", "--format=%b")
	if !strings.Contains(body, "Step 3/3 passed. Promoting v2.") {
		t.Errorf("the promotion's commit message:\n%s", body)
	}
}

// TestRolloutRunsANamedExperiment gates a step by an experiment made by
// kubectl iter8-run launch: until it exists the Route says so; then its
// spec runs afresh as the step's experiment.
func TestRolloutRunsANamedExperiment(t *testing.T) {
	c, ns := setup(t)
	startController(t, ns, nil)
	versionObjects(t, c, ns, true, true)
	cand := newCandidate(t)
	route := rolloutRoute(ns,
		v1alpha1.RolloutStep{Weight: ptr.To[int32](40), Analysis: &v1alpha1.Analysis{Experiment: "checkout-slos"}},
		v1alpha1.RolloutStep{Weight: ptr.To[int32](100), Pause: &v1alpha1.Pause{UntilResumed: true}},
	)
	if err := c.Create(t.Context(), route); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Route says the experiment is missing", func() (bool, string) {
		c := apimeta.FindStatusCondition(getRoute(t, c, ns, "checkout").Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Reason == reconcile.ReasonAnalysisFailed &&
			strings.Contains(c.Message, "spec.rollout.steps[0].analysis.experiment: experiment checkout-slos was not found in namespace "+ns), fmt.Sprint(c)
	})

	// Launched as kubectl iter8-run launch does; the test's kubelet runs
	// its Job too.
	spec := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: checkout-slos}
spec:
  versions: [{name: v2}]
  tasks:
  - {task: http, with: {url: %q, numRequests: 15}}
  - {task: assess, with: {SLOs: {upper: [{metric: http/error-rate, limit: 0}]}}}
`, cand.URL)
	exp, err := experiment.Parse("checkout-slos.yaml", "", []byte(spec), tasks.Registry())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := runner.Objects(exp, []byte(spec), runner.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Launch(t.Context(), env.Client, objs); err != nil {
		t.Fatal(err)
	}
	k := startKubelet(t, c, ns)
	r := waitPhase(t, c, ns, v1alpha1.RolloutPaused, v1alpha1.StagePausing)
	step := "checkout-v2-" + r.Status.Rollout.ID[:6] + "-s1"
	stored, err := runner.Get(t.Context(), env.Client, ns, step)
	if err != nil || stored.Result == nil {
		t.Fatalf("the step's experiment %s: %v", step, err)
	}
	if n, _ := stored.Result.Value("v2", "http/request-count"); n != 15 || !stored.Result.SLOsSatisfied() {
		t.Errorf("the step ran %g requests; SLOs satisfied %v", n, stored.Result.SLOsSatisfied())
	}
	if _, runs, _ := k.ran(); runs[step] != 1 {
		t.Errorf("runs: %v", runs)
	}
	// Its steps cut down to one while at step 2: it goes on from the last.
	updateRoute(t, c, ns, "checkout", func(r *v1alpha1.Route) { r.Spec.Rollout.Steps = r.Spec.Rollout.Steps[1:] })
	act(t, c, ns, reconcile.ActionResume)
	waitPhase(t, c, ns, v1alpha1.RolloutSucceeded, v1alpha1.StageDone)
	if w := weights(t, c, ns, "checkout"); w["v2"] != 100 {
		t.Errorf("promoted: %v", w)
	}
}

// TestRolloutFailsWithItsExperiment: an experiment that fails, or that
// has no verdict within its timeout, fails the rollout, which rolls back.
func TestRolloutFailsWithItsExperiment(t *testing.T) {
	failing, err := json.Marshal(map[string]any{
		"versions": []any{map[string]any{"name": "v2"}},
		"tasks": []any{map[string]any{"task": "ready", "with": map[string]any{
			"timeout": "1s", "objects": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "missing"}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		analysis *v1alpha1.Analysis
		kubelet  bool
		want     string
	}{
		"fails":     {&v1alpha1.Analysis{Spec: &apiextensionsv1.JSON{Raw: failing}}, true, "failed: task 1 (ready)"},
		"times out": {&v1alpha1.Analysis{Spec: analysis(t, "http://127.0.0.1:1").Spec, Timeout: &metav1.Duration{Duration: time.Second}}, false, "no verdict within its timeout of 1s"},
	} {
		t.Run(name, func(t *testing.T) {
			c, ns := setup(t)
			startController(t, ns, nil)
			versionObjects(t, c, ns, true, true)
			if tc.kubelet {
				startKubelet(t, c, ns)
			}
			if err := c.Create(t.Context(), rolloutRoute(ns, v1alpha1.RolloutStep{Weight: ptr.To[int32](10), Analysis: tc.analysis})); err != nil {
				t.Fatal(err)
			}
			r := waitPhase(t, c, ns, v1alpha1.RolloutFailed, v1alpha1.StageDone)
			if w := weights(t, c, ns, "checkout"); w["v1"] != 100 || w["v2"] != 0 {
				t.Errorf("after the failure: %v", w)
			}
			if st := r.Status.Rollout; st.Verdict != "Failed" || !strings.Contains(st.Message, tc.want) {
				t.Errorf("verdict %q, message %q; want it to say %q", st.Verdict, st.Message, tc.want)
			}
		})
	}
}
