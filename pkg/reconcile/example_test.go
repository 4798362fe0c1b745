package reconcile_test

import (
	"fmt"

	"github.com/iter8-tools/iter8/pkg/reconcile"
)

// The objects `kubectl iter8-route install --namespaced` applies.
func ExampleInstallObjects() {
	objs, err := reconcile.InstallObjects(reconcile.InstallOptions{Namespace: "shop", Namespaced: true, Replicas: 2, Image: "iter8:dev"})
	if err != nil {
		panic(err)
	}
	for _, o := range objs {
		fmt.Println(o.GetKind(), o.GetName())
	}
	// Output:
	// CustomResourceDefinition routes.iter8.tools
	// ServiceAccount iter8-route-controller
	// Role iter8-route-controller
	// RoleBinding iter8-route-controller
	// Role iter8-route-controller-leader-election
	// RoleBinding iter8-route-controller-leader-election
	// Deployment iter8-route-controller
	// Service iter8-route-controller-metrics
}
