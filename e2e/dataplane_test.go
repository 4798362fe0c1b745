package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/iter8-tools/iter8/pkg/reconcile"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// The hosts of examples/gateway-api's Routes.
const (
	checkoutHost = "checkout.example.com"
	grpcHost     = "checkout-grpc.example.com"
)

// TestBlueGreenThroughTraefik routes real requests by what the controller
// renders from examples/gateway-api/blue-green.yaml (an HTTPRoute) and
// examples/traefik/blue-green.yaml (a weighted TraefikService): 90/10 is
// exactly what Traefik's weighted round robin promises, and a weight change
// is live on the wire once the Route is Ready again.
func TestBlueGreenThroughTraefik(t *testing.T) {
	for _, file := range []string{"gateway-api/blue-green.yaml", "traefik/blue-green.yaml"} {
		t.Run(file, func(t *testing.T) {
			d := startDataPlane(t, "dp-blue-green")
			v1, v2 := d.serveHTTP(t, "v1"), d.serveHTTP(t, "v2")
			d.applyRoute(t, file)

			s1, s2 := v1.served.Load(), v2.served.Load()
			got := d.count(t, checkoutHost, nil, 2000)
			if !within(got["v1"], 1800, 2000) || !within(got["v2"], 200, 2000) || len(got) != 2 {
				t.Errorf("90/10 over 2,000 requests: %v", got)
			}
			if a, b := int(v1.served.Load()-s1), int(v2.served.Load()-s2); a != got["v1"] || b != got["v2"] {
				t.Errorf("the backends served v1 %d, v2 %d; the answers said %v", a, b, got)
			}

			start := time.Now()
			mustKubectl(t, "", "iter8-route", "set-weight", "checkout", "v1=50", "v2=50", "-n", d.ns)
			d.waitRoute(t, "checkout")
			t.Logf("set-weight to Ready: %s", time.Since(start).Round(time.Millisecond))
			got = d.count(t, checkoutHost, nil, 2000)
			if !within(got["v1"], 1000, 2000) || !within(got["v2"], 1000, 2000) {
				t.Errorf("50/50 over 2,000 requests, right after the Route was Ready: %v", got)
			}
		})
	}
}

// TestReadinessMovesTrafficThroughTraefik flips the candidate's Deployment
// between Available and not, and measures on the wire how long its traffic
// takes to leave and to come back.
func TestReadinessMovesTrafficThroughTraefik(t *testing.T) {
	d := startDataPlane(t, "dp-readiness")
	d.serveHTTP(t, "v1")
	d.serveHTTP(t, "v2")
	d.applyRoute(t, "gateway-api/blue-green.yaml")
	mustKubectl(t, "", "iter8-route", "set-weight", "checkout", "v1=50", "v2=50", "-n", d.ns)
	d.waitRoute(t, "checkout")

	ctx := t.Context()
	// moved sends requests one after the other from t0 until traffic has
	// moved: v2 answered (in), or 200 answers in a row came from elsewhere
	// (out, 100 times what 50/50 gives by chance). It returns the time from
	// t0 to v2's first answer, or to the first answer of that run.
	moved := func(t0 time.Time, in bool) time.Duration {
		t.Helper()
		run, runStart := 0, time.Time{}
		for deadline := t0.Add(30 * time.Second); time.Now().Before(deadline); {
			v, err := d.get(ctx, checkoutHost, nil)
			if err != nil {
				t.Fatalf("a request failed while readiness changed: %v", err)
			}
			at := time.Now()
			switch {
			case v == "v2" && in:
				return at.Sub(t0)
			case v == "v2":
				run = 0
			case run == 0:
				run, runStart = 1, at
			default:
				run++
			}
			if !in && run == 200 {
				return runStart.Sub(t0)
			}
		}
		t.Fatalf("traffic did not move (in: %t) in 30s", in)
		return 0
	}
	const flips = 10
	var out, in []time.Duration
	for range flips {
		t0 := time.Now()
		setAvailability(t, d.ns, "checkout-v2", false)
		out = append(out, moved(t0, false))
		t0 = time.Now()
		setAvailability(t, d.ns, "checkout-v2", true)
		in = append(in, moved(t0, true))
	}
	p := func(ds []time.Duration, q float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Millisecond)
	}
	all := append(slices.Clone(out), in...)
	t.Logf("readiness change → traffic moved on the wire over %d flips: unavailable p50 %s p99 %s; available p50 %s p99 %s; all p50 %s p99 %s",
		flips, p(out, .5), p(out, .99), p(in, .5), p(in, .99), p(all, .5), p(all, .99))
}

// TestCanaryThroughTraefik: requests with the canary header or cookie
// reach the candidate, the others the primary; and none reach a candidate
// that is not ready; rendered as an HTTPRoute and as Traefik's
// IngressRoute.
func TestCanaryThroughTraefik(t *testing.T) {
	cases := []struct {
		header http.Header
		want   string
	}{
		{nil, "v1"},
		{http.Header{"X-Canary": {"true"}}, "v2"},
		{http.Header{"X-Canary": {"false"}}, "v1"},
		{http.Header{"Cookie": {"canary=yes"}}, "v2"},
		{http.Header{"Cookie": {"session=a1; canary=yes; theme=dark"}}, "v2"},
		{http.Header{"Cookie": {"canary=yesplease"}}, "v1"},
		{http.Header{"Cookie": {"notcanary=yes"}}, "v1"},
	}
	for _, file := range []string{"gateway-api/canary.yaml", "traefik/canary.yaml"} {
		t.Run(file, func(t *testing.T) {
			d := startDataPlane(t, "dp-canary")
			d.serveHTTP(t, "v1")
			d.serveHTTP(t, "v2")
			d.applyRoute(t, file)
			check := func(readyV2 bool) {
				t.Helper()
				for _, c := range cases {
					want := c.want
					if !readyV2 {
						want = "v1"
					}
					if got := d.count(t, checkoutHost, c.header, 50); got[want] != 50 {
						t.Errorf("v2 ready %t, header %v: %v, want all %s", readyV2, c.header, got, want)
					}
				}
			}
			check(true)
			setAvailability(t, d.ns, "checkout-v2", false)
			d.waitRoute(t, "checkout")
			check(false)
		})
	}
}

// TestABNThroughTraefik: x-iter8-version picks the version, and every
// response names the version that served it (d.get checks it against the
// body).
func TestABNThroughTraefik(t *testing.T) {
	d := startDataPlane(t, "dp-abn")
	d.serveHTTP(t, "v1")
	d.serveHTTP(t, "v2")
	d.applyRoute(t, "gateway-api/abn.yaml")
	for _, c := range []struct{ header, want string }{{"", "v1"}, {"v1", "v1"}, {"v2", "v2"}, {"v3", "v1"}} {
		h := http.Header{}
		if c.header != "" {
			h.Set("x-iter8-version", c.header)
		}
		if got := d.count(t, checkoutHost, h, 50); got[c.want] != 50 {
			t.Errorf("x-iter8-version %q: %v, want all %s", c.header, got, c.want)
		}
	}
}

// TestGRPCThroughTraefik: a GRPCRoute splits unary calls 70/30 between two
// real gRPC backends.
func TestGRPCThroughTraefik(t *testing.T) {
	d := startDataPlane(t, "dp-grpc")
	v1, v2 := d.serveGRPC(t, "v1"), d.serveGRPC(t, "v2")
	d.applyRoute(t, "gateway-api/grpc.yaml")
	hc := d.grpcClient(t, grpcHost)
	s1, s2 := v1.served.Load(), v2.served.Load()
	const n = 2000
	for i := range n {
		if _, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if a, b := int(v1.served.Load()-s1), int(v2.served.Load()-s2); !within(a, 1400, n) || !within(b, 600, n) || a+b != n {
		t.Errorf("70/30 over %d unary calls: v1 %d, v2 %d", n, a, b)
	}
}

// TestDeletionUnderLoadWithTwoRoutes deletes a candidate that an HTTP and a
// gRPC Route both route to, under a steady load on both: the Deployment
// goes only once neither routes to it, its servers stop only then, and no
// request fails.
func TestDeletionUnderLoadWithTwoRoutes(t *testing.T) {
	ctx := t.Context()
	d := startDataPlane(t, "dp-delete")
	d.serveHTTP(t, "v1")
	h2 := d.serveHTTP(t, "v2")
	d.serveGRPC(t, "v1")
	g2 := d.serveGRPC(t, "v2")
	d.applyRoute(t, "gateway-api/blue-green.yaml")
	d.applyRoute(t, "gateway-api/grpc.yaml")
	dep, err := env.Client.AppsV1().Deployments(d.ns).Get(ctx, "checkout-v2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range []string{"checkout", "checkout-grpc"} {
		if f := reconcile.VersionFinalizer(d.ns, route); !slices.Contains(dep.Finalizers, f) {
			t.Errorf("checkout-v2 lacks the finalizer of Route %s, %s: %v", route, f, dep.Finalizers)
		}
	}

	hc := d.grpcClient(t, grpcHost)
	const httpRate, grpcRate = 200, 100
	stopHTTP := load(httpRate, 2*time.Minute, func(ctx context.Context) error {
		_, err := d.get(ctx, checkoutHost, nil)
		return err
	})
	stopGRPC := load(grpcRate, 2*time.Minute, func(ctx context.Context) error {
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	})
	time.Sleep(time.Second)
	servedHTTP, servedGRPC := h2.served.Load(), g2.served.Load()
	start := time.Now()
	if err := env.Client.AppsV1().Deployments(d.ns).Delete(ctx, "checkout-v2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted Deployment is gone", func() (bool, string) {
		_, err := env.Client.AppsV1().Deployments(d.ns).Get(ctx, "checkout-v2", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	gone := time.Since(start)
	h2.stop()
	g2.stop()
	time.Sleep(time.Second)
	sentHTTP, errsHTTP := stopHTTP()
	sentGRPC, errsGRPC := stopGRPC()
	t.Logf("deleted under %d HTTP + %d gRPC requests/s: gone after %s; %d HTTP requests (%d failed), %d gRPC calls (%d failed)",
		httpRate, grpcRate, gone.Round(time.Millisecond), sentHTTP, len(errsHTTP), sentGRPC, len(errsGRPC))
	if servedHTTP == 0 || servedGRPC == 0 {
		t.Errorf("before the deletion, v2 served %d HTTP requests and %d gRPC calls: both Routes must route to it", servedHTTP, servedGRPC)
	}
	if len(errsHTTP) > 0 {
		t.Errorf("HTTP requests failed: %v", errorsOf(errsHTTP))
	}
	if len(errsGRPC) > 0 {
		t.Errorf("gRPC calls failed: %v", errorsOf(errsGRPC))
	}
}

// TestMirrorRefusedWhereUnsupported: Traefik's GatewayClass does not list
// HTTPRouteRequestMirror among its supported features (Traefik v3.7 would
// answer 500 to every request of a rule with that filter), so the
// controller leaves the routing as it was and says why, and requests keep
// their answers.
func TestMirrorRefusedWhereUnsupported(t *testing.T) {
	d := startDataPlane(t, "dp-mirror")
	d.serveHTTP(t, "v1")
	d.serveHTTP(t, "v2")
	d.applyRoute(t, "gateway-api/blue-green.yaml")
	mustKubectl(t, "", "apply", "--server-side", "-n", d.ns, "-f", examplePath(t, "gateway-api/mirror.yaml"))
	waitFor(t, "the Route says the Gateway's class cannot mirror", func() (bool, string) {
		out, _, _ := kubectlAdmin(t, "", "get", "route", "checkout", "-n", d.ns, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`)
		return strings.HasPrefix(out, reconcile.ReasonRoutingNotSupported+": ") &&
			strings.Contains(out, "HTTPRouteRequestMirror") && strings.Contains(out, "GatewayClass traefik"), out
	})
	if got := d.count(t, checkoutHost, nil, 200); !within(got["v1"], 180, 200) || !within(got["v2"], 20, 200) {
		t.Errorf("the blue-green routing must stay: %v", got)
	}
}

// TestMirrorThroughTraefik routes by examples/traefik/mirror.yaml (a
// mirroring TraefikService): clients get only the primary's answers, the
// candidate receives a copy of exactly half of the requests (Traefik counts
// what it mirrored), and none once it is not ready.
func TestMirrorThroughTraefik(t *testing.T) {
	d := startDataPlane(t, "dp-mirror-crd")
	v1, v2 := d.serveHTTP(t, "v1"), d.serveHTTP(t, "v2")
	d.applyRoute(t, "traefik/mirror.yaml")

	// Copies are sent in the background: wait until they stop arriving.
	settled := func() int64 {
		t.Helper()
		last := v2.served.Load()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			n := v2.served.Load()
			if n == last {
				return n
			}
			last = n
		}
		t.Fatal("copies still arrive 10s after the last request")
		return 0
	}
	s1, s2 := v1.served.Load(), settled()
	const n = 2000
	if got := d.count(t, checkoutHost, nil, n); got["v1"] != n {
		t.Errorf("clients must see only v1's answers: %v", got)
	}
	if served := v1.served.Load() - s1; served != n {
		t.Errorf("v1 served %d of %d requests", served, n)
	}
	copies := settled() - s2
	if !within(int(copies), n/2, n) {
		t.Errorf("v2 received %d copies of %d requests, want %d (50%%)", copies, n, n/2)
	}
	t.Logf("mirrored 50%%: v2 received %d copies of %d requests; clients got v1's answers only", copies, n)

	setAvailability(t, d.ns, "checkout-v2", false)
	d.waitRoute(t, "checkout")
	s2 = settled()
	if got := d.count(t, checkoutHost, nil, 200); got["v1"] != 200 {
		t.Errorf("clients must see only v1's answers: %v", got)
	}
	if copies := settled() - s2; copies != 0 {
		t.Errorf("v2 is not ready, yet received %d copies", copies)
	}
}

// TestCanaryRolloutThroughTraefik rolls a canary out in steps, measured on
// the wire: at step 1 only the matched requests reach the candidate; once
// resumed, it also takes 30% of the rest (a weighted default rule), exact
// to Traefik's weighted round robin; once aborted, nothing reaches it, the
// matched requests included. Rendered as an HTTPRoute and as Traefik's
// IngressRoute.
func TestCanaryRolloutThroughTraefik(t *testing.T) {
	beta := http.Header{"X-Canary": {"true"}}
	for _, file := range []string{"gateway-api/canary-rollout.yaml", "traefik/canary-rollout.yaml"} {
		t.Run(file, func(t *testing.T) {
			d := startDataPlane(t, "dp-rollout")
			d.serveHTTP(t, "v1")
			d.serveHTTP(t, "v2")
			mustKubectl(t, "", "apply", "--server-side", "-n", d.ns, "-f", examplePath(t, file))
			check := func(what string, header http.Header, n int, want map[string]int) {
				t.Helper()
				if got := d.count(t, checkoutHost, header, n); !cmp.Equal(got, want) {
					t.Errorf("%s, header %v: %v, want %v", what, header, got, want)
				}
			}

			d.waitRollout(t, 1, v1alpha1.RolloutPaused, v1alpha1.StagePausing)
			d.settle(t, beta, "v2", 1)
			check("step 1", beta, 50, map[string]int{"v2": 50})
			check("step 1", nil, 200, map[string]int{"v1": 200})

			mustKubectl(t, "", "iter8-route", "resume", "checkout", "-n", d.ns)
			d.waitRollout(t, 2, v1alpha1.RolloutPaused, v1alpha1.StagePausing)
			d.settle(t, nil, "v2", 1)
			got := d.count(t, checkoutHost, nil, 1000)
			t.Logf("step 2, 1,000 unmatched requests: %v", got)
			if !within(got["v2"], 300, 1000) || !within(got["v1"], 700, 1000) || len(got) != 2 {
				t.Errorf("step 2, 70/30 over 1,000 unmatched requests: %v", got)
			}
			check("step 2", beta, 50, map[string]int{"v2": 50})

			mustKubectl(t, "", "iter8-route", "abort", "checkout", "-n", d.ns)
			d.waitRollout(t, 2, v1alpha1.RolloutRolledBack, v1alpha1.StageDone)
			// Ten in a row: under the weights of step 2, at most three
			// unmatched requests in a row reach v1.
			d.settle(t, beta, "v1", 10)
			d.settle(t, nil, "v1", 10)
			check("rolled back", beta, 50, map[string]int{"v1": 50})
			check("rolled back", nil, 200, map[string]int{"v1": 200})
		})
	}
}
