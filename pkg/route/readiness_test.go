package route_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/iter8-tools/iter8/pkg/readiness"
	"github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

func TestVersionChecks(t *testing.T) {
	r := &v1alpha1.Route{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "shop"}}
	deploy := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	tests := []struct {
		name    string
		version v1alpha1.Version
		want    []readiness.Check
	}{
		{
			name: "service and readiness objects with defaults and overrides",
			version: v1alpha1.Version{
				Name:    "v2",
				Service: &v1alpha1.ServiceBackend{Name: "app-v2"},
				Readiness: []v1alpha1.ObjectReference{
					{APIVersion: "apps/v1", Kind: "Deployment", Name: "app-v2"},
					{APIVersion: "batch/v1", Kind: "Job", Name: "migrate", Namespace: "ops", Condition: "Complete"},
					{APIVersion: "v1", Kind: "ConfigMap", Name: "flags"},
				},
			},
			want: []readiness.Check{
				{GVK: readiness.ServiceGVK, Namespace: "shop", Name: "app-v2"},
				{GVK: deploy, Namespace: "shop", Name: "app-v2", Conditions: []string{"Available"}},
				{GVK: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, Namespace: "ops", Name: "migrate", Conditions: []string{"Complete"}},
				{GVK: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, Namespace: "shop", Name: "flags"},
			},
		},
		{
			name:    "inference service is judged by Ready",
			version: v1alpha1.Version{Name: "m", InferenceService: &v1alpha1.InferenceServiceBackend{Name: "model"}},
			want:    []readiness.Check{{GVK: readiness.InferenceServiceGVK, Namespace: "shop", Name: "model", Conditions: []string{"Ready"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := route.VersionChecks(r, &tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	bad := &v1alpha1.Version{Name: "v3", Readiness: []v1alpha1.ObjectReference{{APIVersion: "a/b/c", Kind: "X", Name: "x"}}}
	if _, err := route.VersionChecks(r, bad); err == nil {
		t.Error("a bad apiVersion was accepted")
	}
}
