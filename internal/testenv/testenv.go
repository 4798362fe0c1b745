// Package testenv starts a real Kubernetes control plane, etcd and
// kube-apiserver, on free loopback ports, for integration and end-to-end tests
// and for `make cluster-up`.
//
// The binaries are built from the Go module proxy by hack/controlplane.sh and
// cached by version; KUBEBUILDER_ASSETS may name a folder that already holds
// them. The API server runs with RBAC on and ServiceAccount tokens working, so
// a test can mint a token for a ServiceAccount and act as it: the real
// authorizer then judges every call.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// AssetsDir is the folder holding the etcd and kube-apiserver binaries.
	// Default: $KUBEBUILDER_ASSETS, else the cache filled by
	// hack/controlplane.sh (run on demand: a cold build takes ~20 minutes).
	AssetsDir string
	// Dir holds the control plane's state: etcd data, keys, certificates,
	// logs and the admin kubeconfig. Default: a new temporary folder, removed
	// by Stop. A given Dir is kept by Stop.
	Dir string
	// StartTimeout bounds how long Start waits for /readyz. Default: 60s.
	StartTimeout time.Duration
	// Nodes readies the control plane for real kubelets (StartNode). It
	// needs the network namespace of InNetns: the API server then listens
	// on port 443 of every address of that namespace, is advertised at
	// NodeIP, so that the kubernetes Service (ServiceIP:443) reaches it
	// with no kube-proxy, authorizes kubelets (Node, NodeRestriction),
	// calls them with a client certificate (logs), and admits pods with
	// their ServiceAccount's token (StartControllerManager's
	// serviceaccount controller makes each namespace's default one).
	Nodes bool
}

// Env is a running control plane.
type Env struct {
	// Config is an admin (system:masters) client configuration.
	Config *rest.Config
	// Client is a clientset built from Config.
	Client kubernetes.Interface
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// Dir is the state folder.
	Dir string

	keepDir bool
	nodes   bool
	pki     *pki
	assets  string
	etcd    *process
	api     *process
	kcm     *process
	sched   *process
}

// Start builds or finds the binaries, then starts etcd and kube-apiserver and
// waits until the API server is ready. Stop must be called to end them; if
// the test process dies first, the kernel ends them too (Linux).
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	assets, err := assetsDir(ctx, opts.AssetsDir)
	if err != nil {
		return nil, err
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	e := &Env{Dir: opts.Dir, keepDir: opts.Dir != "", nodes: opts.Nodes, assets: assets}
	if e.Dir == "" {
		if e.Dir, err = os.MkdirTemp("", "iter8-testenv-"); err != nil {
			return nil, fmt.Errorf("creating state folder: %w", err)
		}
	} else if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state folder: %w", err)
	}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()

	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	etcdPort, apiPort := ports[0], ports[1]
	host, bind, advertise := "127.0.0.1", "127.0.0.1", "127.0.0.1"
	hosts := []string{host}
	if opts.Nodes {
		if os.Getenv(netnsEnv) == "" {
			return nil, errors.New("testenv: Options.Nodes needs the network namespace of InNetns")
		}
		bind, advertise, apiPort = "0.0.0.0", NodeIP, 443
		hosts = append(hosts, NodeIP, ServiceIP)
	}

	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	if e.pki, err = writePKI(e.Dir, hosts...); err != nil {
		return nil, err
	}
	pki := e.pki
	tokens := filepath.Join(e.Dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing token file: %w", err)
	}

	etcdURL := fmt.Sprintf("http://%s:%d", host, etcdPort)
	e.etcd, err = startProcess(filepath.Join(assets, "etcd"), filepath.Join(e.Dir, "etcd.log"), nil,
		"--data-dir="+filepath.Join(e.Dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls=http://"+host+":0",
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}

	server := fmt.Sprintf("https://%s:%d", host, apiPort)
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + bind,
		"--advertise-address=" + advertise,
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + pki.certFile,
		"--tls-private-key-file=" + pki.keyFile,
		"--client-ca-file=" + pki.caFile,
		"--token-auth-file=" + tokens,
		"--service-account-issuer=" + server,
		"--service-account-key-file=" + pki.saPubFile,
		"--service-account-signing-key-file=" + pki.saKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
	}
	if opts.Nodes {
		cert, key := filepath.Join(e.Dir, "apiserver-kubelet-client.crt"), filepath.Join(e.Dir, "apiserver-kubelet-client.key")
		if err := pki.writeClientCert("kube-apiserver-kubelet-client", []string{"system:masters"}, cert, key); err != nil {
			return nil, err
		}
		args = append(args,
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--kubelet-client-certificate="+cert,
			"--kubelet-client-key="+key,
			"--kubelet-preferred-address-types=InternalIP",
		)
	} else {
		args = append(args,
			"--authorization-mode=RBAC",
			// No controller manager need run to create ServiceAccounts.
			"--disable-admission-plugins=ServiceAccount",
			// A loopback advertise address is refused by the default reconciler.
			"--endpoint-reconciler-type=none",
		)
	}
	e.api, err = startProcess(filepath.Join(assets, "kube-apiserver"), filepath.Join(e.Dir, "kube-apiserver.log"), nil, args...)
	if err != nil {
		return nil, err
	}

	e.Config = &rest.Config{
		Host:            server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.caPEM},
		QPS:             200,
		Burst:           400,
	}
	if err := e.waitReady(ctx, opts.StartTimeout); err != nil {
		return nil, err
	}
	if e.Client, err = kubernetes.NewForConfig(e.Config); err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	if err := e.WriteKubeconfig(e.Kubeconfig, "admin", token); err != nil {
		return nil, err
	}
	return e, nil
}

// waitReady polls /readyz until it answers ok, a process exits, or time runs out.
func (e *Env) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	transport, err := rest.TransportFor(e.Config)
	if err != nil {
		return fmt.Errorf("creating transport: %w", err)
	}
	client := &http.Client{Transport: transport, Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Config.Host+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, p := range []*process{e.etcd, e.api} {
			if p.exited() {
				return fmt.Errorf("%s exited before the API server was ready:\n%s", p.name, p.logTail())
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %s: %w\n%s", timeout, ctx.Err(), e.api.logTail())
		case <-tick.C:
		}
	}
}

// Stop ends kube-apiserver and etcd and removes the state folder unless it
// was given in Options.Dir. It is safe to call more than once.
func (e *Env) Stop() error {
	var errs []error
	for _, p := range []*process{e.sched, e.kcm, e.api, e.etcd} {
		if p != nil {
			errs = append(errs, p.stop(10*time.Second))
		}
	}
	e.sched, e.kcm, e.api, e.etcd = nil, nil, nil, nil
	if !e.keepDir && e.Dir != "" {
		errs = append(errs, os.RemoveAll(e.Dir))
	}
	return errors.Join(errs...)
}

// StartControllerManager starts kube-controller-manager with the given
// controllers (e.g. job-controller, garbage-collector-controller), so that
// Jobs get pods and owner references cascade. Its binary must be in the
// assets folder: hack/controlplane.sh kube-controller-manager builds it.
// Stop ends it.
func (e *Env) StartControllerManager(controllers ...string) error {
	if e.kcm != nil {
		return errors.New("kube-controller-manager is already running")
	}
	p, err := e.startComponent("kube-controller-manager",
		"--service-account-private-key-file="+e.pki.saKeyFile,
		"--root-ca-file="+e.pki.caFile,
		"--use-service-account-credentials=false",
		"--controllers="+strings.Join(controllers, ","),
	)
	e.kcm = p
	return err
}

// StartScheduler starts kube-scheduler, so that pods without a nodeName go
// to the nodes of StartNode. Its binary must be in the assets folder:
// hack/controlplane.sh kube-scheduler builds it. Stop ends it.
func (e *Env) StartScheduler() error {
	if e.sched != nil {
		return errors.New("kube-scheduler is already running")
	}
	p, err := e.startComponent("kube-scheduler")
	e.sched = p
	return err
}

// startComponent starts the controller-manager-like binary name of the
// assets folder as the admin, alone (no leader election), with no port of
// its own.
func (e *Env) startComponent(name string, args ...string) (*process, error) {
	bin := filepath.Join(e.assets, name)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s not found (run hack/controlplane.sh %s): %w", name, name, err)
	}
	return startProcess(bin, filepath.Join(e.Dir, name+".log"), nil, append([]string{
		"--kubeconfig=" + e.Kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
	}, args...)...)
}

// assetsDir returns the folder with etcd and kube-apiserver, building them
// with hack/controlplane.sh when neither dir nor KUBEBUILDER_ASSETS is set.
func assetsDir(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "controlplane.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("building the control plane with hack/controlplane.sh: %w", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("control plane binary %s not found in %s (run make controlplane, or set KUBEBUILDER_ASSETS): %w", b, dir, err)
		}
	}
	return dir, nil
}

// RepoRoot returns the root of the iter8 source tree, found by walking up
// from the working directory to the folder holding hack/controlplane.sh.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "controlplane.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("hack/controlplane.sh not found above the working directory: run from the iter8 source tree")
		}
		dir = parent
	}
}

// FreePorts finds n distinct TCP ports free on 127.0.0.1 (when it looked).
func FreePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
