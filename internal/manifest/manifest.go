// Package manifest is the one home of the Kubernetes objects iter8 builds for
// its own workloads (the experiment Job, the A/B/n service, the Route
// controller) and of how any object iter8 makes is converted and printed:
// the hardened pod every image runs in, typed objects converted to what the
// API server sees, and the YAML or JSON that dry runs print and Git holds.
package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/version"
)

// TypeMeta is the apiVersion and kind of a typed object.
func TypeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// PodSecurityContext is the security context of every pod that runs one
// of iter8's images: as the image's numeric user and group (runAsUser, not
// only runAsNonRoot, so that a cluster need not look the user up), owning
// its volumes (fsGroup), with the runtime's default seccomp profile.
func PodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To(version.ImageUID),
		RunAsGroup:     ptr.To(version.ImageUID),
		FSGroup:        ptr.To(version.ImageUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// SecurityContext is the security context of every container of iter8's
// images: no privilege escalation, no capabilities, a read-only root file
// system (what a container writes goes to a volume).
func SecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// Resources are a container's requests and limits, as quantities ("250m",
// "64Mi"); an empty limit is no limit. The values are iter8's own, so a bad
// one is a programming error and panics.
func Resources(cpuRequest, memoryRequest, cpuLimit, memoryLimit string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuRequest), corev1.ResourceMemory: resource.MustParse(memoryRequest)},
		Limits:   corev1.ResourceList{},
	}
	if cpuLimit != "" {
		r.Limits[corev1.ResourceCPU] = resource.MustParse(cpuLimit)
	}
	if memoryLimit != "" {
		r.Limits[corev1.ResourceMemory] = resource.MustParse(memoryLimit)
	}
	return r
}

// HTTPProbe probes path on the container's named port.
func HTTPProbe(path, port string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(port)}}}
}

// ToUnstructured converts typed objects through their JSON form, which is
// what the API server sees (Istio's types, for one, have protobuf JSON
// marshalers), leaving out the fields the API server owns that typed
// objects always carry: status, and the creationTimestamp of the object and
// of its pod template (a CronJob's too).
func ToUnstructured(objs ...any) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, obj := range objs {
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("converting %T: %w", obj, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("converting %T: %w", obj, err)
		}
		delete(u.Object, "status")
		for _, path := range [][]string{
			{"metadata"},
			{"spec", "template", "metadata"},
			{"spec", "jobTemplate", "metadata"},
			{"spec", "jobTemplate", "spec", "template", "metadata"},
		} {
			unstructured.RemoveNestedField(u.Object, append(path, "creationTimestamp")...)
		}
		out = append(out, u)
	}
	return out, nil
}

// FromObjects is ToUnstructured for a list of runtime objects.
func FromObjects(objs []runtime.Object) ([]*unstructured.Unstructured, error) {
	anys := make([]any, len(objs))
	for i, o := range objs {
		anys[i] = o
	}
	return ToUnstructured(anys...)
}

// Marshal renders an object as YAML deterministically: keys sorted, with
// the fields the API server owns (status, creationTimestamp, resourceVersion,
// uid, generation, managedFields) left out. It is what Git holds and what a
// dry run prints.
func Marshal(obj *unstructured.Unstructured) ([]byte, error) {
	o := declared(obj)
	b, err := yaml.Marshal(o.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s: %w", o.GetKind(), o.GetName(), err)
	}
	return b, nil
}

// declared is a copy of obj without the fields the API server owns.
func declared(obj *unstructured.Unstructured) *unstructured.Unstructured {
	o := obj.DeepCopy()
	unstructured.RemoveNestedField(o.Object, "status")
	for _, f := range []string{"creationTimestamp", "resourceVersion", "uid", "generation", "managedFields"} {
		unstructured.RemoveNestedField(o.Object, "metadata", f)
	}
	return o
}

// Formats of Print.
const (
	YAML = "yaml"
	JSON = "json"
)

// Print writes objects as kubectl prints several, without the fields the
// API server owns: a JSON List for JSON, else YAML documents separated by
// "---", each as Marshal renders it.
func Print(w io.Writer, format string, objs []*unstructured.Unstructured) error {
	if format == JSON {
		items := make([]any, len(objs))
		for i, obj := range objs {
			items[i] = declared(obj).Object
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}); err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		_, err := w.Write(buf.Bytes())
		return err
	}
	var buf bytes.Buffer
	for i, obj := range objs {
		b, err := Marshal(obj)
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
