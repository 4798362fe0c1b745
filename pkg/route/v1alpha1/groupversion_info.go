// Package v1alpha1 is version v1alpha1 of the iter8.tools API group: the
// Route, which declares the versions of an app and how traffic reaches them.
//
// The types are plain Kubernetes API types (runtime.Object, generated
// DeepCopy, a SchemeBuilder), so controller-runtime clients and the
// generated CustomResourceDefinition in config/crd share them.
//
// +kubebuilder:object:generate=true
// +groupName=iter8.tools
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the types in this package.
	GroupVersion = schema.GroupVersion{Group: "iter8.tools", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a scheme, e.g. a
	// controller-runtime manager's.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Route{}, &RouteList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
