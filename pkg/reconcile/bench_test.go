package reconcile_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
	"github.com/iter8-tools/iter8/pkg/runner"
)

// BenchmarkController measures the controller, run as the built
// kubectl-iter8_route binary against the real API server, with 1,000
// Routes of 3 versions each (100 with -short), apply sink:
//
//   - reconciles/s: the rate of the first reconcile of every Route (from
//     its metrics), until all are Ready;
//   - ready→applied p50/p99: from a candidate's Deployment changing
//     availability (the status update returning) to the VirtualService
//     with the new weights being observed by a watch, over 200 changes;
//   - peak-RSS-MB: the controller process's VmHWM at the end.
//
// Run it with: go test -run '^$' -bench Controller -benchtime 1x ./pkg/reconcile
func BenchmarkController(b *testing.B) {
	routes := 1000
	if testing.Short() {
		routes = 100
	}
	const samples = 200
	ctx := b.Context()
	cfg, c, cs, ns := benchSetup(b, "bench-")
	start := time.Now()
	createRoutes(b, c, cs, ns.Name, routes)
	b.Logf("created %d Routes, %d Services and Deployments in %s", routes, 3*routes, time.Since(start).Round(time.Millisecond))

	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePortB(b))
	ctrl := startControllerProcess(b, metricsAddr)
	start = time.Now()

	for {
		var list v1alpha1.RouteList
		if err := c.List(ctx, &list, client.InNamespace(ns.Name)); err != nil {
			b.Fatal(err)
		}
		n := 0
		for i := range list.Items {
			if ok, _ := ready(&list.Items[i]); ok {
				n++
			}
		}
		if n == routes {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("%d of %d Routes Ready after 10 minutes", n, routes)
		}
		time.Sleep(200 * time.Millisecond)
	}
	syncTime := time.Since(start)
	reconciles := scrapeSum(b, metricsAddr, `controller_runtime_reconcile_total{controller="iter8-route-controller",`)
	b.Logf("all %d Routes Ready %s after the controller started; %.0f reconciles, %.0f ms each on average, %.0f API requests",
		routes, syncTime.Round(time.Millisecond), reconciles,
		1000*scrapeSum(b, metricsAddr, `controller_runtime_reconcile_time_seconds_sum{controller="iter8-route-controller"}`)/reconciles,
		scrapeSum(b, metricsAddr, `rest_client_requests_total`))

	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	vsRes := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	w, err := dyn.Resource(vsRes).Namespace(ns.Name).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	b.ResetTimer()
	var latencies []time.Duration
	for i := range samples {
		name := fmt.Sprintf("r%04d", (i*7919)%routes)
		available := i/routes%2 == 1 // first pass: take v2 away; second: bring it back
		wantV2 := int64(0)
		if available {
			wantV2 = 33
		}
		d, err := cs.AppsV1().Deployments(ns.Name).Get(ctx, name+"-v2", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		d.Status = testenv.DeploymentStatus(d, available)
		t0 := time.Now()
		if _, err := cs.AppsV1().Deployments(ns.Name).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, waitVS(b, w, name, wantV2, t0))
	}
	b.StopTimer()
	slices.Sort(latencies)
	p := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	rss := peakRSS(b, ctrl.Process.Pid)
	b.ReportMetric(p(0.50), "ready→applied-p50-ms")
	b.ReportMetric(p(0.99), "ready→applied-p99-ms")
	b.ReportMetric(reconciles/syncTime.Seconds(), "reconciles/s")
	b.ReportMetric(rss, "peak-RSS-MB")
	b.ReportMetric(float64(routes), "routes")
}

// benchSetup installs the CRDs and returns a fast client config, clients
// and a new namespace named from prefix.
func benchSetup(b *testing.B, prefix string) (*rest.Config, client.Client, kubernetes.Interface, *corev1.Namespace) {
	b.Helper()
	ctx := b.Context()
	istio, err := testenv.IstioCRDs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, "../../config/crd", istio); err != nil {
		b.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	c := newClient(b, cfg)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	if err := c.Create(ctx, ns); err != nil {
		b.Fatal(err)
	}
	return cfg, c, cs, ns
}

// startControllerProcess builds kubectl-iter8_route and runs its
// controller against env until the benchmark ends, its metrics on
// metricsAddr; it returns once the process started.
func startControllerProcess(b *testing.B, metricsAddr string) *exec.Cmd {
	b.Helper()
	ctrl := exec.Command(buildPlugin(b), "controller", "--kubeconfig", env.Kubeconfig, "--metrics-addr", metricsAddr, "--health-addr", "0",
		"--kube-api-qps", "500", "--kube-api-burst", "1000", "--concurrent", "8", "--log-level", "error", "--git-dir", b.TempDir())
	log, err := os.Create(filepath.Join(b.TempDir(), "controller.log"))
	if err != nil {
		b.Fatal(err)
	}
	ctrl.Stdout, ctrl.Stderr = log, log
	if err := ctrl.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = ctrl.Process.Signal(os.Interrupt)
		_ = ctrl.Wait()
	})
	return ctrl
}

// createRoutes creates n Routes of 3 versions, v2 and v3 Available;
// change, when given, changes each Route before it is created.
func createRoutes(b *testing.B, c client.Client, cs kubernetes.Interface, ns string, n int, change ...func(*v1alpha1.Route)) {
	b.Helper()
	ctx := b.Context()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			name := fmt.Sprintf("r%04d", i)
			r := &v1alpha1.Route{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec:       v1alpha1.RouteSpec{Provider: v1alpha1.ProviderIstio, Strategy: v1alpha1.StrategyBlueGreen},
			}
			for _, v := range []string{"v1", "v2", "v3"} {
				obj := name + "-" + v
				svc := &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: obj},
					// Headless: the test cluster has 254 Service IPs.
					Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": obj}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
				}
				if _, err := cs.CoreV1().Services(ns).Create(gctx, svc, metav1.CreateOptions{}); err != nil {
					return err
				}
				labels := map[string]string{"app": obj}
				d := &appsv1.Deployment{
					ObjectMeta: metav1.ObjectMeta{Name: obj},
					Spec: appsv1.DeploymentSpec{
						Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}},
					},
				}
				d, err := cs.AppsV1().Deployments(ns).Create(gctx, d, metav1.CreateOptions{})
				if err != nil {
					return err
				}
				d.Status = testenv.DeploymentStatus(d, true)
				if _, err := cs.AppsV1().Deployments(ns).UpdateStatus(gctx, d, metav1.UpdateOptions{}); err != nil {
					return err
				}
				r.Spec.Versions = append(r.Spec.Versions, v1alpha1.Version{
					Name: v, Service: &v1alpha1.ServiceBackend{Name: obj, Port: 80}, Weight: ptr.To[int32](1),
					Readiness: []v1alpha1.ObjectReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: obj}},
				})
			}
			for _, f := range change {
				f(r)
			}
			return c.Create(gctx, r)
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// waitVS reads the watch until the VirtualService name gives v2 the
// weight, and returns the time since t0.
func waitVS(b *testing.B, w watch.Interface, name string, weight int64, t0 time.Time) time.Duration {
	b.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("the watch ended")
			}
			u, isU := ev.Object.(*unstructured.Unstructured)
			if !isU || ev.Type != watch.Modified || u.GetName() != name {
				continue
			}
			if vsWeights(u)["v2"] == weight {
				return time.Since(t0)
			}
		case <-timeout:
			b.Fatalf("the VirtualService %s did not give v2 weight %d", name, weight)
		}
	}
}

// buildPlugin builds kubectl-iter8_route from this module.
func buildPlugin(b *testing.B) string {
	b.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "kubectl-iter8_route")
	cmd := exec.Command("go", "build", "-o", bin, "./plugins/kubectl-iter8-route")
	cmd.Dir, cmd.Stderr = root, os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("building the plugin: %v", err)
	}
	return bin
}

func freePortB(b *testing.B) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// scrapeSum adds the samples of the series that start with prefix on a
// Prometheus text endpoint.
func scrapeSum(b *testing.B, addr, prefix string) float64 {
	b.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sum, n := 0.0, 0
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), prefix) {
			continue
		}
		f, err := strconv.ParseFloat(sc.Text()[strings.LastIndexByte(sc.Text(), ' ')+1:], 64)
		if err != nil {
			b.Fatal(err)
		}
		sum, n = sum+f, n+1
	}
	if n == 0 {
		b.Fatalf("no %s in the metrics", prefix)
	}
	return sum
}

// peakRSS is a process's peak resident set (VmHWM), in MB.
func peakRSS(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

// BenchmarkRollouts measures rollouts, the controller run as the built
// kubectl-iter8_route binary against the real API server, apply sink, with
// 100 Routes progressing at once. Each rolls its candidate out in two
// steps: 10% with an experiment (20 requests to a loopback server, no
// errors allowed, run in this process as the experiment's ServiceAccount
// by the test's kubelet), then 50% paused until resumed:
//
//   - verdict→live p50/p99: from the verdict recorded to step 2 live, as
//     the rollout's history records them;
//   - result→verdict p50/p99: from the experiment's result being written
//     (its end) to the verdict recorded;
//   - peak-RSS-MB: the controller's VmHWM once all 100 are paused at step
//     2, and waiting-RSS-MB, its VmHWM once all 100 waited for their
//     candidates (the same Routes before any rollout moved), the baseline.
//
// Run it with: go test -run '^$' -bench Rollouts -benchtime 1x ./pkg/reconcile
func BenchmarkRollouts(b *testing.B) {
	const routes = 100
	ctx := b.Context()
	_, c, cs, ns := benchSetup(b, "bench-rollouts-")
	app := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.Cleanup(app.Close)
	createRoutes(b, c, cs, ns.Name, routes, func(r *v1alpha1.Route) {
		r.Spec.Versions = r.Spec.Versions[:2]
		for i := range r.Spec.Versions {
			r.Spec.Versions[i].Weight = nil
		}
		r.Spec.Rollout = &v1alpha1.Rollout{Steps: []v1alpha1.RolloutStep{
			{Weight: ptr.To[int32](10), Analysis: analysis(b, app.URL)},
			{Weight: ptr.To[int32](50), Pause: &v1alpha1.Pause{UntilResumed: true}},
		}}
	})
	// The candidates are not ready until every rollout waits for its own.
	for i := range routes {
		setAvailable(b, ns.Name, fmt.Sprintf("r%04d-v2", i), false)
	}

	ctrl := startControllerProcess(b, "0")
	rollouts := func(phase v1alpha1.RolloutPhase, stage v1alpha1.RolloutStage, step int32) []v1alpha1.Route {
		deadline := time.Now().Add(10 * time.Minute)
		for {
			var list v1alpha1.RouteList
			if err := c.List(ctx, &list, client.InNamespace(ns.Name)); err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, r := range list.Items {
				if st := r.Status.Rollout; st != nil && st.Phase == phase && st.Stage == stage && st.Step == step {
					n++
				}
			}
			if n == routes {
				return list.Items
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d rollouts %s (%s) at step %d after 10 minutes", n, routes, phase, stage, step)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	rollouts(v1alpha1.RolloutWaiting, "", 0)
	waiting := peakRSS(b, ctrl.Process.Pid)

	b.ResetTimer()
	startKubelet(b, c, ns.Name)
	start := time.Now()
	for i := range routes {
		setAvailable(b, ns.Name, fmt.Sprintf("r%04d-v2", i), true)
	}
	list := rollouts(v1alpha1.RolloutPaused, v1alpha1.StagePausing, 2)
	b.StopTimer()
	b.Logf("100 rollouts paused at step 2 %s after their candidates became ready", time.Since(start).Round(time.Millisecond))
	var toLive, toVerdict []time.Duration
	for _, r := range list {
		st := r.Status.Rollout
		var verdict, live *v1alpha1.RolloutRecord
		for i := range st.History {
			h := &st.History[i]
			switch {
			case strings.Contains(h.Message, "passed: every SLO holds"):
				verdict = h
			case strings.HasPrefix(h.Message, "Step 2/2 live"):
				live = h
			}
		}
		if verdict == nil || live == nil {
			b.Fatalf("%s: history %+v", r.Name, st.History)
		}
		toLive = append(toLive, live.Time.Sub(verdict.Time.Time))
		exp, err := runner.Get(ctx, cs, ns.Name, strings.Fields(verdict.Message)[1])
		if err != nil || exp.Result == nil || exp.Result.EndTime == nil {
			b.Fatalf("%s: experiment of %q: %v", r.Name, verdict.Message, err)
		}
		toVerdict = append(toVerdict, verdict.Time.Sub(*exp.Result.EndTime))
	}
	pct := func(ds []time.Duration, q float64) float64 {
		slices.Sort(ds)
		return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000
	}
	rss := peakRSS(b, ctrl.Process.Pid)
	b.ReportMetric(pct(toLive, 0.50), "verdict→live-p50-ms")
	b.ReportMetric(pct(toLive, 0.99), "verdict→live-p99-ms")
	b.ReportMetric(pct(toVerdict, 0.50), "result→verdict-p50-ms")
	b.ReportMetric(pct(toVerdict, 0.99), "result→verdict-p99-ms")
	b.ReportMetric(waiting, "waiting-RSS-MB")
	b.ReportMetric(rss, "peak-RSS-MB")
}
