// Package experiment holds the experiment spec, its strict parsing and
// validation, the engine that runs its tasks in order, and the result.
package experiment

import (
	"github.com/expr-lang/expr/vm"
)

// APIVersion and Kind identify an experiment document.
const (
	APIVersion = "iter8.tools/v1alpha1"
	Kind       = "Experiment"
)

// DefaultVersion names the single version of an experiment that lists none.
const DefaultVersion = "default"

// Experiment is an experiment document (experiment.yaml).
type Experiment struct {
	// APIVersion must be iter8.tools/v1alpha1.
	APIVersion string `json:"apiVersion"`
	// Kind must be Experiment.
	Kind string `json:"kind"`
	// Metadata names the experiment.
	Metadata Metadata `json:"metadata"`
	// Spec lists the versions under test and the tasks.
	Spec Spec `json:"spec"`
}

// Metadata names an experiment.
type Metadata struct {
	// Name is the experiment's name: a DNS label (lowercase letters, digits
	// and '-'), since it names Kubernetes objects when run in a cluster.
	Name string `json:"name"`
	// Namespace is where the experiment runs in a cluster; -n overrides it.
	Namespace string `json:"namespace,omitempty"`
	// Labels are copied to the objects of an in-cluster experiment.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are copied to the objects of an in-cluster experiment.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Spec is what an experiment does.
type Spec struct {
	// Versions are the versions under test, by name. Tasks record every
	// metric per version. Default: one version named "default".
	Versions []Version `json:"versions,omitempty"`
	// Tasks run in order.
	Tasks []TaskSpec `json:"tasks"`
}

// Version is one version under test.
type Version struct {
	// Name is unique among the experiment's versions.
	Name string `json:"name"`
}

// TaskSpec is one step of an experiment.
type TaskSpec struct {
	// Task names the task, e.g. http, grpc, assess.
	Task string `json:"task"`
	// If is a condition (an expr-lang expression); the task is skipped when
	// it is false. See Env for what it can refer to.
	If string `json:"if,omitempty"`
	// With holds the task's parameters.
	With map[string]any `json:"with,omitempty"`

	// params are the decoded parameters.
	params Task
	// cond is the compiled If.
	cond *vm.Program
}

// Params returns the task's decoded and validated parameters.
func (t *TaskSpec) Params() Task { return t.params }

// VersionNames returns the names of the versions under test.
func (e *Experiment) VersionNames() []string {
	if len(e.Spec.Versions) == 0 {
		return []string{DefaultVersion}
	}
	names := make([]string, len(e.Spec.Versions))
	for i, v := range e.Spec.Versions {
		names[i] = v.Name
	}
	return names
}
