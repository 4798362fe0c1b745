// Package assess is the assess task: it checks service-level objectives
// (upper and lower limits on metrics) for every version and records the
// version × SLO satisfaction matrix in the result.
package assess

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// Name is the task's name in experiment.yaml.
const Name = "assess"

// Task is the assess task's parameters.
//
//	tasks:
//	- task: assess
//	  with:
//	    SLOs:
//	      upper:
//	      - metric: http/latency-p99
//	        limit: 50
//	      lower:
//	      - metric: http/throughput
//	        limit: 100
//	        versions: [v2]
type Task struct {
	// SLOs are the objectives.
	SLOs SLOs `json:"SLOs"`
}

// SLOs are upper and lower limits on metrics.
type SLOs struct {
	// Upper limits: a version satisfies one when its metric is at most the limit.
	Upper []Limit `json:"upper,omitempty"`
	// Lower limits: a version satisfies one when its metric is at least the limit.
	Lower []Limit `json:"lower,omitempty"`
}

// Limit is one SLO.
type Limit struct {
	// Metric names a metric recorded by an earlier task, e.g. http/error-rate.
	Metric string `json:"metric"`
	// Limit is the bound.
	Limit float64 `json:"limit"`
	// Versions restricts the SLO to some versions; default: all. For the
	// others the SLO counts as satisfied.
	Versions []string `json:"versions,omitempty"`
}

// New returns the zero parameters of the task.
func New() experiment.Task { return &Task{} }

// Validate checks that every SLO names a metric an earlier task records and
// versions of the experiment.
func (t *Task) Validate(vc *experiment.ValidationContext, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(t.SLOs.Upper)+len(t.SLOs.Lower) == 0 {
		errs = append(errs, field.Required(path.Child("SLOs"), "at least one upper or lower limit"))
	}
	known := make([]string, 0, len(vc.Metrics))
	for name, info := range vc.Metrics {
		if info.Type != experiment.HistogramType {
			known = append(known, name)
		}
	}
	slices.Sort(known)
	for kind, limits := range map[string][]Limit{"upper": t.SLOs.Upper, "lower": t.SLOs.Lower} {
		for i, l := range limits {
			p := path.Child("SLOs", kind).Index(i)
			if l.Metric == "" {
				errs = append(errs, field.Required(p.Child("metric"), "the metric to limit"))
			} else if !slices.Contains(known, l.Metric) {
				errs = append(errs, field.NotSupported(p.Child("metric"), l.Metric, known))
			}
			for j, v := range l.Versions {
				if !slices.Contains(vc.Versions, v) {
					errs = append(errs, field.NotSupported(p.Child("versions").Index(j), v, vc.Versions))
				}
			}
		}
	}
	return errs
}

// Metrics returns nil: assess records SLO results, not metrics.
func (t *Task) Metrics() []experiment.MetricInfo { return nil }

// Run evaluates the SLOs against the metrics recorded so far and replaces
// the result's SLO matrix. It fails when an SLO refers to a metric without a
// value for a version it applies to (the SLO then counts as not satisfied).
func (t *Task) Run(_ context.Context, r *experiment.Run) error {
	type slo struct {
		experiment.SLO
		versions []string
	}
	var all []slo
	for _, l := range t.SLOs.Upper {
		all = append(all, slo{experiment.SLO{Metric: l.Metric, Upper: &l.Limit}, l.Versions})
	}
	for _, l := range t.SLOs.Lower {
		all = append(all, slo{experiment.SLO{Metric: l.Metric, Lower: &l.Limit}, l.Versions})
	}
	out := &experiment.SLOResult{}
	for _, s := range all {
		out.SLOs = append(out.SLOs, s.SLO)
	}
	var missing []string
	for _, v := range r.Result.Versions {
		row := make([]bool, len(all))
		for i, s := range all {
			if len(s.versions) > 0 && !slices.Contains(s.versions, v.Name) {
				row[i] = true
				continue
			}
			x, ok := v.Metrics[s.Metric]
			if !ok {
				missing = append(missing, fmt.Sprintf("%s of version %s", s.Metric, v.Name))
				continue
			}
			row[i] = (s.Upper == nil || x <= *s.Upper) && (s.Lower == nil || x >= *s.Lower)
		}
		out.Satisfied = append(out.Satisfied, row)
	}
	r.Result.SLOs = out
	if len(missing) > 0 {
		return fmt.Errorf("no value for %v: an earlier task did not record it", missing)
	}
	return nil
}
