package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/abn/deploy"
	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/version"
)

// nodeVersions creates, on cluster, the Service and a running Deployment
// (testenv.PauseImage) of each version of checkout.
func nodeVersions(t *testing.T, ns string, versions ...string) {
	t.Helper()
	for _, v := range versions {
		name := "checkout-" + v
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}},
		}
		if _, err := cluster.env.Client.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		runningDeployment(t, ns, name)
	}
}

// podOf returns the one pod in ns labelled selector, once it is Running.
func podOf(t *testing.T, ns, selector string) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	waitFor(t, "a Running pod "+selector+" in "+ns, func() (bool, string) {
		pods, err := cluster.env.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err.Error()
		}
		if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodRunning {
			return false, fmt.Sprintf("%d pods", len(pods.Items))
		}
		pod = pods.Items[0]
		return true, ""
	})
	return pod
}

// checkRunsImage checks that pod's one container runs component's image,
// as the image's numeric user.
func checkRunsImage(t *testing.T, pod corev1.Pod, component string) {
	t.Helper()
	want := version.ImageName(component) + ":" + e2eVersion
	st := pod.Status.ContainerStatuses
	if len(st) != 1 || st[0].Image != want || st[0].ImageID == "" || !st[0].Ready {
		t.Errorf("pod %s: container statuses %+v, want %s ready", pod.Name, st, want)
	}
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != version.ImageUID || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("pod %s: security context %+v, want runAsNonRoot and runAsUser %d", pod.Name, sc, version.ImageUID)
	}
}

// startControllerInAPod installs Istio's CRDs and, with kubectl iter8-route
// install, the Route controller on cluster, and waits until its pod (on
// the real node, from the route image) is Available. It stays for later
// tests: installing again changes nothing.
func startControllerInAPod(t *testing.T) {
	t.Helper()
	e := cluster.env
	istio, err := testenv.IstioCRDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InstallCRDs(t.Context(), istio); err != nil {
		t.Fatal(err)
	}
	mustKubectlOn(t, e, "", "iter8-route", "install", "--replicas=1")
	mustKubectlOn(t, e, "", "wait", "--for=condition=Available", "deployment/"+reconcile.ControllerName,
		"-n", reconcile.DefaultInstallNamespace, "--timeout=120s")
}

// TestRouteControllerInAPod installs the Route controller on cluster with
// kubectl iter8-route install: it runs from the route image in a pod that
// passes its probes, and reconciles a Route whose versions are real
// Deployments into the Istio routing their weights say.
func TestRouteControllerInAPod(t *testing.T) {
	ctx := t.Context()
	e := cluster.env
	startControllerInAPod(t)
	checkRunsImage(t, podOf(t, reconcile.DefaultInstallNamespace, "app.kubernetes.io/name="+reconcile.ControllerName), "route")

	ns, err := e.CreateNamespace(ctx, "shop-on-node")
	if err != nil {
		t.Fatal(err)
	}
	nodeVersions(t, ns, "v1", "v2")
	mustKubectlOn(t, e, `apiVersion: iter8.tools/v1alpha1
kind: Route
metadata: {name: checkout}
spec:
  provider: istio
  strategy: blue-green
  versions:
  - name: v1
    weight: 90
    service: {name: checkout-v1, port: 8080}
    readiness: [{apiVersion: apps/v1, kind: Deployment, name: checkout-v1}]
  - name: v2
    weight: 10
    service: {name: checkout-v2, port: 8080}
    readiness: [{apiVersion: apps/v1, kind: Deployment, name: checkout-v2}]
`, "apply", "-n", ns, "-f", "-")
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the controller's pod routes 90/10", func() (bool, string) {
		w, manager := liveWeights(t, dyn, ns, "checkout")
		return w["v1"] == 90 && w["v2"] == 10 && len(w) == 2, fmt.Sprintf("weights %v by %q", w, manager)
	})
	mustKubectlOn(t, e, "", "wait", "--for=condition=Ready", "route/checkout", "-n", ns, "--timeout=60s")
}

// TestABNServiceInAPod deploys the A/B/n service on cluster with kubectl
// iter8-abn deploy: it runs from the abn image with its embedded store on
// a PersistentVolume, learns the application from an abn Route through
// its ServiceAccount, and answers a Lookup at its pod's address.
func TestABNServiceInAPod(t *testing.T) {
	ctx := t.Context()
	e := cluster.env
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := e.CreateNamespace(ctx, "abn-on-node")
	if err != nil {
		t.Fatal(err)
	}
	mustKubectlOn(t, e, "", "apply", "--server-side", "-f", filepath.Join(root, "config", "crd"))

	// A volume for the store's claim, owned by the image's user, as a
	// cluster's provisioner would give.
	data := t.TempDir()
	if err := os.Chown(data, int(version.ImageUID), int(version.ImageUID)); err != nil {
		t.Fatal(err)
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "abn-on-node-data"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: data}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: "iter8-abn-data"},
		},
	}
	if _, err := e.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}) })

	mustKubectlOn(t, e, "", "iter8-abn", "deploy", "-n", ns)
	mustKubectlOn(t, e, "", "wait", "--for=condition=Available", "deployment/iter8-abn", "-n", ns, "--timeout=120s")
	pod := podOf(t, ns, "app.kubernetes.io/name=iter8-abn")
	checkRunsImage(t, pod, "abn")

	nodeVersions(t, ns, "v1", "v2")
	mustKubectlOn(t, e, checkoutRoute, "apply", "-n", ns, "-f", "-")
	endpoint := fmt.Sprintf("%s:%d", pod.Status.PodIP, deploy.GRPCPort)
	var got struct{ Name string }
	waitFor(t, "the service in the pod answers a Lookup", func() (bool, string) {
		out, errOut, code := kubectlOn(t, e, "", "iter8-abn", "lookup", "checkout", "ann", "--endpoint", endpoint, "-o", "json")
		if code != 0 {
			return false, errOut
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			return false, err.Error()
		}
		return slices.Contains([]string{"v1", "v2"}, got.Name), out
	})
	// The store is on the volume.
	entries, err := os.ReadDir(data)
	if err != nil || len(entries) == 0 {
		t.Errorf("the store wrote nothing to its volume %s: %v %v", data, entries, err)
	}
}
