package testenv

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeploymentStatus is the status the Deployment controller gives d, for its
// current generation, once its one replica is available (Available and
// Progressing with reason NewReplicaSetAvailable), or while it is not
// (Available False); Available's reason is MinimumReplicas either way. The control plane of the tests runs no Deployment
// controller, so tests write it.
func DeploymentStatus(d *appsv1.Deployment, available bool) appsv1.DeploymentStatus {
	status, n := corev1.ConditionFalse, int32(0)
	if available {
		status, n = corev1.ConditionTrue, 1
	}
	now := metav1.Now()
	return appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: status, Reason: "MinimumReplicas", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
		},
	}
}

// SetDeploymentAvailable writes DeploymentStatus to the Deployment
// namespace/name.
func (e *Env) SetDeploymentAvailable(ctx context.Context, namespace, name string, available bool) error {
	d, err := e.Client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("setting the status of Deployment %s/%s: %w", namespace, name, err)
	}
	d.Status = DeploymentStatus(d, available)
	if _, err := e.Client.AppsV1().Deployments(namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting the status of Deployment %s/%s: %w", namespace, name, err)
	}
	return nil
}
