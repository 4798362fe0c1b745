package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// gatewayPort is the port of the listener of examples/gateway-api's
// Gateway, and so of Traefik's entry point.
const gatewayPort = 8000

// dataPlane is a namespace where the Route controller (installed by
// `kubectl iter8-route install` and run as its ServiceAccount) renders
// Routes for real Traefik, which routes real requests to real HTTP and gRPC
// servers of this process, listening on the node IP of the tests' network
// namespace and named by EndpointSlices.
type dataPlane struct {
	ns string
	// addr is Traefik's entry point for the Gateway.
	addr   string
	client *http.Client
}

// namespaces numbers the namespaces of data planes.
var namespaces atomic.Int64

// startDataPlane installs the Gateway API CRDs, starts the controller and
// Traefik, and creates a namespace holding examples/gateway-api's Gateway
// and app (its Deployments Available). controllerFlags follow the
// controller's defaults.
func startDataPlane(t *testing.T, name string, controllerFlags ...string) *dataPlane {
	t.Helper()
	ctx := t.Context()
	gw, err := testenv.GatewayAPICRDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.InstallCRDs(ctx, gw); err != nil {
		t.Fatal(err)
	}
	startRouteController(t, controllerFlags...)
	ns, err := env.CreateNamespace(ctx, fmt.Sprintf("%s-%d", name, namespaces.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A Gateway outlives neither its test nor its Traefik (the
		// control plane runs no namespace controller to delete it with
		// its namespace).
		out, err := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "delete", "-n", ns, "-f", examplePath(t, "gateway-api/gateway.yaml")).CombinedOutput()
		if err != nil {
			t.Errorf("deleting the Gateway: %v: %s", err, out)
		}
	})
	mustKubectl(t, "", "apply", "--server-side", "-n", ns, "-f", examplePath(t, "gateway-api/gateway.yaml"), "-f", examplePath(t, "gateway-api/app.yaml"))
	for _, v := range []string{"v1", "v2"} {
		setAvailability(t, ns, "checkout-"+v, true)
	}
	t.Cleanup(func() {
		if t.Failed() {
			// t.Context() is done by now.
			out, _ := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "get", "-n", ns, "gateways,httproutes,grpcroutes,ingressroutes,traefikservices,middlewares,routes", "-o", "yaml").CombinedOutput()
			t.Logf("Gateway API and Traefik objects and Routes:\n%s", out)
		}
	})
	tr := env.StartTraefik(t, ns, gatewayPort)
	mustKubectl(t, "", "wait", "-n", ns, "--for=condition=Programmed", "gateway/shop", "--timeout=60s")
	d := &dataPlane{ns: ns, addr: tr.Addrs[gatewayPort], client: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true},
	}}
	t.Cleanup(d.client.CloseIdleConnections)
	return d
}

// examplePath is the path of a file of examples/, e.g.
// gateway-api/blue-green.yaml.
func examplePath(t *testing.T, name string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "examples", name)
}

// applyRoute applies an example Route (a file of examples/), waits until it is Ready, then until
// Traefik routes by it: Traefik reports a route Accepted (what Ready waits
// for) just before it routes by it, so the first requests after Ready may
// still find no route. It polls with one request at a time, for at most 10s.
func (d *dataPlane) applyRoute(t *testing.T, file string) {
	t.Helper()
	out := mustKubectl(t, "", "apply", "--server-side", "-n", d.ns, "-f", examplePath(t, file), "-o", "name")
	d.waitRoute(t, strings.TrimPrefix(strings.TrimSpace(out), "route.iter8.tools/"))
	probe := func(ctx context.Context) error {
		_, err := d.get(ctx, checkoutHost, nil)
		return err
	}
	if file == "gateway-api/grpc.yaml" {
		hc := d.grpcClient(t, grpcHost)
		probe = func(ctx context.Context) error {
			_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}
	}
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = probe(t.Context()); err == nil {
			return
		}
	}
	t.Fatalf("Traefik does not route by %s 10s after the Route is Ready: %v", file, err)
}

// waitRoute waits with `status -w` until the Route is Ready.
func (d *dataPlane) waitRoute(t *testing.T, name string) {
	t.Helper()
	if out, errOut, code := kubectlAdmin(t, "", "iter8-route", "status", name, "-n", d.ns, "-w", "--timeout", "2m"); code != 0 {
		t.Fatalf("status %s -w: exit %d\n%s%s", name, code, out, errOut)
	}
}

// backend is a version's server: it answers every request with its
// version's name, and counts what it served.
type backend struct {
	version string
	served  atomic.Int64
	stop    func()
}

// serveHTTP serves version's HTTP port (named http) of Service
// checkout-VERSION: an EndpointSlice names the server's address. Each
// answer is written at once, in one write.
func (d *dataPlane) serveHTTP(t *testing.T, version string) *backend {
	t.Helper()
	b := &backend{version: version}
	l, err := net.Listen("tcp", testenv.NodeIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(version + "\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		b.served.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	var once sync.Once
	b.stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}
	t.Cleanup(b.stop)
	d.endpoints(t, version, "http", l.Addr())
	return b
}

// serveGRPC serves version's gRPC port (named grpc): the standard health
// service, counting the calls.
func (d *dataPlane) serveGRPC(t *testing.T, version string) *backend {
	t.Helper()
	b := &backend{version: version}
	l, err := net.Listen("tcp", testenv.NodeIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		b.served.Add(1)
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-backend", version))
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(l) }()
	var once sync.Once
	b.stop = func() { once.Do(srv.GracefulStop) }
	t.Cleanup(b.stop)
	d.endpoints(t, version, "grpc", l.Addr())
	return b
}

// endpoints writes the EndpointSlice of port (by name) of Service
// checkout-VERSION: the address of a server of this process, ready. The
// control plane runs no EndpointSlice controller, so the tests do its work.
func (d *dataPlane) endpoints(t *testing.T, version, port string, addr net.Addr) {
	t.Helper()
	svc := "checkout-" + version
	tcp := addr.(*net.TCPAddr)
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-" + port, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{tcp.IP.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(port), Port: ptr.To(int32(tcp.Port))}},
	}
	if _, err := env.Client.DiscoveryV1().EndpointSlices(d.ns).Create(t.Context(), es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// get sends one request for host through the Gateway and returns the
// version named by the response's x-iter8-version, after checking that the
// body (the serving backend's name) agrees.
func (d *dataPlane) get(ctx context.Context, host string, header http.Header) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.addr+"/", nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	served, named := strings.TrimSpace(string(body)), resp.Header.Get(v1alpha1.VersionHeader)
	if served != named {
		return "", fmt.Errorf("served by %q, but %s says %q", served, v1alpha1.VersionHeader, named)
	}
	return named, nil
}

// count sends n requests for host, one after the other, and counts the
// answers by version; it fails the test on the first failed request.
func (d *dataPlane) count(t *testing.T, host string, header http.Header, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := range n {
		v, err := d.get(t.Context(), host, header)
		if err != nil {
			t.Fatalf("request %d of %d to %s: %v", i+1, n, host, err)
		}
		out[v]++
	}
	return out
}

// grpcClient is a client of the Gateway for the gRPC host.
func (d *dataPlane) grpcClient(t *testing.T, host string) healthpb.HealthClient {
	t.Helper()
	conn, err := grpc.NewClient(d.addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// load sends requests at a steady rate through send until stop is
// called, from several workers; stop returns how many were sent and the
// failures. Bounded: at most rate×limit requests.
func load(rate int, limit time.Duration, send func(context.Context) error) (stop func() (sent int64, failures []error)) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	const workers = 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		sent atomic.Int64
		errs []error
	)
	interval := time.Duration(workers) * time.Second / time.Duration(rate)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			time.Sleep(time.Duration(w) * interval / workers)
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				sent.Add(1)
				rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := send(rctx)
				rcancel()
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", time.Now().Format("15:04:05.000"), err))
					mu.Unlock()
				}
			}
		}()
	}
	return func() (int64, []error) {
		cancel()
		wg.Wait()
		return sent.Load(), errs
	}
}

// within reports whether got is want within 1% of n.
func within(got, want, n int) bool {
	d := got - want
	return d*100 <= n && -d*100 <= n
}

// errorsOf joins at most the first five errors.
func errorsOf(errs []error) error {
	if len(errs) > 5 {
		errs = append(errs[:5:5], fmt.Errorf("and %d more", len(errs)-5))
	}
	return errors.Join(errs...)
}

// waitRollout waits until checkout's rollout is at step, in phase and
// stage.
func (d *dataPlane) waitRollout(t *testing.T, step int32, phase v1alpha1.RolloutPhase, stage v1alpha1.RolloutStage) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("the rollout is %s (%s) at step %d", phase, stage, step), func() (bool, string) {
		st := getRouteOn(t, dyn, d.ns, "checkout").Status.Rollout
		return st != nil && st.Step == step && st.Phase == phase && st.Stage == stage, fmt.Sprintf("%+v", st)
	})
}

// settle sends one request at a time, for at most 10s, until n in a row
// with header are answered by want: routing written and accepted may take
// a moment more to reach Traefik's router.
func (d *dataPlane) settle(t *testing.T, header http.Header, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for row := 0; ; {
		got, err := d.get(t.Context(), checkoutHost, header)
		if err == nil && got == want {
			if row++; row == n {
				return
			}
			continue
		}
		row = 0
		if time.Now().After(deadline) {
			t.Fatalf("requests with header %v still not answered by %s: %q, %v", header, want, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
