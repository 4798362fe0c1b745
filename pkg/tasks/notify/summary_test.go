package notify

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/stats"
)

func ptr(x float64) *float64 { return &x }

// result is a run of three tasks (http, assess, notify) over v1 and v2 in
// which v2 breaks the latency SLO. notify is at index 2 and running.
func result() *experiment.Result {
	return &experiment.Result{
		Experiment: "checkout",
		Namespace:  "prod",
		StartTime:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Iterations: 3,
		Tasks: []experiment.TaskStatus{
			{Task: "http", State: experiment.TaskSucceeded, Notes: []string{"late requests"}},
			{Task: "assess", State: experiment.TaskSucceeded},
			{Task: "notify", State: experiment.TaskRunning},
		},
		Metrics: []experiment.MetricInfo{
			{Name: "http/latency-p99", Type: experiment.Gauge, Unit: "ms"},
			{Name: "http/error-rate", Type: experiment.Gauge},
			{Name: "http/latency", Type: experiment.HistogramType},
		},
		Versions: []experiment.VersionResult{
			{
				Name:       "v1",
				Metrics:    map[string]float64{"http/latency-p99": 40, "http/error-rate": 0},
				Histograms: map[string]*stats.Histogram{"http/latency": {}},
			},
			{
				Name:    "v2",
				Metrics: map[string]float64{"http/latency-p99": 70, "http/error-rate": 0.001},
			},
		},
		SLOs: &experiment.SLOResult{
			SLOs: []experiment.SLO{
				{Metric: "http/latency-p99", Upper: ptr(50)},
				{Metric: "http/error-rate", Upper: ptr(0.01)},
			},
			Satisfied: [][]bool{{true, true}, {false, true}},
		},
	}
}

// summary is the summary of result() seen by the notify task.
func summary() Summary {
	return Summary{
		Experiment:    "checkout",
		Namespace:     "prod",
		Iteration:     4,
		Completed:     true,
		SLOsSatisfied: false,
		Versions: []VersionSummary{
			{Name: "v1", Metrics: map[string]float64{"http/latency-p99": 40, "http/error-rate": 0}, SLOsSatisfied: true},
			{Name: "v2", Metrics: map[string]float64{"http/latency-p99": 70, "http/error-rate": 0.001}, SLOsSatisfied: false},
		},
		SLOs: []SLOSummary{
			{Metric: "http/latency-p99", Upper: ptr(50), Objective: "http/latency-p99 <= 50", Satisfied: map[string]bool{"v1": true, "v2": false}},
			{Metric: "http/error-rate", Upper: ptr(0.01), Objective: "http/error-rate <= 0.01", Satisfied: map[string]bool{"v1": true, "v2": true}},
		},
		Tasks: []TaskSummary{
			{Task: "http", State: experiment.TaskSucceeded},
			{Task: "assess", State: experiment.TaskSucceeded},
			{Task: "notify", State: experiment.TaskRunning},
		},
	}
}

func TestSummarize(t *testing.T) {
	end := time.Date(2025, 1, 2, 3, 5, 0, 0, time.UTC)
	tests := []struct {
		name string
		res  func() *experiment.Result
		self int
		want func() Summary
	}{
		{
			name: "notify at the end",
			res:  result,
			self: 2,
			want: summary,
		},
		{
			name: "notify in the middle",
			res: func() *experiment.Result {
				r := result()
				r.Tasks[1].State = experiment.TaskRunning
				r.Tasks = append(r.Tasks, experiment.TaskStatus{Task: "http", State: experiment.TaskPending})
				return r
			},
			self: 1,
			want: func() Summary {
				s := summary()
				s.Completed = false
				s.Tasks[1].State = experiment.TaskRunning
				s.Tasks = append(s.Tasks, TaskSummary{Task: "http", State: experiment.TaskPending})
				return s
			},
		},
		{
			name: "after a failure",
			res: func() *experiment.Result {
				r := result()
				r.Failed, r.Error = true, "task 1 (http) failed: connection refused"
				r.Tasks[0].State, r.Tasks[0].Error = experiment.TaskFailed, "connection refused"
				r.Tasks[1].State, r.Tasks[1].Error = experiment.TaskSkipped, "an earlier task failed"
				r.SLOs = nil
				return r
			},
			self: 2,
			want: func() Summary {
				s := summary()
				s.Failed, s.Error = true, "task 1 (http) failed: connection refused"
				s.Tasks[0].State, s.Tasks[0].Error = experiment.TaskFailed, "connection refused"
				s.Tasks[1].State, s.Tasks[1].Error = experiment.TaskSkipped, "an earlier task failed"
				s.SLOs = nil
				s.SLOsSatisfied = true
				s.Versions[1].SLOsSatisfied = true
				return s
			},
		},
		{
			name: "a run that ended",
			res: func() *experiment.Result {
				r := result()
				r.EndTime, r.Completed, r.Iterations = &end, true, 4
				r.Tasks[2].State = experiment.TaskSucceeded
				return r
			},
			self: -1,
			want: func() Summary {
				s := summary()
				s.Tasks[2].State = experiment.TaskSucceeded
				return s
			},
		},
		{
			name: "a run that was interrupted",
			res: func() *experiment.Result {
				r := result()
				r.EndTime, r.Iterations = &end, 4
				r.Failed, r.Error = true, "the experiment was interrupted"
				r.Tasks[2].State, r.Tasks[2].Error = experiment.TaskSkipped, "the experiment was interrupted"
				return r
			},
			self: -1,
			want: func() Summary {
				s := summary()
				s.Completed = false
				s.Failed, s.Error = true, "the experiment was interrupted"
				s.Tasks[2].State, s.Tasks[2].Error = experiment.TaskSkipped, "the experiment was interrupted"
				return s
			},
		},
		{
			name: "a version without a row satisfies no SLO, as in if: conditions and assert",
			res: func() *experiment.Result {
				r := result()
				r.SLOs.Satisfied = r.SLOs.Satisfied[:1]
				return r
			},
			self: 2,
			want: func() Summary {
				s := summary()
				s.SLOsSatisfied = false
				s.Versions[1].SLOsSatisfied = false
				for j := range s.SLOs {
					s.SLOs[j].Satisfied["v2"] = false
				}
				return s
			},
		},
		{
			name: "an empty result",
			res: func() *experiment.Result {
				return &experiment.Result{Experiment: "e", Tasks: []experiment.TaskStatus{{Task: "notify", State: experiment.TaskRunning}}}
			},
			self: 0,
			want: func() Summary {
				return Summary{Experiment: "e", Iteration: 1, Completed: true, SLOsSatisfied: true,
					Versions: []VersionSummary{}, Tasks: []TaskSummary{{Task: "notify", State: experiment.TaskRunning}}}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want(), Summarize(tc.res(), tc.self)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummarizeCopiesMetrics(t *testing.T) {
	r := result()
	s := Summarize(r, 2)
	r.Versions[0].Metrics["http/latency-p99"] = 1
	if got := s.Versions[0].Metrics["http/latency-p99"]; got != 40 {
		t.Errorf("summary changed with the result: latency-p99 = %g, want 40", got)
	}
}

func TestSatisfyingVersions(t *testing.T) {
	tests := []struct {
		name string
		sat  []bool
		want []string
	}{
		{name: "none", sat: []bool{false, false}},
		{name: "one", sat: []bool{false, true}, want: []string{"v2"}},
		{name: "all", sat: []bool{true, true}, want: []string{"v1", "v2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Summary{Versions: []VersionSummary{{Name: "v1", SLOsSatisfied: tc.sat[0]}, {Name: "v2", SLOsSatisfied: tc.sat[1]}}}
			if diff := cmp.Diff(tc.want, s.SatisfyingVersions()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
