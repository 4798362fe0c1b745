package gitops

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ToUnstructured converts typed objects through their JSON form, which is
// what the API server sees (Istio's types, for one, have protobuf JSON
// marshalers), leaving out the fields the API server owns that typed
// objects always carry: status, and the creationTimestamp of the object and
// of its pod template.
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
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
		out = append(out, u)
	}
	return out, nil
}
