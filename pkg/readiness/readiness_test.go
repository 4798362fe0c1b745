package readiness_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/readiness"
)

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	// Through JSON, so numbers are int64 as when read from the API server.
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: default, generation: 2}
spec: {replicas: 2}
status:
  observedGeneration: %s
  replicas: 2
  updatedReplicas: 2
  readyReplicas: %s
  availableReplicas: %s
  conditions:
  - {type: Available, status: "%s", reason: MinimumReplicasAvailable}
`

func dep(t *testing.T, gen, ready, available, cond string) *unstructured.Unstructured {
	return parse(t, fmt.Sprintf(deployment, gen, ready, available, cond))
}

func TestOf(t *testing.T) {
	deleting := dep(t, "2", "2", "2", "True")
	now := metav1.Now()
	deleting.SetDeletionTimestamp(&now)
	isvc := parse(t, `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: m, generation: 1}
status:
  conditions:
  - {type: Ready, status: "False", reason: PredictorNotReady, message: loading}
  - {type: PredictorReady, status: "True"}
`)
	tests := []struct {
		name  string
		obj   *unstructured.Unstructured
		conds []string
		want  readiness.Status
	}{
		{"missing", nil, nil, readiness.Status{Reason: "not found"}},
		{"kstatus current", dep(t, "2", "2", "2", "True"), nil, readiness.Status{Ready: true}},
		{"kstatus in progress", dep(t, "2", "1", "1", "True"), nil, readiness.Status{Reason: "InProgress: Available: 1/2"}},
		{"kstatus old generation", dep(t, "1", "2", "2", "True"), nil, readiness.Status{Reason: "InProgress: Deployment generation is 2, but latest observed generation is 1"}},
		{"being deleted", deleting, nil, readiness.Status{Reason: "being deleted"}},
		{"named condition true", dep(t, "2", "1", "1", "True"), []string{"Available"}, readiness.Status{Ready: true}},
		{"named condition false", dep(t, "2", "0", "0", "False"), []string{"Available"}, readiness.Status{Reason: "condition Available is False (MinimumReplicasAvailable)"}},
		{"named condition old generation", dep(t, "1", "2", "2", "True"), []string{"Available"}, readiness.Status{Reason: "status is for generation 1, not the current 2"}},
		{"named conditions, one unmet with message", isvc, []string{"PredictorReady", "Ready"}, readiness.Status{Reason: "condition Ready is False (PredictorNotReady): loading"}},
		{"named condition absent", isvc, []string{"IngressReady"}, readiness.Status{Reason: "condition IngressReady is not set"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, readiness.Of(tc.obj, tc.conds)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
