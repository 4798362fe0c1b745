package reconcile

import (
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/config/crd"
	"github.com/iter8-tools/iter8/config/grafana"
	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/readiness"
	"github.com/iter8-tools/iter8/pkg/version"
)

// Install defaults.
const (
	// DefaultInstallNamespace is the namespace the controller is installed
	// in by default.
	DefaultInstallNamespace = "iter8-system"
	// MetricsPort serves the controller's Prometheus metrics.
	MetricsPort = 8080
	// HealthPort serves the controller's /healthz and /readyz.
	HealthPort = 9440
)

// DefaultImage is the image of this build (version.Image).
func DefaultImage() string { return version.Image("route") }

// InstallOptions shape the objects that install the controller.
type InstallOptions struct {
	// Namespace of the controller. Default: DefaultInstallNamespace.
	Namespace string
	// Namespaced limits the controller to Routes and objects of its own
	// namespace, with a Role instead of a ClusterRole; the namespace is then
	// not created.
	Namespaced bool
	// Image of the controller. Default: DefaultImage().
	Image string
	// Replicas of the controller, at least 1; one leads, the others wait.
	Replicas int32
	// ReadinessResources are group/resource pairs (e.g.
	// "argoproj.io/rollouts") of readiness objects of kinds the controller
	// is not granted by default: it gets read, watch and patch
	// (finalizers) on them.
	ReadinessResources []string
	// GrafanaDashboard adds the controller's Grafana dashboard, in a
	// ConfigMap that Grafana's dashboard sidecar loads.
	GrafanaDashboard bool
}

// Default fills in the defaults.
func (o *InstallOptions) Default() {
	if o.Namespace == "" {
		o.Namespace = DefaultInstallNamespace
	}
	if o.Image == "" {
		o.Image = DefaultImage()
	}
}

// Validate reports every bad option.
func (o *InstallOptions) Validate() error {
	var errs []error
	for _, msg := range validation.IsDNS1123Label(o.Namespace) {
		errs = append(errs, fmt.Errorf("namespace %q: %s", o.Namespace, msg))
	}
	if o.Replicas < 1 {
		errs = append(errs, fmt.Errorf("replicas must be at least 1, not %d", o.Replicas))
	}
	for _, gr := range o.ReadinessResources {
		if _, _, err := readiness.ParseGroupResource(gr); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// InstallObjects returns the objects that install the controller, in the
// order to apply them: the CRD, the namespace, the ServiceAccount, the
// least-privilege RBAC, the Deployment (leader-elected replicas) and the
// metrics Service.
//
// The controller is granted: Routes (read, patch, status, finalizers);
// the kinds it renders (server-side apply and prune); the kinds versions
// name by default, Services, Deployments and KServe InferenceServices, plus
// ReadinessResources (read, watch, and patch for its finalizer); Flux
// Kustomizations (read); Secrets (get: the Git sinks' credentials); the
// experiments of rollouts' steps (create Secrets, ServiceAccounts, Roles,
// RoleBindings and Jobs; read Jobs; update Secrets, which their Roles
// grant on the experiment's own Secret); events; and Leases in its own
// namespace.
func InstallObjects(o InstallOptions) ([]*unstructured.Unstructured, error) {
	o.Default()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	labels := map[string]string{"app.kubernetes.io/name": ControllerName, "app.kubernetes.io/part-of": "iter8"}
	meta := func(name string, namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: name, Labels: labels}
		if namespaced {
			m.Namespace = o.Namespace
		}
		return m
	}
	var objs []any
	crdObj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(crd.Routes, &crdObj.Object); err != nil {
		return nil, fmt.Errorf("reading the Route CRD: %w", err)
	}
	out := []*unstructured.Unstructured{crdObj}
	if !o.Namespaced {
		objs = append(objs, &corev1.Namespace{TypeMeta: manifest.TypeMeta("v1", "Namespace"), ObjectMeta: meta(o.Namespace, false)})
	}
	objs = append(objs, &corev1.ServiceAccount{TypeMeta: manifest.TypeMeta("v1", "ServiceAccount"), ObjectMeta: meta(ControllerName, true)})

	rules := controllerRules(o.ReadinessResources)
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ControllerName, Namespace: o.Namespace}}
	if o.Namespaced {
		objs = append(objs,
			&rbacv1.Role{TypeMeta: manifest.TypeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta(ControllerName, true), Rules: rules},
			&rbacv1.RoleBinding{TypeMeta: manifest.TypeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta(ControllerName, true),
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ControllerName}, Subjects: subject})
	} else {
		objs = append(objs,
			&rbacv1.ClusterRole{TypeMeta: manifest.TypeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: meta(ControllerName, false), Rules: rules},
			&rbacv1.ClusterRoleBinding{TypeMeta: manifest.TypeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ObjectMeta: meta(ControllerName, false),
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ControllerName}, Subjects: subject})
	}
	leaderName := ControllerName + "-leader-election"
	objs = append(objs,
		&rbacv1.Role{TypeMeta: manifest.TypeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta(leaderName, true), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, Verbs: []string{"create"}},
			{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, ResourceNames: []string{LeaderElectionID}, Verbs: []string{"get", "update"}},
		}},
		&rbacv1.RoleBinding{TypeMeta: manifest.TypeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta(leaderName, true),
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: leaderName}, Subjects: subject},
		deployment(o, labels, meta(ControllerName, true)),
		&corev1.Service{
			TypeMeta:   manifest.TypeMeta("v1", "Service"),
			ObjectMeta: meta(ControllerName+"-metrics", true),
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app.kubernetes.io/name": ControllerName},
				Ports:    []corev1.ServicePort{{Name: "http-metrics", Port: MetricsPort, TargetPort: intstr.FromString("http-metrics")}},
			},
		},
	)
	if o.GrafanaDashboard {
		objs = append(objs, grafana.ConfigMap(o.Namespace, ControllerName+"-dashboard", ControllerName+".json", grafana.RouteController, labels))
	}
	converted, err := manifest.ToUnstructured(objs...)
	if err != nil {
		return nil, err
	}
	return append(out, converted...), nil
}

// controllerRules are the controller's permissions, least privilege.
func controllerRules(resources []string) []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	guard := []string{"get", "list", "watch", "patch"}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"iter8.tools"}, Resources: []string{"routes"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{"iter8.tools"}, Resources: []string{"routes/status"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{"iter8.tools"}, Resources: []string{"routes/finalizers"}, Verbs: []string{"update"}},
		// What the renderers render: applied server-side, pruned.
		{APIGroups: []string{"networking.istio.io"}, Resources: []string{"virtualservices", "destinationrules", "serviceentries"}, Verbs: []string{"get", "create", "patch", "delete"}},
		{APIGroups: []string{"traefik.io"}, Resources: []string{"ingressroutes", "traefikservices", "middlewares"}, Verbs: []string{"get", "create", "patch", "delete"}},
		// Gateway API routes are watched too: their status says whether
		// the Gateways' controllers accepted them.
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"httproutes", "grpcroutes"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
		// Services are both: version backends (watched, guarded) and
		// rendered (kserve's ExternalName Service).
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
		// The Gateways routes attach to: is a controller serving them,
		// and which features their classes support.
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways", "gatewayclasses"}, Verbs: []string{"get"}},
		// The objects versions name: watched, and guarded by the finalizer.
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: guard},
		{APIGroups: []string{"serving.kserve.io"}, Resources: []string{"inferenceservices"}, Verbs: guard},
		{APIGroups: []string{"kustomize.toolkit.fluxcd.io"}, Resources: []string{"kustomizations"}, Verbs: read},
		// Secrets: the Git sinks' credentials (get); and the experiments of
		// rollouts' steps, with their ServiceAccounts, Roles, RoleBindings and
		// Jobs (create; update and patch on Secrets because an experiment's
		// Role grants them on its own Secret, and RBAC lets nobody grant
		// more than it holds).
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "create", "update", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"get", "create"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}, Verbs: []string{"get", "create"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "create"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	return append(rules, readiness.Rules(resources, guard)...)
}

// deployment runs the controller: leader-elected replicas, non-root, a
// read-only root file system with a scratch folder for Git clones.
func deployment(o InstallOptions, labels map[string]string, meta metav1.ObjectMeta) *appsv1.Deployment {
	args := []string{"controller", "--enable-leader-election", "--log-level=info",
		fmt.Sprintf("--metrics-addr=:%d", MetricsPort), fmt.Sprintf("--health-addr=:%d", HealthPort), "--git-dir=/tmp/git"}
	if o.Namespaced {
		args = append(args, "--watch-namespace="+o.Namespace)
	}
	return &appsv1.Deployment{
		TypeMeta:   manifest.TypeMeta("apps/v1", "Deployment"),
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(o.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": ControllerName}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"sidecar.istio.io/inject": "false"}},
				Spec: corev1.PodSpec{
					ServiceAccountName: ControllerName,
					SecurityContext:    manifest.PodSecurityContext(),
					Containers: []corev1.Container{{
						Name:    "controller",
						Image:   o.Image,
						Command: []string{version.ImageBinary("route")},
						Args:    args,
						Ports: []corev1.ContainerPort{
							{Name: "http-metrics", ContainerPort: MetricsPort},
							{Name: "healthz", ContainerPort: HealthPort},
						},
						LivenessProbe:   manifest.HTTPProbe("/healthz", "healthz"),
						ReadinessProbe:  manifest.HTTPProbe("/readyz", "healthz"),
						Resources:       manifest.Resources("100m", "64Mi", "1", "512Mi"),
						SecurityContext: manifest.SecurityContext(),
						VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
					}},
					Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
}
