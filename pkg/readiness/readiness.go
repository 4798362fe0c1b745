// Package readiness decides whether Kubernetes objects of any kind are ready:
// by the conditions a user names, or else by kstatus, the readiness rules
// kubectl and Flux share. It is used by the ready task, the route
// reconciler and the A/B/n service.
package readiness

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Status is the readiness of one object.
type Status struct {
	// Ready is true when the object may receive traffic or be load-tested.
	Ready bool
	// Reason says why the object is not ready.
	Reason string
}

// Of judges an object, nil meaning it does not exist. With conditions, each
// named condition must be True and the object's status must be about its
// current generation; without, kstatus must say Current.
func Of(obj *unstructured.Unstructured, conditions []string) Status {
	if obj == nil {
		return Status{Reason: "not found"}
	}
	if obj.GetDeletionTimestamp() != nil {
		return Status{Reason: "being deleted"}
	}
	if len(conditions) == 0 {
		res, err := status.Compute(obj)
		if err != nil {
			return Status{Reason: fmt.Sprintf("cannot compute status: %v", err)}
		}
		if res.Status != status.CurrentStatus {
			reason := string(res.Status)
			if res.Message != "" {
				reason += ": " + res.Message
			}
			return Status{Reason: reason}
		}
		return Status{Ready: true}
	}
	if og, found, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); found && og < obj.GetGeneration() {
		return Status{Reason: fmt.Sprintf("status is for generation %d, not the current %d", og, obj.GetGeneration())}
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var unmet []string
	for _, want := range conditions {
		c := findCondition(conds, want)
		switch {
		case c == nil:
			unmet = append(unmet, fmt.Sprintf("condition %s is not set", want))
		case c.Status != metav1.ConditionTrue:
			msg := fmt.Sprintf("condition %s is %s", want, c.Status)
			if c.Reason != "" {
				msg += " (" + c.Reason + ")"
			}
			if c.Message != "" {
				msg += ": " + c.Message
			}
			unmet = append(unmet, msg)
		}
	}
	if len(unmet) > 0 {
		return Status{Reason: strings.Join(unmet, "; ")}
	}
	return Status{Ready: true}
}

// condition is the part of a status condition readiness reads.
type condition struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

func findCondition(conds []any, typ string) *condition {
	i := slices.IndexFunc(conds, func(c any) bool {
		m, _ := c.(map[string]any)
		return m["type"] == typ
	})
	if i < 0 {
		return nil
	}
	m := conds[i].(map[string]any)
	s, _ := m["status"].(string)
	r, _ := m["reason"].(string)
	msg, _ := m["message"].(string)
	return &condition{Status: metav1.ConditionStatus(s), Reason: r, Message: msg}
}
