package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Traefik's Gateway API controller, and the GatewayClass StartTraefik
// makes for it.
const (
	TraefikControllerName = "traefik.io/gateway-controller"
	TraefikGatewayClass   = "traefik"
)

// Traefik is a real data plane: Traefik (built by hack/controlplane.sh
// traefik) reading an Env's Gateway API objects (GatewayClass, Gateways,
// HTTPRoutes, GRPCRoutes) and its own (IngressRoutes, TraefikServices,
// Middlewares), with their Services and EndpointSlices, out of cluster, and
// routing requests on 127.0.0.1.
type Traefik struct {
	// Addrs maps each Gateway listener port it serves to the HOST:PORT
	// of its entry point, where requests for that listener go.
	Addrs map[int32]string
}

// StartTraefik builds (once, cached by version) and starts Traefik against
// e until the test ends, with its Gateway API and CRD providers watching
// only namespace (so that what earlier tests left elsewhere is not routed;
// "": every namespace), and one
// entry point per port in ports, named p<port> (Traefik matches a Gateway
// listener to the entry point of the same port, so the Gateways it serves
// listen on these ports, on 127.0.0.1); these are its default entry points,
// those of an IngressRoute that names none. It installs Traefik's CRDs and
// the GatewayClass TraefikGatewayClass; the Gateway API CRDs must be
// installed. It returns once Traefik answers its ping.
func (e *Env) StartTraefik(t testing.TB, namespace string, ports ...int32) *Traefik {
	t.Helper()
	bin := cachedTool(t, "traefik")
	crds, err := TraefikCRDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InstallCRDs(t.Context(), crds); err != nil {
		t.Fatal(err)
	}
	if err := e.ensureGatewayClass(t.Context()); err != nil {
		t.Fatal(err)
	}
	free, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	ping := net.JoinHostPort("127.0.0.1", strconv.Itoa(free[0]))
	tr := &Traefik{Addrs: map[int32]string{}}
	args := []string{
		"--global.checkNewVersion=false", "--global.sendAnonymousUsage=false",
		"--log.level=DEBUG", "--ping=true", "--ping.entryPoint=ping", "--entryPoints.ping.address=" + ping,
		// No throttle: a change is applied as soon as Traefik reads it.
		"--providers.providersThrottleDuration=0s", "--providers.kubernetesgateway=true", "--providers.kubernetesgateway.throttleDuration=0s",
		"--providers.kubernetescrd=true", "--providers.kubernetescrd.throttleDuration=0s",
	}
	if namespace != "" {
		args = append(args, "--providers.kubernetesgateway.namespaces="+namespace, "--providers.kubernetescrd.namespaces="+namespace)
	}
	for _, p := range ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p)))
		tr.Addrs[p] = addr
		args = append(args, fmt.Sprintf("--entryPoints.p%d.address=%s", p, addr), fmt.Sprintf("--entryPoints.p%d.asDefault=true", p))
	}
	StartProcess(t, "traefik", []string{"KUBECONFIG=" + e.Kubeconfig}, bin, args...)
	if err := waitHTTP(t.Context(), "http://"+ping+"/ping", http.StatusOK, 60*time.Second); err != nil {
		t.Fatalf("Traefik: %v", err)
	}
	return tr
}

var gatewayClasses = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}

// ensureGatewayClass creates TraefikGatewayClass unless it exists.
func (e *Env) ensureGatewayClass(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	gc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": TraefikGatewayClass},
		"spec":     map[string]any{"controllerName": TraefikControllerName},
	}}
	if _, err := dyn.Resource(gatewayClasses).Create(ctx, gc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating GatewayClass %s: %w", TraefikGatewayClass, err)
	}
	return nil
}

// cachedTool builds (once, cached by version) the tool that
// hack/controlplane.sh caches apart, name, and returns its path.
func cachedTool(t testing.TB, name string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), filepath.Join(root, "hack", "controlplane.sh"), name)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("building %s with hack/controlplane.sh: %v", name, err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), name)
}

// waitHTTP polls url until it answers with status want.
func waitHTTP(ctx context.Context, url string, want int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %d in %s: %w", url, want, timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
