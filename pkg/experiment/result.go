package experiment

import (
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/iter8-tools/iter8/pkg/stats"
)

// MetricType says how a metric's value is to be read.
type MetricType string

// Metric types.
const (
	// Counter is a count of events, e.g. requests.
	Counter MetricType = "counter"
	// Gauge is a measured value, e.g. a latency percentile or a rate.
	Gauge MetricType = "gauge"
	// HistogramType is a distribution, kept as a histogram.
	HistogramType MetricType = "histogram"
)

// MetricInfo describes a metric.
type MetricInfo struct {
	// Name is <task or provider>/<metric>, e.g. http/latency-p99.
	Name string `json:"name"`
	// Type is counter, gauge or histogram.
	Type MetricType `json:"type"`
	// Unit is e.g. "ms", "req/s", or empty for plain numbers.
	Unit string `json:"unit,omitempty"`
	// Description says what the metric measures.
	Description string `json:"description,omitempty"`
}

// TaskState is the state of a task in a run.
type TaskState string

// Task states.
const (
	TaskPending   TaskState = "Pending"
	TaskRunning   TaskState = "Running"
	TaskSucceeded TaskState = "Succeeded"
	TaskFailed    TaskState = "Failed"
	TaskSkipped   TaskState = "Skipped"
)

// Result is the outcome of an experiment, updated as it runs.
type Result struct {
	// Experiment is the experiment's name.
	Experiment string `json:"experiment"`
	// Namespace is the experiment's namespace when run in a cluster.
	Namespace string `json:"namespace,omitempty"`
	// StartTime is when the latest run started.
	StartTime time.Time `json:"startTime"`
	// EndTime is when the latest run ended; unset while it runs.
	EndTime *time.Time `json:"endTime,omitempty"`
	// Iterations counts the runs that ended (periodic experiments add one
	// per run).
	Iterations int `json:"iterations"`
	// Completed is true when the latest run reached its end.
	Completed bool `json:"completed"`
	// Failed is true when a task failed or the run was interrupted.
	Failed bool `json:"failed"`
	// Error says why the run failed, when it did.
	Error string `json:"error,omitempty"`
	// Tasks is the state of each task, in spec order.
	Tasks []TaskStatus `json:"tasks"`
	// Metrics describes every metric recorded, in the order first recorded.
	Metrics []MetricInfo `json:"metrics,omitempty"`
	// Versions holds each version's metrics, in spec order.
	Versions []VersionResult `json:"versions"`
	// SLOs is the SLO assessment, if an assess task ran.
	SLOs *SLOResult `json:"slos,omitempty"`
	// History keeps the earlier runs of a periodic experiment.
	History *History `json:"history,omitempty"`
}

// RunSummary is what is kept of an earlier run of a periodic experiment.
type RunSummary struct {
	// Iteration is the run's number, from 1.
	Iteration int `json:"iteration"`
	// StartTime is when the run started.
	StartTime time.Time `json:"startTime"`
	// EndTime is when it ended.
	EndTime *time.Time `json:"endTime,omitempty"`
	// Completed and Failed are as in Result.
	Completed bool `json:"completed"`
	// Failed is as in Result.
	Failed bool `json:"failed"`
	// Error is as in Result.
	Error string `json:"error,omitempty"`
	// SLOsSatisfied maps each version to whether it satisfied every SLO.
	SLOsSatisfied map[string]bool `json:"slosSatisfied,omitempty"`
	// Metrics maps each version to the values of its metrics in the run
	// (History merges the histograms).
	Metrics map[string]map[string]float64 `json:"metrics,omitempty"`
}

// histograms maps each version to its histograms in r.
func (r *Result) histograms() map[string]map[string]*stats.Histogram {
	out := map[string]map[string]*stats.Histogram{}
	for _, v := range r.Versions {
		if len(v.Histograms) > 0 {
			out[v.Name] = v.Histograms
		}
	}
	return out
}

// MergedHistogram is a version's histogram metric merged over the runs
// History keeps and the latest; nil when none recorded it.
func (r *Result) MergedHistogram(version, metric string) *stats.Histogram {
	var out *stats.Histogram
	merge := func(h *stats.Histogram) {
		if h == nil {
			return
		}
		if out == nil {
			out = &stats.Histogram{}
		}
		out.Merge(h)
	}
	if r.History != nil {
		merge(r.History.Histograms[version][metric])
	}
	if v := r.Version(version); v != nil {
		merge(v.Histograms[metric])
	}
	return out
}

// summary is what the history keeps of r.
func (r *Result) summary() RunSummary {
	s := RunSummary{Iteration: r.Iterations, StartTime: r.StartTime, EndTime: r.EndTime, Completed: r.Completed, Failed: r.Failed, Error: r.Error}
	if r.SLOs != nil {
		s.SLOsSatisfied = envOf(r).SLOsByVersion
	}
	for _, v := range r.Versions {
		if len(v.Metrics) > 0 {
			if s.Metrics == nil {
				s.Metrics = map[string]map[string]float64{}
			}
			s.Metrics[v.Name] = maps.Clone(v.Metrics)
		}
	}
	return s
}

// TaskStatus is the state of one task.
type TaskStatus struct {
	// Task is the task's name.
	Task string `json:"task"`
	// State is Pending, Running, Succeeded, Failed or Skipped.
	State TaskState `json:"state"`
	// Error says why the task failed or was skipped.
	Error string `json:"error,omitempty"`
	// StartTime is when the task started.
	StartTime *time.Time `json:"startTime,omitempty"`
	// EndTime is when the task ended.
	EndTime *time.Time `json:"endTime,omitempty"`
	// Notes are findings worth a reader's attention, e.g. requests that
	// started late because the target rate was not met.
	Notes []string `json:"notes,omitempty"`
}

// VersionResult holds one version's metrics.
type VersionResult struct {
	// Name is the version's name.
	Name string `json:"name"`
	// Metrics maps metric names to values.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Histograms maps histogram metric names to histograms.
	Histograms map[string]*stats.Histogram `json:"histograms,omitempty"`
}

// SLO is a limit on a metric.
type SLO struct {
	// Metric is the metric's name.
	Metric string `json:"metric"`
	// Upper is the largest value allowed, if set.
	Upper *float64 `json:"upper,omitempty"`
	// Lower is the smallest value allowed, if set.
	Lower *float64 `json:"lower,omitempty"`
}

// String is e.g. "http/latency-p99 <= 50".
func (s SLO) String() string {
	switch {
	case s.Upper != nil && s.Lower != nil:
		return fmt.Sprintf("%g <= %s <= %g", *s.Lower, s.Metric, *s.Upper)
	case s.Upper != nil:
		return fmt.Sprintf("%s <= %g", s.Metric, *s.Upper)
	case s.Lower != nil:
		return fmt.Sprintf("%s >= %g", s.Metric, *s.Lower)
	}
	return s.Metric
}

// SLOResult is the version × SLO satisfaction matrix.
type SLOResult struct {
	// SLOs are the objectives assessed.
	SLOs []SLO `json:"slos"`
	// Satisfied[v][s] tells whether version v (in Result.Versions order)
	// satisfies SLO s. A metric without a value does not satisfy.
	Satisfied [][]bool `json:"satisfied"`
}

// Satisfies reports whether version v (its index in Result.Versions)
// satisfies SLO j. This is the one place the matrix is read: a verdict
// missing from it (a short row, a missing version, no assessment) is not a
// pass.
func (s *SLOResult) Satisfies(v, j int) bool {
	return s != nil && v >= 0 && v < len(s.Satisfied) && j >= 0 && j < len(s.SLOs) && j < len(s.Satisfied[v]) && s.Satisfied[v][j]
}

// SatisfiesAll reports whether version v satisfies every SLO.
func (s *SLOResult) SatisfiesAll(v int) bool {
	if s == nil {
		return false
	}
	for j := range s.SLOs {
		if !s.Satisfies(v, j) {
			return false
		}
	}
	return true
}

// SLOsSatisfied reports whether every version satisfies every SLO; false
// when no SLO was assessed.
func (r *Result) SLOsSatisfied() bool {
	if r.SLOs == nil {
		return false
	}
	for i := range r.Versions {
		if !r.SLOs.SatisfiesAll(i) {
			return false
		}
	}
	return true
}

// UnmetSLOs lists the SLOs a version does not satisfy, by version then
// SLO, e.g. "v2: http/latency-p99 <= 50 (73.2)", or "v2: http/error-rate
// <= 0 (no value)"; "no SLOs assessed" when nothing was.
func (r *Result) UnmetSLOs() []string {
	if r.SLOs == nil {
		return []string{"no SLOs assessed"}
	}
	var out []string
	for i, v := range r.Versions {
		for j, slo := range r.SLOs.SLOs {
			if r.SLOs.Satisfies(i, j) {
				continue
			}
			value := "no value"
			if x, ok := r.Value(v.Name, slo.Metric); ok {
				value = fmt.Sprintf("%g", x)
			}
			out = append(out, fmt.Sprintf("%s: %s (%s)", v.Name, slo, value))
		}
	}
	return out
}

// NewResult returns an empty result for exp.
func NewResult(exp *Experiment) *Result {
	r := &Result{Experiment: exp.Metadata.Name, Namespace: exp.Metadata.Namespace}
	for _, v := range exp.VersionNames() {
		r.Versions = append(r.Versions, VersionResult{Name: v})
	}
	for _, t := range exp.Spec.Tasks {
		r.Tasks = append(r.Tasks, TaskStatus{Task: t.Task, State: TaskPending})
	}
	return r
}

// Version returns the result of the named version, or nil.
func (r *Result) Version(name string) *VersionResult {
	for i := range r.Versions {
		if r.Versions[i].Name == name {
			return &r.Versions[i]
		}
	}
	return nil
}

// Value returns a version's metric value and whether it has one.
func (r *Result) Value(version, metric string) (float64, bool) {
	v := r.Version(version)
	if v == nil {
		return 0, false
	}
	x, ok := v.Metrics[metric]
	return x, ok
}

// Info returns the description of a metric, or nil.
func (r *Result) Info(metric string) *MetricInfo {
	for i := range r.Metrics {
		if r.Metrics[i].Name == metric {
			return &r.Metrics[i]
		}
	}
	return nil
}

func (r *Result) describe(info MetricInfo) {
	if r.Info(info.Name) == nil {
		r.Metrics = append(r.Metrics, info)
	}
}

// Record sets a version's metric. Values must be finite: results are JSON.
func (r *Result) Record(version string, info MetricInfo, value float64) error {
	v := r.Version(version)
	if v == nil {
		return fmt.Errorf("no version %q in the experiment", version)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return fmt.Errorf("metric %s of version %s is not a finite number (%g)", info.Name, version, value)
	}
	r.describe(info)
	if v.Metrics == nil {
		v.Metrics = map[string]float64{}
	}
	v.Metrics[info.Name] = value
	return nil
}

// RecordHistogram sets a version's histogram metric.
func (r *Result) RecordHistogram(version string, info MetricInfo, h *stats.Histogram) error {
	v := r.Version(version)
	if v == nil {
		return fmt.Errorf("no version %q in the experiment", version)
	}
	info.Type = HistogramType
	r.describe(info)
	if v.Histograms == nil {
		v.Histograms = map[string]*stats.Histogram{}
	}
	v.Histograms[info.Name] = h
	return nil
}

// MetricNames returns the names of the scalar (non-histogram) metrics.
func (r *Result) MetricNames() []string {
	var names []string
	for _, m := range r.Metrics {
		if m.Type != HistogramType {
			names = append(names, m.Name)
		}
	}
	return names
}

// VersionNames returns the names of the versions, in order.
func (r *Result) VersionNames() []string {
	names := make([]string, len(r.Versions))
	for i, v := range r.Versions {
		names[i] = v.Name
	}
	return names
}
