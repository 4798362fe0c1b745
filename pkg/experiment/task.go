package experiment

import (
	"context"
	"io"
	"sort"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Task is a task's parameters and behaviour. Each task type is a struct whose
// exported fields, with json tags, are its parameters (the "with:" map);
// the parser decodes them strictly, then calls Validate, Default
// (Defaulter) once nothing is wrong, and Load (Loader), in that order.
type Task interface {
	// Validate checks the parameters as written, changing nothing but what
	// it derives (a parsed template); defaults are Default's, files Load's.
	// path is the parameters' field path (spec.tasks[i].with). Errors name
	// fields under it.
	Validate(vc *ValidationContext, path *field.Path) field.ErrorList
	// Metrics returns the metrics the task records (for every version), so
	// that later tasks can refer to them before anything runs.
	Metrics() []MetricInfo
	// Run executes the task. It records metrics through r.
	Run(ctx context.Context, r *Run) error
}

// Defaulter is a task whose parameters have defaults, filled in by Default
// after Validate has checked what was written.
type Defaulter interface {
	Default()
}

// Loader is a task that reads the files its parameters name (FileReader)
// before it runs: Load reads them, relative to vc.Dir, after Default (and
// also when Validate found problems, to report all at once); its problems
// name the fields under path.
type Loader interface {
	Load(vc *ValidationContext, path *field.Path) field.ErrorList
}

// Prepare readies a task's decoded parameters in the order every task
// follows: Validate, Default (a Defaulter, once nothing is wrong) and Load
// (a Loader, also when Validate found problems, so that every problem is
// reported at once). It returns all their problems.
func Prepare(t Task, vc *ValidationContext, path *field.Path) field.ErrorList {
	errs := t.Validate(vc, path)
	if d, ok := t.(Defaulter); ok && len(errs) == 0 {
		d.Default()
	}
	if l, ok := t.(Loader); ok {
		errs = append(errs, l.Load(vc, path)...)
	}
	return errs
}

// ValidationContext is what a task's Validate may consult.
type ValidationContext struct {
	// Versions are the names of the versions under test.
	Versions []string
	// Metrics are the metrics recorded by the tasks before this one.
	Metrics map[string]MetricInfo
	// Dir is the folder of the experiment file: relative file paths in
	// parameters are relative to it.
	Dir string
}

// Registry maps task names to constructors of their zero parameters.
type Registry map[string]func() Task

// Names returns the task names in order.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run is what a running task sees: the experiment, the result so far, and
// where to report progress.
type Run struct {
	// Experiment is the experiment being run.
	Experiment *Experiment
	// Result is the result so far; tasks record into it through Record and
	// RecordHistogram.
	Result *Result
	// Progress receives human-readable progress lines.
	Progress io.Writer
	// Terminal is true when Progress is a terminal (progress bars allowed).
	Terminal bool
	// TaskIndex is the index of the running task in spec.tasks.
	TaskIndex int
	// Cluster gives access to a Kubernetes cluster (kubectl's flags, or the
	// in-cluster configuration of a Job); nil when there is none.
	Cluster genericclioptions.RESTClientGetter
	// Namespace is where the experiment runs: objects tasks name without a
	// namespace are looked up there.
	Namespace string
}
