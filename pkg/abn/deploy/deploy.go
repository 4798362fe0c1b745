// Package deploy builds the Kubernetes objects that run the A/B/n service in
// a namespace: ServiceAccount, least-privilege Role and RoleBinding,
// Service, Deployment, and, as needed, a PersistentVolumeClaim for the
// embedded store and a ConfigMap with an applications file.
package deploy

import (
	"errors"
	"fmt"
	"net/url"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/config/grafana"
	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/readiness"
	"github.com/iter8-tools/iter8/pkg/version"
)

// Ports of the service.
const (
	// GRPCPort serves the gRPC API.
	GRPCPort = 50051
	// HTTPPort serves results, metrics and probes.
	HTTPPort = 8080
)

// Paths in the container.
const (
	// DataDir holds the embedded store.
	DataDir = "/var/lib/iter8-abn"
	// AppsDir holds the applications file, when there is one.
	AppsDir = "/etc/iter8-abn"
	// AppsKey is the applications file's key in its ConfigMap.
	AppsKey = "apps.yaml"
)

// StoreEmbedded is the Options.Store value for the embedded bolt store on
// a PersistentVolumeClaim.
const StoreEmbedded = "embedded"

// Options describe a deployment of the service.
type Options struct {
	// Name of the objects. Default: iter8-abn.
	Name string
	// Namespace of the objects.
	Namespace string
	// Image of the service; its entrypoint must be kubectl-iter8_abn.
	Image string
	// Replicas of the service: at least 1; more than one needs a Redis
	// store.
	Replicas int32
	// Store is StoreEmbedded (default) or a redis:// or rediss:// URL
	// without a password.
	Store string
	// StorePasswordSecret names a Secret whose key "password" holds the
	// Redis password.
	StorePasswordSecret string
	// StorageSize is the size of the embedded store's volume. Default: 1Gi.
	StorageSize string
	// StorageClass of the embedded store's volume; default: the cluster's.
	StorageClass string
	// Apps is the content of an applications file to serve; empty, the
	// service reads Routes.
	Apps []byte
	// ReadinessResources are GROUP/RESOURCE pairs (e.g.
	// "argoproj.io/rollouts") of the readiness objects of kinds the service
	// is not granted by default (Services, Deployments and
	// InferenceServices): it gets read access to them.
	ReadinessResources []string
	// GrafanaDashboard adds the service's Grafana dashboard, in a
	// ConfigMap that Grafana's dashboard sidecar loads.
	GrafanaDashboard bool
}

// Default fills in the defaults.
func (o *Options) Default() {
	if o.Name == "" {
		o.Name = "iter8-abn"
	}
	if o.Store == "" {
		o.Store = StoreEmbedded
	}
	if o.StorageSize == "" {
		o.StorageSize = "1Gi"
	}
}

// Validate reports every problem of defaulted options; messages name the
// command's flags.
func (o *Options) Validate() error {
	var errs []error
	for _, msg := range validation.IsDNS1035Label(o.Name) {
		errs = append(errs, fmt.Errorf("invalid value %q for flag --name: %s", o.Name, msg))
	}
	if o.Namespace == "" {
		errs = append(errs, errors.New("no namespace: pass -n/--namespace"))
	}
	if o.Image == "" {
		errs = append(errs, errors.New("flag --image is required"))
	}
	if o.Replicas < 1 {
		errs = append(errs, fmt.Errorf("invalid value %d for flag --replicas: must be at least 1", o.Replicas))
	}
	for _, gr := range o.ReadinessResources {
		if _, _, err := readiness.ParseGroupResource(gr); err != nil {
			errs = append(errs, fmt.Errorf("flag --readiness-resource: %w", err))
		}
	}
	embedded := o.Store == StoreEmbedded
	if !embedded {
		u, err := url.Parse(o.Store)
		switch {
		case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "":
			errs = append(errs, fmt.Errorf("invalid value %q for flag --store: allowed are %s and redis://HOST:PORT[/DB] (or rediss://)", o.Store, StoreEmbedded))
		case u.User != nil:
			if _, hasPassword := u.User.Password(); hasPassword {
				errs = append(errs, errors.New("flag --store holds a password: put it in a Secret (key \"password\") and pass --store-password-secret NAME"))
			}
		}
	}
	if embedded && o.Replicas > 1 {
		errs = append(errs, fmt.Errorf("flag --replicas is %d but the embedded store serves one replica: pass --store redis://HOST:PORT for several", o.Replicas))
	}
	if embedded && o.StorePasswordSecret != "" {
		errs = append(errs, errors.New("flag --store-password-secret needs a Redis --store"))
	}
	if !embedded && o.StorageClass != "" {
		errs = append(errs, errors.New("flag --storage-class is for the embedded store only"))
	}
	if _, err := resource.ParseQuantity(o.StorageSize); err != nil {
		errs = append(errs, fmt.Errorf("invalid value %q for flag --storage-size: %v", o.StorageSize, err))
	}
	if len(o.Apps) > 0 {
		if _, err := abn.ParseApps("--apps", o.Apps); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Objects returns the objects of the deployment, in apply order. Options
// must be defaulted and valid.
func Objects(o Options) ([]*unstructured.Unstructured, error) {
	labels := map[string]string{
		"app.kubernetes.io/name":     "iter8-abn",
		"app.kubernetes.io/instance": o.Name,
		"app.kubernetes.io/part-of":  "iter8",
	}
	selector := map[string]string{"app.kubernetes.io/name": "iter8-abn", "app.kubernetes.io/instance": o.Name}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels}
	}
	read := []string{"get", "list", "watch"}
	objs := []any{
		&corev1.ServiceAccount{TypeMeta: manifest.TypeMeta("v1", "ServiceAccount"), ObjectMeta: meta(o.Name)},
		&rbacv1.Role{
			TypeMeta: manifest.TypeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: meta(o.Name),
			// The service reads Routes, and the objects their versions
			// name, to learn which versions are ready. Nothing else.
			Rules: append([]rbacv1.PolicyRule{
				{APIGroups: []string{"iter8.tools"}, Resources: []string{"routes"}, Verbs: read},
				{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: read},
				{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: read},
				{APIGroups: []string{"serving.kserve.io"}, Resources: []string{"inferenceservices"}, Verbs: read},
			}, readiness.Rules(o.ReadinessResources, read)...),
		},
		&rbacv1.RoleBinding{
			TypeMeta: manifest.TypeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: meta(o.Name),
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: o.Name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: o.Name, Namespace: o.Namespace}},
		},
	}

	args := []string{"serve", fmt.Sprintf("--grpc-address=:%d", GRPCPort), fmt.Sprintf("--http-address=:%d", HTTPPort)}
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	var env []corev1.EnvVar
	strategy := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	if o.Store == StoreEmbedded {
		claim := o.Name + "-data"
		pvc := &corev1.PersistentVolumeClaim{
			TypeMeta: manifest.TypeMeta("v1", "PersistentVolumeClaim"), ObjectMeta: meta(claim),
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(o.StorageSize)}},
			},
		}
		if o.StorageClass != "" {
			pvc.Spec.StorageClassName = ptr.To(o.StorageClass)
		}
		objs = append(objs, pvc)
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: DataDir})
		args = append(args, "--store=bolt:"+DataDir+"/abn.db")
		// One pod at a time holds the volume and the file's lock.
		strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	} else {
		args = append(args, "--store="+o.Store)
		if o.StorePasswordSecret != "" {
			env = append(env, corev1.EnvVar{Name: "REDIS_PASSWORD", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: o.StorePasswordSecret}, Key: "password"},
			}})
		}
	}
	if len(o.Apps) > 0 {
		cm := o.Name + "-apps"
		objs = append(objs, &corev1.ConfigMap{
			TypeMeta: manifest.TypeMeta("v1", "ConfigMap"), ObjectMeta: meta(cm),
			Data: map[string]string{AppsKey: string(o.Apps)},
		})
		volumes = append(volumes, corev1.Volume{Name: "apps", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "apps", MountPath: AppsDir, ReadOnly: true})
		args = append(args, "--apps="+AppsDir+"/"+AppsKey)
	}

	objs = append(objs,
		&corev1.Service{
			TypeMeta: manifest.TypeMeta("v1", "Service"), ObjectMeta: meta(o.Name),
			Spec: corev1.ServiceSpec{
				Selector: selector,
				Ports: []corev1.ServicePort{
					{Name: "grpc", Port: GRPCPort, TargetPort: intstr.FromString("grpc"), AppProtocol: ptr.To("grpc")},
					{Name: "http", Port: HTTPPort, TargetPort: intstr.FromString("http")},
				},
			},
		},
		&appsv1.Deployment{
			TypeMeta: manifest.TypeMeta("apps/v1", "Deployment"), ObjectMeta: meta(o.Name),
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(o.Replicas),
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Strategy: strategy,
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: o.Name,
						SecurityContext:    manifest.PodSecurityContext(),
						Containers: []corev1.Container{{
							Name:  "abn",
							Image: o.Image,
							Args:  args,
							Env:   env,
							Ports: []corev1.ContainerPort{
								{Name: "grpc", ContainerPort: GRPCPort},
								{Name: "http", ContainerPort: HTTPPort},
							},
							ReadinessProbe:  manifest.HTTPProbe("/readyz", "http"),
							LivenessProbe:   manifest.HTTPProbe("/healthz", "http"),
							Resources:       manifest.Resources("100m", "64Mi", "", "256Mi"),
							SecurityContext: manifest.SecurityContext(),
							VolumeMounts:    mounts,
						}},
						Volumes: volumes,
					},
				},
			},
		},
	)
	if o.GrafanaDashboard {
		objs = append(objs, grafana.ConfigMap(o.Namespace, o.Name+"-dashboard", "iter8-abn.json", grafana.ABN, labels))
	}
	return manifest.ToUnstructured(objs...)
}

// DefaultImage is the service's image of this build (version.Image).
func DefaultImage() string { return version.Image("abn") }
