// Package runner is the in-cluster side of experiments: the Kubernetes
// objects that run one as a Job (or a CronJob), the Job's own mode that runs
// the engine and stores the result, and reading, listing and deleting
// experiments in a cluster.
//
// An experiment named NAME in a namespace is a Secret iter8-NAME holding the
// spec (experiment.yaml) and the result (result.yaml), and a ServiceAccount,
// Role, RoleBinding and Job (or CronJob) of the same name, all labelled
// iter8.tools/experiment=NAME and owned by the Secret. The Secret, not a
// ConfigMap, holds them because a spec may carry credentials (request
// headers, provider settings) and Secrets are the objects clusters guard.
package runner

import (
	"cmp"
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/version"
)

// Labels, keys and names of the objects of an in-cluster experiment.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedBy       = "iter8"
	LabelExperiment = "iter8.tools/experiment"
	SpecKey         = "experiment.yaml"
	ResultKey       = "result.yaml"
	// SecretType marks the Secrets that are experiments.
	SecretType = corev1.SecretType("iter8.tools/experiment")
)

// MaxNameLength bounds an experiment's name so that iter8-NAME fits the
// limits of Job (63) and CronJob (52) names.
const (
	MaxNameLength          = 63 - len("iter8-")
	MaxScheduledNameLength = 52 - len("iter8-")
)

// ObjectName is the name of every object of the experiment NAME.
func ObjectName(experimentName string) string { return "iter8-" + experimentName }

// DefaultImage is the image of this build (version.Image).
func DefaultImage() string { return version.Image("run") }

// Options shape the objects of an in-cluster experiment.
type Options struct {
	// Namespace of every object.
	Namespace string
	// Image runs the Job; default DefaultImage().
	Image string
	// Schedule, a cron expression, makes a CronJob (one run per tick, never
	// two at once) instead of a Job.
	Schedule string
	// Files are the files the tasks read (ReadFiles): the Secret holds
	// them and the pod mounts them where the spec names them.
	Files []File
	// EnvFromSecrets are Secrets whose every key becomes an environment
	// variable of the Job's container (--env-from-secret).
	EnvFromSecrets []string
	// SecretEnv are variables of the Job's container from Secret keys
	// (--secret-env).
	SecretEnv []SecretEnv
}

// Objects returns the objects that run exp (whose file content is spec) in a
// cluster: Secret, ServiceAccount, Role, RoleBinding, then Job or CronJob.
// They carry no owner references: Launch adds them once the Secret exists.
func Objects(exp *experiment.Experiment, spec []byte, o Options) ([]runtime.Object, error) {
	name := exp.Metadata.Name
	limit := MaxNameLength
	if o.Schedule != "" {
		limit = MaxScheduledNameLength
	}
	if len(name) > limit {
		return nil, fmt.Errorf("metadata.name %q is too long to run in a cluster: at most %d characters", name, limit)
	}
	if o.Image == "" {
		o.Image = DefaultImage()
	}
	if err := checkEnvOptions(exp, o); err != nil {
		return nil, err
	}
	// A Role grants nothing outside its namespace, and the Job gets nothing
	// cluster-wide.
	for i, t := range exp.Spec.Tasks {
		if rd, ok := t.Params().(experiment.ObjectReader); ok {
			for _, obj := range rd.ClusterObjects(o.Namespace) {
				if obj.Namespace != o.Namespace {
					return nil, fmt.Errorf("spec.tasks[%d].with.%s.namespace: %q is not the experiment's namespace %q: an in-cluster experiment reads objects in its own namespace only", i, obj.Field, obj.Namespace, o.Namespace)
				}
			}
		}
	}
	objName := ObjectName(name)
	meta := func() metav1.ObjectMeta {
		labels := map[string]string{LabelManagedBy: ManagedBy, LabelExperiment: name}
		for k, v := range exp.Metadata.Labels {
			labels[k] = v
		}
		return metav1.ObjectMeta{Name: objName, Namespace: o.Namespace, Labels: labels, Annotations: exp.Metadata.Annotations}
	}

	secret := &corev1.Secret{
		TypeMeta:   manifest.TypeMeta("v1", "Secret"),
		ObjectMeta: meta(),
		Type:       SecretType,
		// As text, so that the spec reads plainly in dry runs and Git.
		StringData: map[string]string{SpecKey: string(spec)},
	}
	for i, f := range o.Files {
		if secret.Data == nil {
			secret.Data = map[string][]byte{}
		}
		secret.Data[fileKey(i)] = f.Data
	}
	env, envFrom := containerEnv(o)
	volume, mounts := filesMounts(objName, o.Files)
	var volumes []corev1.Volume
	if volume != nil {
		volumes = []corev1.Volume{*volume}
	}
	sa := &corev1.ServiceAccount{
		TypeMeta:                     manifest.TypeMeta("v1", "ServiceAccount"),
		ObjectMeta:                   meta(),
		AutomountServiceAccountToken: ptr.To(true),
	}
	role := &rbacv1.Role{
		TypeMeta:   manifest.TypeMeta("rbac.authorization.k8s.io/v1", "Role"),
		ObjectMeta: meta(),
		Rules:      rules(exp, objName, o.Namespace),
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   manifest.TypeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
		ObjectMeta: meta(),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: objName},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: objName, Namespace: o.Namespace}},
	}
	jobSpec := batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{
				Labels: map[string]string{LabelManagedBy: ManagedBy, LabelExperiment: name},
				// The experiment measures the app, not a sidecar's path to it.
				Annotations: map[string]string{"sidecar.istio.io/inject": "false"},
			},
			Spec: corev1.PodSpec{
				ServiceAccountName: objName,
				RestartPolicy:      corev1.RestartPolicyNever,
				SecurityContext:    manifest.PodSecurityContext(),
				Volumes:            volumes,
				Containers: []corev1.Container{{
					Name:            "iter8",
					Image:           o.Image,
					Command:         []string{version.ImageBinary("run"), "job", name, "--namespace", o.Namespace},
					Env:             env,
					EnvFrom:         envFrom,
					VolumeMounts:    mounts,
					Resources:       manifest.Resources("250m", "64Mi", "1", "256Mi"),
					SecurityContext: manifest.SecurityContext(),
				}},
			},
		},
	}
	var run runtime.Object = &batchv1.Job{
		TypeMeta:   manifest.TypeMeta("batch/v1", "Job"),
		ObjectMeta: meta(),
		Spec:       jobSpec,
	}
	if o.Schedule != "" {
		jobMeta := meta()
		run = &batchv1.CronJob{
			TypeMeta:   manifest.TypeMeta("batch/v1", "CronJob"),
			ObjectMeta: meta(),
			Spec: batchv1.CronJobSpec{
				Schedule:          o.Schedule,
				ConcurrencyPolicy: batchv1.ForbidConcurrent,
				JobTemplate:       batchv1.JobTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: jobMeta.Labels}, Spec: jobSpec},
			},
		}
	}
	return []runtime.Object{secret, sa, role, binding, run}, nil
}

// rules is the Job's least privilege: read and update its own Secret, and
// read (get, list, watch) exactly the objects its tasks read
// (experiment.ObjectReader: the ready task's).
func rules(exp *experiment.Experiment, secretName, namespace string) []rbacv1.PolicyRule {
	out := []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets"},
		ResourceNames: []string{secretName}, Verbs: []string{"get", "update", "patch"},
	}}
	type key struct{ group, resource string }
	names := map[key][]string{}
	for _, t := range exp.Spec.Tasks {
		rd, ok := t.Params().(experiment.ObjectReader)
		if !ok {
			continue
		}
		for _, obj := range rd.ClusterObjects(namespace) {
			k := key{obj.Resource.Group, obj.Resource.Resource}
			if !slices.Contains(names[k], obj.Name) {
				names[k] = append(names[k], obj.Name)
			}
		}
	}
	keys := make([]key, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.resource, b.resource))
	})
	for _, k := range keys {
		n := names[k]
		slices.Sort(n)
		out = append(out, rbacv1.PolicyRule{
			APIGroups: []string{k.group}, Resources: []string{k.resource},
			ResourceNames: n, Verbs: []string{"get", "list", "watch"},
		})
	}
	return out
}
