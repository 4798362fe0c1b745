// Package ready is the ready task: it waits until named Kubernetes objects of
// any kind exist and are ready (pkg/readiness: named conditions or kstatus).
package ready

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/readiness"
)

// Name is the task's name in experiment.yaml.
const Name = "ready"

// DefaultTimeout is how long the task waits by default.
const DefaultTimeout = 5 * time.Minute

// Task is the ready task's parameters.
//
//	tasks:
//	- task: ready
//	  with:
//	    timeout: 2m
//	    objects:
//	    - {apiVersion: apps/v1, kind: Deployment, name: app-v2}
//	    - {apiVersion: serving.kserve.io/v1beta1, kind: InferenceService, name: model, conditions: [Ready]}
type Task struct {
	// Objects must all be ready.
	Objects []Object `json:"objects"`
	// Timeout bounds the wait; default 5m.
	Timeout *experiment.Duration `json:"timeout,omitempty"`
}

// Object names a Kubernetes object and how to judge it.
type Object struct {
	// APIVersion is group/version, e.g. apps/v1, or v1 for the core group.
	APIVersion string `json:"apiVersion"`
	// Kind is e.g. Deployment.
	Kind string `json:"kind"`
	// Name is the object's name.
	Name string `json:"name"`
	// Namespace defaults to the experiment's.
	Namespace string `json:"namespace,omitempty"`
	// Conditions, when set, must all be True (for the current
	// generation); otherwise kstatus decides.
	Conditions []string `json:"conditions,omitempty"`
}

// GroupVersionResource is the object's resource, guessed from its kind as
// kubectl does for well-formed kinds (Deployment → deployments,
// InferenceService → inferenceservices), so that no discovery is needed to
// write RBAC rules for it.
func (o Object) GroupVersionResource() schema.GroupVersionResource {
	gv, _ := schema.ParseGroupVersion(o.APIVersion)
	gvr, _ := meta.UnsafeGuessKindToResource(gv.WithKind(o.Kind))
	return gvr
}

func (o Object) String() string {
	s := o.Kind + " " + o.Name
	if o.Namespace != "" {
		s = o.Kind + " " + o.Namespace + "/" + o.Name
	}
	return s
}

// New returns the zero parameters of the task.
func New() experiment.Task { return &Task{} }

// Validate checks every object reference.
func (t *Task) Validate(_ *experiment.ValidationContext, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(t.Objects) == 0 {
		errs = append(errs, field.Required(path.Child("objects"), "the objects to wait for"))
	}
	for i, o := range t.Objects {
		p := path.Child("objects").Index(i)
		if _, err := schema.ParseGroupVersion(o.APIVersion); err != nil || o.APIVersion == "" {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), o.APIVersion, "must be group/version such as apps/v1, or v1"))
		}
		if o.Kind == "" {
			errs = append(errs, field.Required(p.Child("kind"), "e.g. Deployment"))
		}
		for _, msg := range validation.IsDNS1123Subdomain(o.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), o.Name, msg))
		}
		if o.Namespace != "" {
			for _, msg := range validation.IsDNS1123Label(o.Namespace) {
				errs = append(errs, field.Invalid(p.Child("namespace"), o.Namespace, msg))
			}
		}
	}
	return errs
}

// Default fills in the timeout (experiment.Defaulter).
func (t *Task) Default() {
	if t.Timeout == nil {
		t.Timeout = &experiment.Duration{Duration: DefaultTimeout}
	}
}

// Metrics returns nil: the task records no metrics.
func (t *Task) Metrics() []experiment.MetricInfo { return nil }

// Resolved returns the objects with their namespace filled in.
func (t *Task) Resolved(namespace string) []Object {
	out := make([]Object, len(t.Objects))
	for i, o := range t.Objects {
		if o.Namespace == "" {
			o.Namespace = namespace
		}
		out[i] = o
	}
	return out
}

// ClusterObjects lists the objects the task reads (experiment.ObjectReader).
func (t *Task) ClusterObjects(namespace string) []experiment.ObjectInput {
	out := make([]experiment.ObjectInput, len(t.Objects))
	for i, o := range t.Resolved(namespace) {
		out[i] = experiment.ObjectInput{Field: fmt.Sprintf("objects[%d]", i), Resource: o.GroupVersionResource(), Namespace: o.Namespace, Name: o.Name}
	}
	return out
}

// Run waits until every object is ready, or fails naming those that are not
// and why.
func (t *Task) Run(ctx context.Context, r *experiment.Run) error {
	if r.Cluster == nil {
		return errors.New("the ready task needs a Kubernetes cluster: none is configured")
	}
	cfg, err := r.Cluster.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("connecting to the cluster: %w", err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	objects := t.Resolved(r.Namespace)
	var pending []string
	fmt.Fprintf(r.Progress, "ready: waiting up to %s for %d objects\n", t.Timeout.Duration, len(objects))
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, t.Timeout.Duration, true, func(ctx context.Context) (bool, error) {
		var now []string
		for _, o := range objects {
			u, err := client.Resource(o.GroupVersionResource()).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
			var status apierrors.APIStatus
			switch {
			case err != nil && !errors.As(err, &status) && len(pending) > 0:
				// Not an answer from the API server (the deadline is near,
				// the connection broke): keep the last round's reasons.
				return false, nil
			case apierrors.IsNotFound(err):
				u = nil
			case apierrors.IsForbidden(err):
				return false, fmt.Errorf("reading %s: %w", o, err)
			case err != nil:
				now = append(now, fmt.Sprintf("%s: %v", o, err))
				continue
			}
			if st := readiness.Of(u, o.Conditions); !st.Ready {
				now = append(now, fmt.Sprintf("%s: %s", o, st.Reason))
			}
		}
		pending = now
		return len(pending) == 0, nil
	})
	if err == nil {
		fmt.Fprintf(r.Progress, "ready: all %d objects are ready\n", len(objects))
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(pending) > 0 && wait.Interrupted(err) {
		return fmt.Errorf("not ready after %s: %s", t.Timeout.Duration, strings.Join(pending, "; "))
	}
	return err
}
