package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// The addresses of a node's network namespace (see InNetns): the node's
// IP, where its kubelet listens and the API server is advertised, and the
// ClusterIP of the kubernetes Service, which is an address of the namespace
// too, so that pods reach the API server the way they do in a cluster
// (KUBERNETES_SERVICE_HOST:443) with no kube-proxy.
const (
	NodeIP    = "10.250.0.1"
	ServiceIP = "10.0.0.1"
	// PodCIDR is where pods on the node get their addresses (the CNI
	// bridge cni0 is its gateway, inside the namespace).
	PodCIDR = "10.244.0.0/24"
)

// netnsEnv names the network namespace a re-executed process runs in.
const netnsEnv = "ITER8_TESTENV_NETNS"

// InNetns runs the calling test binary again inside a network namespace it
// creates for that run, with loopback up and NodeIP and ServiceIP on a veth
// pair whose two ends are both inside it; it returns the exit code of that
// run after deleting the namespace. In the re-executed process (InNetns
// reports ok false there) the caller goes on with its tests: every address
// it listens on, loopback included, is the namespace's, so nothing the
// tests start is reachable from the host, and a real kubelet can run pods
// on a pod network that never leaves the namespace. It needs root (ip from
// iproute2, nsenter from util-linux).
//
//	func TestMain(m *testing.M) {
//		if code, ok := testenv.InNetns(); ok {
//			os.Exit(code)
//		}
//		os.Exit(m.Run())
//	}
func InNetns() (code int, ok bool) {
	if os.Getenv(netnsEnv) != "" {
		return 0, false
	}
	code, err := reexecInNetns()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		return 1, true
	}
	return code, true
}

func reexecInNetns() (int, error) {
	if os.Geteuid() != 0 {
		return 1, errors.New("running the tests in a network namespace of their own needs root (ip netns, nsenter)")
	}
	for _, tool := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 1, fmt.Errorf("%s is needed to run the tests in a network namespace (apt-get install iproute2 util-linux): %w", tool, err)
		}
	}
	name := fmt.Sprintf("iter8-test-%d", os.Getpid())
	if err := createNetns(name); err != nil {
		return 1, err
	}
	defer func() {
		if err := ip("netns", "del", name); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		return 1, err
	}
	// nsenter, not ip netns exec: the latter remounts /sys in a new mount
	// namespace, which hides /sys/fs/cgroup from a kubelet.
	cmd := exec.Command("nsenter", append([]string{"--net=" + netnsPath(name), "--", exe}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), netnsEnv+"="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitCode(), nil
	default:
		return 1, err
	}
}

func netnsPath(name string) string { return filepath.Join("/run/netns", name) }

// createNetns makes the namespace name with lo up and the veth pair
// node0/node0p holding NodeIP and ServiceIP. This kernel has no dummy links,
// and a node IP cannot be loopback, hence the veth.
func createNetns(name string) error {
	if err := ip("netns", "add", name); err != nil {
		return err
	}
	steps := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "node0", "type", "veth", "peer", "name", "node0p"},
		{"addr", "add", NodeIP + "/32", "dev", "node0"},
		{"addr", "add", ServiceIP + "/32", "dev", "node0"},
		{"link", "set", "node0", "up"},
		{"link", "set", "node0p", "up"},
	}
	for _, s := range steps {
		if err := ip(append([]string{"-n", name}, s...)...); err != nil {
			_ = ip("netns", "del", name)
			return err
		}
	}
	return nil
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
