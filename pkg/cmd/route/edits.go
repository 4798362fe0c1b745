package route

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// An edit changes a Route's spec and describes the change in a line.
type edit func(r *v1alpha1.Route) (string, error)

// versionIndex finds a version by name; the error lists the versions.
func versionIndex(r *v1alpha1.Route, name string) (int, error) {
	i := slices.IndexFunc(r.Spec.Versions, func(v v1alpha1.Version) bool { return v.Name == name })
	if i < 0 {
		names := make([]string, len(r.Spec.Versions))
		for j, v := range r.Spec.Versions {
			names[j] = v.Name
		}
		return 0, fmt.Errorf("the Route %s has no version %q: its versions are %s", r.Name, name, strings.Join(names, ", "))
	}
	return i, nil
}

// parseWeights parses VERSION=N arguments.
func parseWeights(args []string) ([]string, map[string]int32, error) {
	var order []string
	weights := map[string]int32{}
	for _, a := range args {
		name, n, ok := strings.Cut(a, "=")
		w, err := strconv.ParseInt(n, 10, 32)
		if !ok || name == "" || err != nil || w < 0 || w > 100 {
			return nil, nil, fmt.Errorf("invalid weight %q: want VERSION=N with N from 0 to 100, e.g. v2=20", a)
		}
		if _, dup := weights[name]; dup {
			return nil, nil, fmt.Errorf("version %s is given two weights", name)
		}
		order = append(order, name)
		weights[name] = int32(w)
	}
	return order, weights, nil
}

// setWeights sets the weights of the versions named in order (blue-green:
// relative shares; mirror: percent copied).
func setWeights(order []string, weights map[string]int32) edit {
	return func(r *v1alpha1.Route) (string, error) {
		if s := r.Spec.Strategy; s != v1alpha1.StrategyBlueGreen && s != v1alpha1.StrategyMirror {
			return "", fmt.Errorf("the Route %s has strategy %s: weights are used only by blue-green and mirror (promote or abort move all traffic)", r.Name, s)
		}
		parts := make([]string, 0, len(order))
		for _, name := range order {
			i, err := versionIndex(r, name)
			if err != nil {
				return "", err
			}
			r.Spec.Versions[i].Weight = ptr.To(weights[name])
			parts = append(parts, fmt.Sprintf("%s=%d", name, weights[name]))
		}
		return "set weights " + strings.Join(parts, ", "), nil
	}
}

// allTrafficTo makes version i the primary with all traffic: blue-green
// with weight 100 on it and 0 on the others; a mirror keeps mirroring off.
func allTrafficTo(r *v1alpha1.Route, i int) {
	s := &r.Spec
	if s.Strategy != v1alpha1.StrategyMirror {
		s.Strategy = v1alpha1.StrategyBlueGreen
	}
	for j := range s.Versions {
		v := &s.Versions[j]
		v.Match = nil
		v.Primary = j == i && i != 0 // the first version is the primary by default
		switch {
		case s.Strategy == v1alpha1.StrategyMirror && j == i:
			v.Weight = nil
		case j == i:
			v.Weight = ptr.To[int32](100)
		default:
			v.Weight = ptr.To[int32](0)
		}
	}
}

// act asks the controller to act on the Route's rollout: it sets the
// action annotation to the action and the time, which makes the value new.
func act(r *v1alpha1.Route, a reconcile.Action, now time.Time) {
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	r.Annotations[reconcile.AnnotationAction] = string(a) + "/" + now.UTC().Format(time.RFC3339Nano)
}

// resume ends the pause of the current step of the Route's rollout.
func resume(now time.Time) edit {
	return func(r *v1alpha1.Route) (string, error) {
		if r.Spec.Rollout == nil {
			return "", fmt.Errorf("the Route %s has no rollout: only the steps of a rollout pause", r.Name)
		}
		act(r, reconcile.ActionResume, now)
		return "resume requested: the current step's pause ends", nil
	}
}

// promote makes the version the primary with all traffic; with a rollout,
// it asks the controller to promote the candidate now.
func promote(version string, now time.Time) edit {
	return func(r *v1alpha1.Route) (string, error) {
		i, err := versionIndex(r, version)
		if err != nil {
			return "", err
		}
		if r.Spec.Rollout != nil {
			if c := r.Spec.CandidateIndex(); i != c {
				return "", fmt.Errorf("the Route %s rolls out %s: promote it, not %s", r.Name, r.Spec.Versions[c].Name, version)
			}
			act(r, reconcile.ActionPromote, now)
			return fmt.Sprintf("promotion of %s requested: it takes all traffic once the controller writes it", version), nil
		}
		from := r.Spec.Strategy
		allTrafficTo(r, i)
		msg := fmt.Sprintf("promoted %s: the primary, with all traffic", version)
		if from != r.Spec.Strategy {
			msg += fmt.Sprintf(" (strategy %s, was %s)", r.Spec.Strategy, from)
		}
		return msg, nil
	}
}

// abort sends all traffic back to the primary; with a rollout, it asks the
// controller to roll the candidate back now.
func abort(now time.Time) edit {
	return func(r *v1alpha1.Route) (string, error) {
		i := r.Spec.PrimaryIndex()
		if r.Spec.Rollout != nil {
			act(r, reconcile.ActionAbort, now)
			return fmt.Sprintf("abort requested: the primary %s takes all traffic once the controller writes it", r.Spec.Versions[i].Name), nil
		}
		from := r.Spec.Strategy
		allTrafficTo(r, i)
		msg := fmt.Sprintf("aborted: all traffic to the primary %s", r.Spec.Versions[i].Name)
		if from != r.Spec.Strategy {
			msg += fmt.Sprintf(" (strategy %s, was %s)", r.Spec.Strategy, from)
		}
		return msg, nil
	}
}
