// Package render turns a Route into the routing resources of a service mesh.
//
// Rendering is a pure function of the Route and the set of versions that are
// ready: Render resolves the traffic every version gets (the Plan), the same
// way for every provider, and the provider's Renderer turns the Plan into
// objects. Both `kubectl iter8-route generate` and the in-cluster reconciler
// call Render. Adding a provider is one file: a Renderer, and its entry in
// renderers.
package render

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// Labels set on every rendered object.
const (
	// LabelManagedBy marks objects iter8 renders.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelRoute names the Route an object was rendered from.
	LabelRoute = "iter8.tools/route"
)

// Renderer renders the routing resources of one provider. What a provider
// can render is the API's to say (v1alpha1.ProviderStrategies and
// Route.Validate).
type Renderer interface {
	// Render returns the provider's objects for a valid, defaulted plan, in
	// a stable order, in the Route's namespace and labelled with
	// LabelManagedBy and LabelRoute.
	Render(p *Plan) ([]*unstructured.Unstructured, error)
}

// renderers holds the renderer of every provider.
var renderers = map[v1alpha1.Provider]Renderer{
	v1alpha1.ProviderIstio:           istio{},
	v1alpha1.ProviderGatewayAPI:      gatewayAPI{},
	v1alpha1.ProviderTraefik:         traefik{},
	v1alpha1.ProviderKServe:          kserve{},
	v1alpha1.ProviderKServeModelMesh: modelMesh{},
}

// For returns the renderer of a provider.
func For(p v1alpha1.Provider) (Renderer, bool) {
	r, ok := renderers[p]
	return r, ok
}

// ErrInvalid is wrapped by the errors Render returns for a Route that is
// not valid: it cannot render until its spec changes.
var ErrInvalid = errors.New("invalid Route")

// defaulted validates r (Route.Validate) and returns a defaulted copy of
// it, or its problems.
func defaulted(r *v1alpha1.Route) (*v1alpha1.Route, field.ErrorList) {
	if errs := r.Validate(); len(errs) > 0 {
		return nil, errs
	}
	d := r.DeepCopy()
	d.Default()
	return d, nil
}

// PlanOf validates a Route (Route.Validate) and resolves a defaulted copy of
// it against the versions in ready and the rollout's step (nil: none has
// started), or returns its problems.
func PlanOf(r *v1alpha1.Route, ready sets.Set[string], step *Step) (*Plan, field.ErrorList) {
	d, errs := defaulted(r)
	if len(errs) > 0 {
		return nil, errs
	}
	return NewPlan(d, ready, step), nil
}

// Step is the traffic a Route's rollout gives its candidate, the version
// that is not the primary (see v1alpha1.Rollout). The rollout decides it;
// the Plan applies it like any weight: only to a ready candidate.
type Step struct {
	// Weight is the candidate's percentage of the requests no match takes;
	// the primary takes the rest.
	Weight int32
	// Widened makes a canary's default rule weighted: the candidate takes
	// Weight of the requests its match does not take.
	Widened bool
	// Withdrawn takes every request from the candidate, its matches too:
	// a rolled-back canary.
	Withdrawn bool
	// Label names the rollout's state, e.g. "v2 step 2/3" or "v2
	// promoted": rendered objects carry it in AnnotationRollout, so that
	// each step changes what is written (and is a commit, for a Git
	// sink), and commit subjects start with it.
	Label string
	// Reason says why the rollout reached the step, for the commit's
	// message: the verdict that passed the step before, or what failed.
	Reason string
}

// AnnotationRollout holds the Step's label on every object rendered for a
// Route with a rollout.
const AnnotationRollout = "iter8.tools/rollout"

// Plan is a Route resolved against the versions that are ready: the traffic
// each version gets. Every provider renders the same plan, so traffic rules
// are decided here once:
//
//   - Versions that are not ready get weight 0, no match and no mirror.
//   - blue-green: the weights of the ready versions, as percentages that sum
//     to 100.
//   - canary and abn: the primary takes every request no match takes; each
//     ready version gets its matches (canary) or the requests whose
//     x-iter8-version header names it (abn).
//   - mirror: the primary takes all requests; each ready version gets a copy
//     of its weight's percentage of them.
//   - With a rollout, its Step sets the weights of primary and candidate
//     (blue-green, and a widened canary, whose candidate keeps its
//     matches); a withdrawn candidate gets nothing.
//   - When no ready version has any traffic, the primary takes it all, ready
//     or not: traffic stays where it was rather than nowhere.
type Plan struct {
	// Route is the defaulted Route.
	Route *v1alpha1.Route
	// Primary is the index of the primary in Route.Spec.Versions.
	Primary int
	// Weighted is true when the default rule splits traffic by Weight:
	// blue-green, or a widened canary; otherwise the primary alone takes
	// it.
	Weighted bool
	// Step is the rollout's step; nil without a rollout.
	Step *Step
	// Traffic is what each version gets, in the order of the Route's versions.
	Traffic []v1alpha1.VersionStatus
}

// NewPlan resolves a defaulted, valid Route against the ready versions and
// its rollout's step (nil before one starts, or without a rollout).
func NewPlan(r *v1alpha1.Route, ready sets.Set[string], step *Step) *Plan {
	s := &r.Spec
	p := &Plan{Route: r, Primary: s.PrimaryIndex(), Traffic: make([]v1alpha1.VersionStatus, len(s.Versions))}
	if s.Rollout != nil && step == nil {
		step = &Step{}
	}
	if s.Rollout != nil {
		p.Step = step
	}
	p.Weighted = s.Strategy == v1alpha1.StrategyBlueGreen || p.Step != nil && p.Step.Widened
	weights := make([]int32, len(s.Versions))
	for i, v := range s.Versions {
		t := &p.Traffic[i]
		t.Name, t.Ready = v.Name, ready.Has(v.Name)
		if !t.Ready || i == p.Primary && !p.Weighted {
			continue
		}
		if p.Step != nil {
			if i == p.Primary {
				weights[i] = 100 - p.Step.Weight
				continue
			}
			if p.Step.Withdrawn {
				continue
			}
			if p.Weighted {
				weights[i] = p.Step.Weight
			}
		}
		switch s.Strategy {
		case v1alpha1.StrategyBlueGreen:
			if v.Weight != nil {
				weights[i] = *v.Weight
			}
		case v1alpha1.StrategyCanary, v1alpha1.StrategyABN:
			t.Matched = true
		case v1alpha1.StrategyMirror:
			if v.Weight != nil {
				t.MirrorPercent = *v.Weight
			}
		}
	}
	if !p.Weighted {
		weights[p.Primary] = 100
	}
	percents := percentages(weights)
	if percents == nil {
		percents = make([]int32, len(weights))
		percents[p.Primary] = 100
	}
	for i := range p.Traffic {
		p.Traffic[i].Weight = percents[i]
	}
	return p
}

// percentages scales weights to whole percentages that sum to 100, giving
// the points lost to rounding to the largest remainders (the first on a
// tie). It returns nil when the weights sum to 0.
func percentages(weights []int32) []int32 {
	var sum int64
	for _, w := range weights {
		sum += int64(w)
	}
	if sum == 0 {
		return nil
	}
	out := make([]int32, len(weights))
	rem := make([]int64, len(weights))
	left := int64(100)
	for i, w := range weights {
		out[i] = int32(int64(w) * 100 / sum)
		rem[i] = int64(w) * 100 % sum
		left -= int64(out[i])
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(rem[b] - rem[a]) })
	for _, i := range order[:left] {
		out[i]++
	}
	return out
}

// version returns the spec of the i-th version.
func (p *Plan) version(i int) *v1alpha1.Version { return &p.Route.Spec.Versions[i] }

// Output is a rendered Route.
type Output struct {
	// Objects are the routing resources, in a stable order.
	Objects []*unstructured.Unstructured
	// Traffic is what each version gets, in the order of the Route's
	// versions: what the reconciler records in status.versions.
	Traffic []v1alpha1.VersionStatus
	// Step is the rollout's step rendered; nil without a rollout.
	Step *Step
}

// Summary describes the traffic in a line, e.g. "v1 80%, v2 20%",
// "v1 100%, v2 by match" or "v1 100%, v2 mirrored 10%".
func (o *Output) Summary() string {
	parts := make([]string, 0, len(o.Traffic))
	for _, t := range o.Traffic {
		s := t.Name + " " + Traffic(t)
		if !t.Ready {
			s += " (not ready)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Traffic describes a version's traffic in a word: "20%", "by match",
// "by match and 30%" (a widened canary) or "mirrored 10%".
func Traffic(t v1alpha1.VersionStatus) string {
	switch {
	case t.Matched && t.Weight > 0:
		return fmt.Sprintf("by match and %d%%", t.Weight)
	case t.Matched:
		return "by match"
	case t.MirrorPercent > 0:
		return fmt.Sprintf("mirrored %d%%", t.MirrorPercent)
	}
	return fmt.Sprintf("%d%%", t.Weight)
}

// CommitMessage is the message of a commit of o, rendered from route by the
// tool named by: a subject naming the application and its traffic, then
// where the objects come from.
//
// For a Route with a rollout, the subject names the step first, and the
// step's Reason follows the subject.
func (o *Output) CommitMessage(route *v1alpha1.Route, by string) string {
	app := route.Spec.App
	if app == "" {
		app = route.Name
	}
	subject, detail := o.Summary(), ""
	if o.Step != nil && o.Step.Label != "" {
		subject = o.Step.Label + ": " + subject
	}
	if o.Step != nil && o.Step.Reason != "" {
		detail = strings.TrimSpace(o.Step.Reason) + "\n\n"
	}
	return fmt.Sprintf("route %s/%s: %s\n\n%sRendered by %s from Route %s (provider %s, strategy %s).\n",
		route.Namespace, app, subject, detail, by, route.Name, route.Spec.Provider, route.Spec.Strategy)
}

// AllVersions returns the names of all the Route's versions: the ready set
// when readiness is not checked, as by generate, which renders the declared
// intent.
func AllVersions(r *v1alpha1.Route) sets.Set[string] {
	s := sets.New[string]()
	for _, v := range r.Spec.Versions {
		s.Insert(v.Name)
	}
	return s
}

// Render renders a Route for the versions in ready. It defaults a copy of
// the Route, validates it (an error wrapping ErrInvalid lists every
// problem), resolves the Plan and calls the provider's renderer. The Route
// must have a namespace.
func Render(r *v1alpha1.Route, ready sets.Set[string]) (*Output, error) {
	return RenderStep(r, ready, nil)
}

// RenderStep is Render at a step of the Route's rollout (nil: before it
// starts): the objects carry the step's label in AnnotationRollout.
func RenderStep(r *v1alpha1.Route, ready sets.Set[string], step *Step) (*Output, error) {
	p, errs := PlanOf(r, ready, step)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w %s: %w", ErrInvalid, r.Name, errs.ToAggregate())
	}
	if r.Namespace == "" {
		return nil, fmt.Errorf("%w %s: %w", ErrInvalid, r.Name, field.Required(field.NewPath("metadata", "namespace"), "the namespace of the rendered objects"))
	}
	objs, err := renderers[r.Spec.Provider].Render(p)
	if err != nil {
		return nil, fmt.Errorf("rendering Route %s for %s: %w", r.Name, r.Spec.Provider, err)
	}
	if p.Step != nil && p.Step.Label != "" {
		for _, o := range objs {
			a := o.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[AnnotationRollout] = p.Step.Label
			o.SetAnnotations(a)
		}
	}
	return &Output{Objects: objs, Traffic: p.Traffic, Step: p.Step}, nil
}

// objectMeta is the metadata of a rendered object.
func objectMeta(p *Plan, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: p.Route.Namespace,
		Labels:    map[string]string{LabelManagedBy: "iter8", LabelRoute: p.Route.Name},
	}
}

// serviceHost is the cluster-local name of a Service in the Route's namespace.
func serviceHost(p *Plan, name string) string {
	return name + "." + p.Route.Namespace + ".svc.cluster.local"
}

// cookieRegex is an RE2 expression matching a Cookie header that holds the
// cookie name=value, wherever it is in the header.
func cookieRegex(c *v1alpha1.CookieMatch) string {
	return `^(.*?;\s*)?` + regexp.QuoteMeta(c.Name) + "=" + regexp.QuoteMeta(c.Value) + `(;.*)?$`
}
