// Package grafana holds the Grafana dashboards of the Route controller and
// the A/B/n service (JSON, on a Prometheus data source chosen by the
// dashboard's datasource variable), embedded for `kubectl iter8-route
// install --grafana-dashboard` and `kubectl iter8-abn deploy
// --grafana-dashboard`, which put them in a ConfigMap that Grafana's
// dashboard sidecar loads (label grafana_dashboard: "1").
package grafana

import (
	_ "embed"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The dashboards.
var (
	//go:embed route-controller.json
	RouteController string
	//go:embed abn.json
	ABN string
)

// SidecarLabel is the label Grafana's dashboard sidecar (the Grafana Helm
// chart's sidecar.dashboards) looks for on ConfigMaps.
const SidecarLabel = "grafana_dashboard"

// ConfigMap holds a dashboard as file in a ConfigMap the sidecar loads.
func ConfigMap(namespace, name, file, dashboard string, labels map[string]string) *corev1.ConfigMap {
	l := map[string]string{SidecarLabel: "1"}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: l},
		Data:       map[string]string{file: dashboard},
	}
}
