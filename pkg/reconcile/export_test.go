package reconcile

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NewForTest returns a RouteReconciler outside of a manager: it reads
// through c (in place of the manager's cache) and apiReader, and starts no
// watch for the given kinds, which it takes as watched already.
func NewForTest(c client.Client, apiReader client.Reader, watched ...schema.GroupVersionKind) *RouteReconciler {
	r := &RouteReconciler{Client: c, APIReader: apiReader, watched: map[schema.GroupVersionKind]bool{}}
	for _, gvk := range watched {
		r.watched[gvk] = true
	}
	return r
}
