package runner

import (
	"context"
	"errors"
	"fmt"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// ErrNotFound is returned when there is no experiment of the given name.
var ErrNotFound = errors.New("experiment not found")

// Launch creates the objects in the cluster, first deleting those of an
// experiment of the same name (a relaunch starts afresh: new Job, no
// result). Every object but the Secret is owned by the Secret, so deleting
// it removes them all.
func Launch(ctx context.Context, c kubernetes.Interface, objs []runtime.Object) error {
	secret, ok := objs[0].(*corev1.Secret)
	if !ok {
		return errors.New("the first object must be the experiment's Secret")
	}
	name := secret.Labels[LabelExperiment]
	if err := Delete(ctx, c, secret.Namespace, name); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("replacing experiment %s: %w", name, err)
	}
	return Create(ctx, c, objs)
}

// Create creates those of the objects that do not exist, as Launch does
// but never replacing one, so that calling it again after it was
// interrupted completes the experiment rather than starting another. The
// Secret keeps the owner references it carries.
func Create(ctx context.Context, c kubernetes.Interface, objs []runtime.Object) error {
	secret, ok := objs[0].(*corev1.Secret)
	if !ok {
		return errors.New("the first object must be the experiment's Secret")
	}
	name := secret.Labels[LabelExperiment]
	created, err := c.CoreV1().Secrets(secret.Namespace).Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = c.CoreV1().Secrets(secret.Namespace).Get(ctx, secret.Name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("creating Secret %s: %w", secret.Name, err)
	}
	owner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Secret", Name: created.Name, UID: created.UID}}
	for _, o := range objs[1:] {
		var err error
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			o.OwnerReferences = owner
			_, err = c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			o.OwnerReferences = owner
			_, err = c.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			o.OwnerReferences = owner
			_, err = c.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *batchv1.Job:
			o.OwnerReferences = owner
			_, err = c.BatchV1().Jobs(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *batchv1.CronJob:
			o.OwnerReferences = owner
			_, err = c.BatchV1().CronJobs(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			err = fmt.Errorf("unexpected object %T", o)
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the objects of experiment %s: %w", name, err)
		}
	}
	return nil
}

// Delete removes every object of the experiment, explicitly rather than
// through the garbage collector, so that nothing is left even where none
// runs: CronJob, Jobs, their pods, RoleBinding, Role, ServiceAccount and
// finally the Secret. It returns ErrNotFound when there was nothing.
func Delete(ctx context.Context, c kubernetes.Interface, namespace, name string) error {
	objName := ObjectName(name)
	sel := metav1.ListOptions{LabelSelector: labels.Set{LabelExperiment: name}.String()}
	background := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
	found := false
	del := func(err error) error {
		if err == nil {
			found = true
			return nil
		}
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	steps := []func() error{
		func() error { return del(c.BatchV1().CronJobs(namespace).Delete(ctx, objName, background)) },
		func() error { return c.BatchV1().Jobs(namespace).DeleteCollection(ctx, background, sel) },
		func() error { return c.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, sel) },
		func() error {
			return del(c.RbacV1().RoleBindings(namespace).Delete(ctx, objName, metav1.DeleteOptions{}))
		},
		func() error { return del(c.RbacV1().Roles(namespace).Delete(ctx, objName, metav1.DeleteOptions{})) },
		func() error {
			return del(c.CoreV1().ServiceAccounts(namespace).Delete(ctx, objName, metav1.DeleteOptions{}))
		},
		func() error { return del(c.CoreV1().Secrets(namespace).Delete(ctx, objName, metav1.DeleteOptions{})) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("deleting experiment %s: %w", name, err)
		}
	}
	if !found {
		return fmt.Errorf("%w: %s in namespace %s", ErrNotFound, name, namespace)
	}
	return nil
}

// Experiment is an experiment as stored in a cluster.
type Experiment struct {
	// Name is the experiment's name.
	Name string
	// Namespace is its namespace.
	Namespace string
	// Created is when it was launched.
	Created metav1.Time
	// Result is the stored result; nil before the Job has written one.
	Result *experiment.Result
	// Spec is the experiment file's content.
	Spec []byte
}

func fromSecret(s *corev1.Secret) (*Experiment, error) {
	e := &Experiment{Name: s.Labels[LabelExperiment], Namespace: s.Namespace, Created: s.CreationTimestamp, Spec: s.Data[SpecKey]}
	if b, ok := s.Data[ResultKey]; ok {
		e.Result = &experiment.Result{}
		if err := yaml.UnmarshalStrict(b, e.Result); err != nil {
			return nil, fmt.Errorf("the result of experiment %s in Secret %s/%s is not readable: %w", e.Name, s.Namespace, s.Name, err)
		}
	}
	return e, nil
}

// Get reads an experiment from the cluster.
func Get(ctx context.Context, c kubernetes.Interface, namespace, name string) (*Experiment, error) {
	s, err := c.CoreV1().Secrets(namespace).Get(ctx, ObjectName(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s in namespace %s", ErrNotFound, name, namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("reading experiment %s: %w", name, err)
	}
	if s.Labels[LabelExperiment] != name {
		return nil, fmt.Errorf("%w: Secret %s/%s is not an iter8 experiment", ErrNotFound, namespace, s.Name)
	}
	return fromSecret(s)
}

// List returns the experiments in namespace ("" for all), by namespace and name.
func List(ctx context.Context, c kubernetes.Interface, namespace string) ([]*Experiment, error) {
	secrets, err := c.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{LabelManagedBy: ManagedBy}.String() + "," + LabelExperiment,
	})
	if err != nil {
		return nil, fmt.Errorf("listing experiments: %w", err)
	}
	var out []*Experiment
	for i := range secrets.Items {
		if secrets.Items[i].Type != SecretType {
			continue
		}
		e, err := fromSecret(&secrets.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// JobStatus says whether the experiment's latest Job has ended, and how.
func JobStatus(ctx context.Context, c kubernetes.Interface, namespace, name string) (ended bool, failure string, err error) {
	jobs, err := c.BatchV1().Jobs(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{LabelExperiment: name}.String()})
	if err != nil {
		return false, "", fmt.Errorf("reading the Jobs of experiment %s: %w", name, err)
	}
	if len(jobs.Items) == 0 {
		return false, "", nil
	}
	latest := jobs.Items[0]
	for _, j := range jobs.Items[1:] {
		if j.CreationTimestamp.After(latest.CreationTimestamp.Time) {
			latest = j
		}
	}
	for _, cond := range latest.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case batchv1.JobComplete:
			return true, "", nil
		case batchv1.JobFailed:
			return true, fmt.Sprintf("Job %s failed: %s %s", latest.Name, cond.Reason, cond.Message), nil
		}
	}
	return false, "", nil
}
