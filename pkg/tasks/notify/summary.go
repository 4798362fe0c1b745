package notify

import (
	"maps"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// Summary is what a notification says about the experiment: the data of the
// text and payloadTemplate templates and the client_payload of the github
// format. Its JSON field names are stable.
//
// It has at most ten fields because GitHub refuses a repository_dispatch
// whose client_payload has more than ten top-level properties.
type Summary struct {
	// Experiment is the experiment's name.
	Experiment string `json:"experiment"`
	// Namespace is the experiment's namespace when it runs in a cluster.
	Namespace string `json:"namespace,omitempty"`
	// Iteration is the number of the run being reported, from 1.
	Iteration int `json:"iteration"`
	// Completed is true when every task other than the notifying one has
	// ended (succeeded, failed or was skipped): a notify task at the end of
	// the experiment reports a completed run, one in the middle does not.
	Completed bool `json:"completed"`
	// Failed is true when a task failed or the run was interrupted.
	Failed bool `json:"failed"`
	// Error says why the run failed, when it did.
	Error string `json:"error,omitempty"`
	// SLOsSatisfied is true when every version satisfies every SLO assessed
	// so far, and when none was assessed (the if: condition "slos").
	SLOsSatisfied bool `json:"slosSatisfied"`
	// Versions are the versions under test, in spec order.
	Versions []VersionSummary `json:"versions"`
	// SLOs are the objectives assessed so far, in assessment order.
	SLOs []SLOSummary `json:"slos,omitempty"`
	// Tasks are the tasks' states, in spec order.
	Tasks []TaskSummary `json:"tasks"`
}

// VersionSummary is one version's metrics and SLO verdict.
type VersionSummary struct {
	// Name is the version's name.
	Name string `json:"name"`
	// Metrics maps metric names (e.g. http/latency-p99) to values.
	// Histograms are left out.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// SLOsSatisfied is true when the version satisfies every SLO assessed
	// so far, and when none was assessed (the if: map "slosByVersion").
	SLOsSatisfied bool `json:"slosSatisfied"`
}

// SLOSummary is one objective and the versions that satisfy it.
type SLOSummary struct {
	// Metric is the metric the objective limits.
	Metric string `json:"metric"`
	// Upper is the largest value allowed, if set.
	Upper *float64 `json:"upper,omitempty"`
	// Lower is the smallest value allowed, if set.
	Lower *float64 `json:"lower,omitempty"`
	// Objective is the SLO written out, e.g. "http/latency-p99 <= 50".
	Objective string `json:"objective"`
	// Satisfied maps each version's name to whether it satisfies the SLO.
	Satisfied map[string]bool `json:"satisfied"`
}

// TaskSummary is one task's state.
type TaskSummary struct {
	// Task is the task's name, e.g. http.
	Task string `json:"task"`
	// State is Pending, Running, Succeeded, Failed or Skipped.
	State experiment.TaskState `json:"state"`
	// Error says why the task failed or was skipped.
	Error string `json:"error,omitempty"`
}

// Summarize builds the summary of res. self is the index in res.Tasks of the
// notifying task, whose own state does not count towards Completed; pass -1
// to summarise the result of a run that has ended.
func Summarize(res *experiment.Result, self int) Summary {
	s := Summary{
		Experiment:    res.Experiment,
		Namespace:     res.Namespace,
		Iteration:     res.Iterations,
		Completed:     res.Completed,
		Failed:        res.Failed,
		Error:         res.Error,
		SLOsSatisfied: true,
		Versions:      make([]VersionSummary, 0, len(res.Versions)),
		Tasks:         make([]TaskSummary, 0, len(res.Tasks)),
	}
	if res.EndTime == nil {
		// The run has not ended: it is one more than those counted, and
		// complete when only the notifying task is still going.
		s.Iteration = res.Iterations + 1
		s.Completed = true
		for i, t := range res.Tasks {
			if i != self && (t.State == experiment.TaskPending || t.State == experiment.TaskRunning) {
				s.Completed = false
			}
		}
	}
	for _, t := range res.Tasks {
		s.Tasks = append(s.Tasks, TaskSummary{Task: t.Task, State: t.State, Error: t.Error})
	}

	// Satisfaction is read exactly as the if: condition environment reads
	// it, so that `if: not slos` and slosSatisfied never disagree.
	slos := res.SLOs
	if slos != nil {
		for _, o := range slos.SLOs {
			s.SLOs = append(s.SLOs, SLOSummary{
				Metric:    o.Metric,
				Upper:     o.Upper,
				Lower:     o.Lower,
				Objective: o.String(),
				Satisfied: map[string]bool{},
			})
		}
	}
	for i, v := range res.Versions {
		vs := VersionSummary{Name: v.Name, Metrics: maps.Clone(v.Metrics), SLOsSatisfied: true}
		for j := range s.SLOs {
			s.SLOs[j].Satisfied[v.Name] = slos.Satisfies(i, j)
		}
		if slos != nil {
			vs.SLOsSatisfied = slos.SatisfiesAll(i)
		}
		s.SLOsSatisfied = s.SLOsSatisfied && vs.SLOsSatisfied
		s.Versions = append(s.Versions, vs)
	}
	return s
}

// SatisfyingVersions returns the names of the versions that satisfy every
// SLO, in spec order. Templates call it as {{.SatisfyingVersions}}; it is
// not part of the JSON form.
func (s Summary) SatisfyingVersions() []string {
	var names []string
	for _, v := range s.Versions {
		if v.SLOsSatisfied {
			names = append(names, v.Name)
		}
	}
	return names
}
