package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
	"github.com/iter8-tools/iter8/pkg/runner"
	"github.com/iter8-tools/iter8/pkg/tasks"
	"github.com/iter8-tools/iter8/pkg/tasks/notify"
	"github.com/iter8-tools/iter8/pkg/version"
)

// AnnotationAction asks the controller to act on a Route's rollout: its
// value is VERB/NONCE, with VERB resume, promote or abort (see Action);
// the controller acts once per value, and records it in
// status.rollout.lastHandledAction. `kubectl iter8-route resume`,
// `promote` and `abort` set it.
const AnnotationAction = "route.iter8.tools/action"

// Action is what a person asks of a rollout.
type Action string

// The actions.
const (
	// ActionResume ends the pause of the current step.
	ActionResume Action = "resume"
	// ActionPromote promotes the candidate now, whatever step it is at.
	ActionPromote Action = "promote"
	// ActionAbort rolls the candidate back now.
	ActionAbort Action = "abort"
)

// Actions lists every action.
var Actions = []Action{ActionResume, ActionPromote, ActionAbort}

// Timings of rollouts.
const (
	// DefaultAnalysisTimeout bounds a step's experiment when its analysis
	// sets no timeout.
	DefaultAnalysisTimeout = 10 * time.Minute
	// analysisPoll is how often a running experiment's result is read.
	analysisPoll = time.Second
	// webhookRetry is how soon a webhook that held a step is asked again.
	webhookRetry = 5 * time.Second
	// webhookTimeout bounds a call to a webhook or a notification.
	webhookTimeout = 10 * time.Second
	// rolloutNext requeues a rollout that can move on at once: one
	// transition per reconcile, each persisted before the next acts.
	rolloutNext = time.Millisecond
	// maxRolloutHistory bounds status.rollout.history, as the CRD does.
	maxRolloutHistory = 64
)

// rollout drives a Route's rollout. progress runs before the routing is
// written: it starts the rollout once the candidate is ready, acts on a
// person's action, and checks the current step's gates (the analysis, the
// pause, the webhooks), moving to the next stage when they allow; it
// returns the step to render. settle runs once the routing is written: a
// step, promotion or rollback that is live moves on to its gates, or to
// the end.
//
// Each transition is recorded in status.rollout and persisted before the
// next acts (the reconcile requeues at once), and everything a transition
// does is idempotent: experiments have names derived from the rollout's ID
// and step and are created only if missing, a verdict once recorded is
// never read again, and rendering the same step writes the same objects
// (so a Git sink makes no second commit). A controller killed at any
// moment resumes where the persisted status says.
type rollout struct {
	r     *RouteReconciler
	route *v1alpha1.Route
	st    *v1alpha1.RolloutStatus
	// requeue is how soon the Route must be reconciled again; 0: no need.
	requeue time.Duration
	// records are the history records added by this reconcile, notified
	// once the status holding them is persisted.
	records []v1alpha1.RolloutRecord
}

// newRollout returns the rollout of a Route that has one, creating its
// status for a new candidate; nil without spec.rollout.
func newRollout(r *RouteReconciler, route *v1alpha1.Route) *rollout {
	if route.Spec.Rollout == nil {
		route.Status.Rollout = nil
		return nil
	}
	c := route.Spec.CandidateIndex()
	if c < 0 {
		return nil // not two versions: validation stalls the Route
	}
	cand := route.Spec.Versions[c].Name
	st := route.Status.Rollout
	if st == nil || st.Candidate != cand {
		st = &v1alpha1.RolloutStatus{Candidate: cand, ID: rolloutID(route, cand), Phase: v1alpha1.RolloutWaiting}
		route.Status.Rollout = st
	}
	ro := &rollout{r: r, route: route, st: st}
	if st.Step > ro.steps() {
		// The steps were edited down past the current one: it goes on
		// from the last.
		st.Step = ro.steps()
	}
	return ro
}

// rolloutID identifies a rollout of cand: the same across restarts, new
// for each candidate and each generation that introduced it.
func rolloutID(route *v1alpha1.Route, cand string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", route.UID, cand, route.Generation))
	return hex.EncodeToString(sum[:])[:10]
}

// steps is the number of steps.
func (ro *rollout) steps() int32 { return int32(len(ro.route.Spec.Rollout.Steps)) }

// spec is the spec of the current step.
func (ro *rollout) spec() *v1alpha1.RolloutStep {
	return &ro.route.Spec.Rollout.Steps[ro.st.Step-1]
}

// step is what to render for the rollout's state.
func (ro *rollout) step() *render.Step {
	st := ro.st
	s := &render.Step{Weight: st.Weight, Widened: st.Widened}
	switch {
	case st.Phase == v1alpha1.RolloutWaiting:
		s.Label = st.Candidate + " waiting to be ready"
	case st.Phase == v1alpha1.RolloutSucceeded:
		s.Label = st.Candidate + " promoted"
	case st.Phase == v1alpha1.RolloutRolledBack || st.Phase == v1alpha1.RolloutFailed:
		s.Withdrawn = true
		s.Label = fmt.Sprintf("%s rolled back at step %d/%d", st.Candidate, st.Step, ro.steps())
	default:
		s.Label = fmt.Sprintf("%s step %d/%d", st.Candidate, st.Step, ro.steps())
	}
	if n := len(st.History); n > 0 {
		s.Reason = st.History[n-1].Message
	}
	return s
}

// enter moves to a stage, in a phase, saying why.
func (ro *rollout) enter(stage v1alpha1.RolloutStage, phase v1alpha1.RolloutPhase, msg string) {
	now := metav1.Now()
	ro.st.Stage, ro.st.Phase, ro.st.StageTime, ro.st.Message = stage, phase, &now, msg
	ro.soon(rolloutNext)
}

// record adds what happened to the history.
func (ro *rollout) record(revision, msg string) {
	rec := v1alpha1.RolloutRecord{Time: metav1.NowMicro(), Step: ro.st.Step, Phase: ro.st.Phase, Weight: ro.st.Weight, Revision: revision, Message: msg}
	ro.st.History = append(ro.st.History, rec)
	if n := len(ro.st.History); n > maxRolloutHistory {
		ro.st.History = ro.st.History[n-maxRolloutHistory:]
	}
	ro.records = append(ro.records, rec)
}

// soon asks for a reconcile within d.
func (ro *rollout) soon(d time.Duration) {
	if ro.requeue == 0 || d < ro.requeue {
		ro.requeue = d
	}
}

// toStep enters step n (from 1) of the rollout: its routing is written
// next.
func (ro *rollout) toStep(n int32, why string) {
	st := ro.st
	st.Step, st.Experiment, st.Verdict = n, "", ""
	s := ro.spec()
	if s.Weight != nil {
		st.Weight, st.Widened = *s.Weight, true
	}
	ro.enter(v1alpha1.StageApplying, v1alpha1.RolloutProgressing, fmt.Sprintf("applying step %d/%d", n, ro.steps()))
	ro.record("", strings.TrimSpace(why+fmt.Sprintf(" Step %d/%d: %s %d%%.", n, ro.steps(), st.Candidate, st.Weight)))
}

// promote enters the promotion: the candidate takes all traffic.
func (ro *rollout) promote(why string) {
	ro.st.Weight, ro.st.Widened = 100, true
	ro.enter(v1alpha1.StagePromoting, v1alpha1.RolloutSucceeded, "promoting "+ro.st.Candidate)
	ro.record("", why)
}

// rollBack enters the rollback: the primary takes all traffic.
func (ro *rollout) rollBack(phase v1alpha1.RolloutPhase, why string) {
	ro.st.Weight, ro.st.Widened = 0, false
	ro.enter(v1alpha1.StageRollingBack, phase, why)
	ro.record("", why)
}

// progress starts the rollout, acts on a pending action and checks the
// current step's gates; it returns the step to render.
func (ro *rollout) progress(ctx context.Context, ready sets.Set[string]) (*render.Step, error) {
	st := ro.st
	if st.Phase == v1alpha1.RolloutWaiting {
		if !ready.Has(st.Candidate) {
			st.Message = fmt.Sprintf("waiting for %s to be ready", st.Candidate)
			return ro.step(), nil
		}
		ro.toStep(1, fmt.Sprintf("Rollout %s of %s started.", st.ID, st.Candidate))
		return ro.step(), nil
	}
	if ro.act() || st.Phase.Done() {
		return ro.step(), nil
	}
	var err error
	switch st.Stage {
	case v1alpha1.StageAnalysing:
		err = ro.analyse(ctx)
	case v1alpha1.StagePausing:
		ro.pause()
	case v1alpha1.StageConfirming:
		ro.confirm(ctx)
	}
	return ro.step(), err
}

// act carries out a pending action; it reports whether the rollout moved.
func (ro *rollout) act() bool {
	value := ro.route.Annotations[AnnotationAction]
	st := ro.st
	if value == "" || value == st.LastHandledAction {
		return false
	}
	st.LastHandledAction = value
	verb, _, _ := strings.Cut(value, "/")
	if st.Phase.Done() {
		st.Message = fmt.Sprintf("%s ignored: the rollout of %s is over (%s)", verb, st.Candidate, st.Phase)
		return false
	}
	switch Action(verb) {
	case ActionAbort:
		ro.rollBack(v1alpha1.RolloutRolledBack, fmt.Sprintf("Aborted at step %d/%d by %s.", st.Step, ro.steps(), AnnotationAction))
		return true
	case ActionPromote:
		ro.promote(fmt.Sprintf("Promoted at step %d/%d by %s.", st.Step, ro.steps(), AnnotationAction))
		return true
	case ActionResume:
		if st.Stage == v1alpha1.StagePausing {
			ro.record("", fmt.Sprintf("Step %d/%d resumed by %s.", st.Step, ro.steps(), AnnotationAction))
			ro.afterPause()
			return true
		}
		st.Message = fmt.Sprintf("resume ignored: step %d/%d is not paused (%s)", st.Step, ro.steps(), st.Stage)
	default:
		st.Message = fmt.Sprintf("annotation %s: unknown action %q: allowed are resume, promote and abort", AnnotationAction, verb)
	}
	return false
}

// settle moves a written step, promotion or rollback on once its routing
// is live.
func (ro *rollout) settle(res sinkResult) {
	st := ro.st
	if !res.live {
		return
	}
	switch st.Stage {
	case v1alpha1.StageApplying:
		ro.record(res.revision, fmt.Sprintf("Step %d/%d live: %s %d%%.", st.Step, ro.steps(), st.Candidate, st.Weight))
		ro.afterApply()
	case v1alpha1.StagePromoting:
		ro.enter(v1alpha1.StageDone, v1alpha1.RolloutSucceeded, fmt.Sprintf("%s is promoted", st.Candidate))
		ro.record(res.revision, fmt.Sprintf("%s promoted: it takes all traffic.", st.Candidate))
		ro.requeue = 0
	case v1alpha1.StageRollingBack:
		msg := st.Message
		ro.enter(v1alpha1.StageDone, st.Phase, msg)
		ro.record(res.revision, fmt.Sprintf("%s rolled back: the primary takes all traffic.", st.Candidate))
		ro.requeue = 0
	}
}

// afterApply enters the first gate of the live step.
func (ro *rollout) afterApply() {
	if ro.spec().Analysis != nil {
		ro.enter(v1alpha1.StageAnalysing, v1alpha1.RolloutProgressing, fmt.Sprintf("analysing step %d/%d", ro.st.Step, ro.steps()))
		return
	}
	ro.afterAnalysis()
}

// afterAnalysis enters the pause of the step, or what follows it.
func (ro *rollout) afterAnalysis() {
	p := ro.spec().Pause
	switch {
	case p == nil:
		ro.afterPause()
	case p.UntilResumed:
		ro.enter(v1alpha1.StagePausing, v1alpha1.RolloutPaused, fmt.Sprintf("step %d/%d paused until `kubectl iter8-route resume`", ro.st.Step, ro.steps()))
		ro.requeue = 0
	default:
		ro.enter(v1alpha1.StagePausing, v1alpha1.RolloutPaused, fmt.Sprintf("step %d/%d paused for %s", ro.st.Step, ro.steps(), p.Duration.Duration))
		ro.requeue = p.Duration.Duration
	}
}

// afterPause enters the webhooks of the step, or what follows them.
func (ro *rollout) afterPause() {
	if len(ro.spec().Webhooks) > 0 {
		ro.enter(v1alpha1.StageConfirming, v1alpha1.RolloutProgressing, fmt.Sprintf("asking the webhooks of step %d/%d", ro.st.Step, ro.steps()))
		return
	}
	ro.next(fmt.Sprintf("Step %d/%d passed.", ro.st.Step, ro.steps()))
}

// next enters the next step, or the promotion after the last.
func (ro *rollout) next(why string) {
	if ro.st.Step < ro.steps() {
		ro.toStep(ro.st.Step+1, why)
		return
	}
	ro.promote(why + fmt.Sprintf(" Promoting %s.", ro.st.Candidate))
}

// pause ends a timed pause that is over.
func (ro *rollout) pause() {
	p := ro.spec().Pause
	if p == nil || p.UntilResumed {
		return
	}
	left := time.Until(ro.st.StageTime.Add(p.Duration.Duration))
	if left > 0 {
		ro.soon(left)
		return
	}
	ro.afterPause()
}

// analyse creates the step's experiment if missing, and reads its verdict.
func (ro *rollout) analyse(ctx context.Context) error {
	st, a := ro.st, ro.spec().Analysis
	if st.Verdict != "" { // recorded before a restart: never read again
		return ro.verdict()
	}
	if st.Experiment == "" {
		name := ro.experimentName()
		if err := ro.r.launchAnalysis(ctx, ro.route, name, a, ro.stepPath()); err != nil {
			return err
		}
		st.Experiment = name
		st.Message = fmt.Sprintf("analysing step %d/%d: experiment %s runs", st.Step, ro.steps(), name)
		ro.soon(analysisPoll)
		return nil
	}
	exp, err := runner.Get(ctx, ro.r.Kube, ro.route.Namespace, st.Experiment)
	if errors.Is(err, runner.ErrNotFound) {
		ro.rollBack(v1alpha1.RolloutFailed, fmt.Sprintf("Step %d/%d failed: its experiment %s was deleted before its verdict.", st.Step, ro.steps(), st.Experiment))
		return nil
	}
	if err != nil {
		return retry(ReasonReconciliationFailed, "reading experiment %s of step %d: %w", st.Experiment, st.Step, err)
	}
	res := exp.Result
	switch {
	case res != nil && res.Failed:
		st.Verdict = v1alpha1.VerdictFailed
		ro.record("", fmt.Sprintf("Experiment %s of step %d/%d failed: %s", st.Experiment, st.Step, ro.steps(), res.Error))
		ro.rollBack(v1alpha1.RolloutFailed, fmt.Sprintf("Rolled back %s at step %d/%d: experiment %s failed: %s", st.Candidate, st.Step, ro.steps(), st.Experiment, res.Error))
		return nil
	case res != nil && res.Completed:
		if res.SLOsSatisfied() {
			st.Verdict = v1alpha1.VerdictPassed
			ro.record("", fmt.Sprintf("Experiment %s of step %d/%d passed: every SLO holds.", st.Experiment, st.Step, ro.steps()))
		} else {
			st.Verdict = v1alpha1.VerdictFailed
			ro.record("", fmt.Sprintf("Experiment %s of step %d/%d missed its SLOs: %s.", st.Experiment, st.Step, ro.steps(), strings.Join(res.UnmetSLOs(), "; ")))
		}
		return ro.verdict()
	}
	ended, failure, err := runner.JobStatus(ctx, ro.r.Kube, ro.route.Namespace, st.Experiment)
	if err != nil {
		return retry(ReasonReconciliationFailed, "reading the Job of experiment %s: %w", st.Experiment, err)
	}
	timeout := DefaultAnalysisTimeout
	if a.Timeout != nil {
		timeout = a.Timeout.Duration
	}
	switch {
	case ended && failure == "":
		failure = "its Job completed without a result"
	case !ended && time.Since(exp.Created.Time) > timeout:
		failure = fmt.Sprintf("no verdict within its timeout of %s", timeout)
	}
	if failure != "" {
		st.Verdict = v1alpha1.VerdictFailed
		ro.rollBack(v1alpha1.RolloutFailed, fmt.Sprintf("Rolled back %s at step %d/%d: experiment %s: %s", st.Candidate, st.Step, ro.steps(), st.Experiment, failure))
		return nil
	}
	ro.soon(analysisPoll)
	return nil
}

// verdict acts on the recorded verdict of the step's experiment.
func (ro *rollout) verdict() error {
	st := ro.st
	if st.Verdict == v1alpha1.VerdictPassed {
		ro.afterAnalysis()
		return nil
	}
	why := st.Message
	if n := len(st.History); n > 0 {
		why = st.History[n-1].Message
	}
	ro.rollBack(v1alpha1.RolloutRolledBack, fmt.Sprintf("Rolled back %s at step %d/%d: %s", st.Candidate, st.Step, ro.steps(), why))
	return nil
}

// experimentName names the experiment of the current step: after the
// Route, the candidate, the rollout and the step, within
// runner.MaxNameLength.
func (ro *rollout) experimentName() string {
	suffix := fmt.Sprintf("-%s-s%d", ro.st.ID[:6], ro.st.Step)
	base := ro.route.Name + "-" + ro.st.Candidate
	if len(base)+len(suffix) > runner.MaxNameLength {
		base = strings.TrimRight(base[:runner.MaxNameLength-len(suffix)], "-.")
	}
	return base + suffix
}

// stepPath is the field path of the current step's analysis.
func (ro *rollout) stepPath() string {
	return fmt.Sprintf("spec.rollout.steps[%d].analysis", ro.st.Step-1)
}

// confirm asks the step's webhooks, in order, whether it may advance.
func (ro *rollout) confirm(ctx context.Context) {
	st := ro.st
	for _, h := range ro.spec().Webhooks {
		code, err := ro.r.post(ctx, h.URL, nil, ro.event(st.Message))
		switch {
		case err == nil && code >= 200 && code < 300:
			continue
		case err == nil && code == http.StatusConflict:
			ro.rollBack(v1alpha1.RolloutRolledBack, fmt.Sprintf("Rolled back %s at step %d/%d: webhook %s aborted it (409 Conflict).", st.Candidate, st.Step, ro.steps(), h.Name))
			return
		case err == nil:
			st.Message = fmt.Sprintf("step %d/%d held by webhook %s: it answered %d", st.Step, ro.steps(), h.Name, code)
		default:
			st.Message = fmt.Sprintf("step %d/%d held by webhook %s: %v", st.Step, ro.steps(), h.Name, err)
		}
		st.Phase = v1alpha1.RolloutPaused
		ro.soon(webhookRetry)
		return
	}
	ro.next(fmt.Sprintf("Step %d/%d passed: its webhooks agreed.", st.Step, ro.steps()))
}

// event is what webhooks and notifications are sent.
func (ro *rollout) event(msg string) v1alpha1.RolloutEvent {
	st := ro.st
	return v1alpha1.RolloutEvent{
		Route: ro.route.Namespace + "/" + ro.route.Name, Candidate: st.Candidate,
		Step: st.Step, Steps: ro.steps(), Weight: st.Weight, Phase: st.Phase, Message: msg,
	}
}

// notify tells the rollout's notification webhooks of the records this
// reconcile added; a failure is an event, never a reason to stop.
func (ro *rollout) notify(ctx context.Context) {
	for _, rec := range ro.records {
		ro.r.event(ro.route, corev1.EventTypeNormal, "Rollout"+string(rec.Phase), rec.Message)
		for i, n := range ro.route.Spec.Rollout.Notify {
			if err := ro.r.notify(ctx, ro.route, n, ro.event(rec.Message)); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "notifying", "notification", i)
				ro.r.event(ro.route, corev1.EventTypeWarning, "NotificationFailed", fmt.Sprintf("spec.rollout.notify[%d]: %v", i, err))
			}
		}
	}
	ro.records = nil
}

// notify sends one notification.
func (r *RouteReconciler) notify(ctx context.Context, route *v1alpha1.Route, n v1alpha1.Notification, ev v1alpha1.RolloutEvent) error {
	target, token := n.URL, ""
	if n.SecretRef != nil {
		var s corev1.Secret
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: route.Namespace, Name: n.SecretRef.Name}, &s); err != nil {
			return fmt.Errorf("reading the Secret of secretRef: %w", err)
		}
		target, token = strings.TrimSpace(string(s.Data["url"])), strings.TrimSpace(string(s.Data["token"]))
		if target == "" {
			return fmt.Errorf("the Secret %s of secretRef has no key url", n.SecretRef.Name)
		}
	}
	header := http.Header{}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	var body any = ev
	if n.Format != v1alpha1.NotificationJSON {
		body = map[string]string{"text": fmt.Sprintf("Route %s, rollout of %s: %s", ev.Route, ev.Candidate, ev.Message)}
	}
	code, err := r.post(ctx, target, header, body)
	if err == nil && (code < 200 || code >= 300) {
		err = fmt.Errorf("the server answered %d", code)
	}
	return err
}

// post sends body as JSON (see notify.Send) and returns the answer's
// status code.
func (r *RouteReconciler) post(ctx context.Context, rawURL string, header http.Header, body any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	target, err := url.Parse(rawURL)
	if err != nil {
		return 0, errors.New("the URL does not parse")
	}
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", ControllerName+"/"+version.Version)
	code, _, _, err := notify.Send(ctx, http.MethodPost, target, header, b, webhookTimeout)
	return code, err
}

// launchAnalysis creates the experiment of a step, named name, as a Job
// owned by the Route, unless it exists: the spec of the experiment the
// analysis names, or its inline spec.
func (r *RouteReconciler) launchAnalysis(ctx context.Context, route *v1alpha1.Route, name string, a *v1alpha1.Analysis, path string) error {
	var doc map[string]any
	source := path + ".spec"
	if a.Experiment != "" {
		source = fmt.Sprintf("experiment %s (%s.experiment)", a.Experiment, path)
		named, err := runner.Get(ctx, r.Kube, route.Namespace, a.Experiment)
		if errors.Is(err, runner.ErrNotFound) {
			return retry(ReasonAnalysisFailed, "%s.experiment: experiment %s was not found in namespace %s: launch it with kubectl iter8-run launch", path, a.Experiment, route.Namespace)
		}
		if err != nil {
			return retry(ReasonAnalysisFailed, "%s.experiment: %w", path, err)
		}
		if err := yaml.Unmarshal(named.Spec, &doc); err != nil {
			return stalled(ReasonAnalysisFailed, "%s: %w", source, err)
		}
	} else {
		var spec map[string]any
		if err := json.Unmarshal(a.Spec.Raw, &spec); err != nil {
			return stalled(ReasonInvalidRoute, "%s: %w", source, err)
		}
		doc = map[string]any{"apiVersion": "iter8.tools/v1alpha1", "kind": "Experiment", "spec": spec}
	}
	meta, _ := doc["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["name"] = name
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	labels[LabelRolloutRoute] = route.Name
	meta["labels"] = labels
	doc["metadata"] = meta
	data, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	exp, err := experiment.Parse(source, "", data, tasks.Registry())
	if err != nil {
		return stalled(ReasonAnalysisFailed, "%w", err)
	}
	if files, err := runner.ReadFiles(exp, ""); err != nil || len(files) > 0 {
		return stalled(ReasonAnalysisFailed, "%s: the experiment reads files, which an analysis cannot carry: use an experiment without them", source)
	}
	objs, err := runner.Objects(exp, data, runner.Options{Namespace: route.Namespace, Image: r.AnalysisImage})
	if err != nil {
		return stalled(ReasonAnalysisFailed, "%s: %w", source, err)
	}
	secret := objs[0].(*corev1.Secret)
	secret.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "Route", Name: route.Name, UID: route.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
	if err := runner.Create(ctx, r.Kube, objs); err != nil {
		return retry(ReasonAnalysisFailed, "creating experiment %s: %w", name, err)
	}
	return nil
}

// LabelRolloutRoute names, on the experiments of a rollout, the Route
// whose step they analyse.
const LabelRolloutRoute = "iter8.tools/rollout-route"
