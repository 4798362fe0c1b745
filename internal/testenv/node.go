package testenv

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// NodeOptions configure StartNode. The zero value is ready to use.
type NodeOptions struct {
	// Name is the Node's name. Default: iter8-node.
	Name string
	// ReadyTimeout bounds how long StartNode waits for the Node to be
	// Ready. Default: 60s.
	ReadyTimeout time.Duration
}

// Node is a real kubelet with Debian's containerd and runc, registered with
// the control plane: pods scheduled to it run their images' containers,
// with their volumes, ServiceAccount tokens and logs, on a pod network
// (PodCIDR, a CNI bridge) inside the namespace of InNetns. Images are not
// pulled from anywhere unless a test gives a registry: Load imports them.
//
// containerd and the kubelet share a private mount namespace, in which the
// three sysctls the kubelet insists on (vm.overcommit_memory=1,
// kernel.panic=10, kernel.panic_on_oops=1) are files bind-mounted over
// /proc/sys, so the host's values are untouched. ../shared/recipes and
// docs/testing.md say why each setting is what it is.
type Node struct {
	// Name is the Node's name.
	Name string

	env        *Env
	dir        string
	sock       string
	netnsSeen  map[string]bool // /run/netns before the node started
	containerd *process
	kubelet    *process
}

// PauseImage is the node's sandbox image, built by StartNode from
// ./pause; a container of a pod or Deployment that need only run (and
// stop when told) can use it too.
const PauseImage = "iter8.test/pause:1"

// StartNode starts containerd and a kubelet that registers as a Node, and
// waits until the Node is Ready. The control plane must have been started
// with Options.Nodes; the kubelet binary must be in its assets folder
// (hack/controlplane.sh kubelet). The kubelet uses the cgroup hierarchy's
// /kubepods, so one node runs on a machine at a time. Stop ends it.
func (e *Env) StartNode(ctx context.Context, opts NodeOptions) (_ *Node, err error) {
	if !e.nodes {
		return nil, errors.New("testenv: StartNode needs a control plane started with Options.Nodes")
	}
	kubelet := filepath.Join(e.assets, "kubelet")
	if _, err := os.Stat(kubelet); err != nil {
		return nil, fmt.Errorf("kubelet not found (run hack/controlplane.sh kubelet): %w", err)
	}
	for tool, pkg := range map[string]string{"containerd": "containerd", "ctr": "containerd", "runc": "runc", "unshare": "util-linux", "nsenter": "util-linux"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is needed to run a node (apt-get install %s): %w", tool, pkg, err)
		}
	}
	for _, plugin := range []string{"bridge", "host-local"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, plugin)); err != nil {
			return nil, fmt.Errorf("the CNI plugin %s is needed to run a node (apt-get install containernetworking-plugins): %w", plugin, err)
		}
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	n := &Node{Name: cmp.Or(opts.Name, "iter8-node"), env: e, dir: filepath.Join(e.Dir, "node")}
	n.sock = filepath.Join(n.dir, "containerd.sock")
	for _, d := range []string{"cni", "cni-ipam", "kubelet", "sysctl"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	if n.netnsSeen, err = netnsFiles(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Stop())
		}
	}()

	user := "system:node:" + n.Name
	cert, key := filepath.Join(n.dir, "kubelet-client.crt"), filepath.Join(n.dir, "kubelet-client.key")
	if err := e.pki.writeClientCert(user, []string{"system:nodes"}, cert, key); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(n.dir, "kubelet.kubeconfig")
	if err := e.writeKubeconfig(kubeconfig, user, &clientcmdapi.AuthInfo{ClientCertificate: cert, ClientKey: key}); err != nil {
		return nil, err
	}
	files := map[string]string{
		"containerd.toml":        n.containerdConfig(),
		"cni/10-bridge.conflist": n.cniConfig(),
		"kubelet.yaml":           n.kubeletConfig(),
		"sysctl/overcommit":      "1\n",
		"sysctl/panic":           "10\n",
		"sysctl/panic_on_oops":   "1\n",
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(n.dir, f), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}

	// containerd first, alone in a private mount namespace whose
	// /proc/sys shadows it sets up; the kubelet joins that namespace.
	shadow := ""
	for file, sysctl := range map[string]string{"overcommit": "vm/overcommit_memory", "panic": "kernel/panic", "panic_on_oops": "kernel/panic_on_oops"} {
		shadow += fmt.Sprintf("mount --bind %s /proc/sys/%s && ", filepath.Join(n.dir, "sysctl", file), sysctl)
	}
	n.containerd, err = startProcess("unshare", filepath.Join(n.dir, "containerd.log"), nil,
		"--mount", "--propagation", "private", "--", "sh", "-c",
		shadow+"exec containerd --config "+filepath.Join(n.dir, "containerd.toml"))
	if err != nil {
		return nil, err
	}
	if err := n.waitContainerd(ctx); err != nil {
		return nil, err
	}
	pause, err := n.pauseImage(ctx)
	if err != nil {
		return nil, err
	}
	if err := n.Load(ctx, map[string]v1.Image{PauseImage: pause}); err != nil {
		return nil, err
	}
	start := time.Now()
	n.kubelet, err = startProcess("nsenter", filepath.Join(n.dir, "kubelet.log"), nil,
		"--mount=/proc/"+strconv.Itoa(n.containerd.cmd.Process.Pid)+"/ns/mnt", "--", kubelet,
		"--config="+filepath.Join(n.dir, "kubelet.yaml"),
		"--kubeconfig="+kubeconfig,
		"--root-dir="+filepath.Join(n.dir, "kubelet"),
		"--hostname-override="+n.Name,
		"--node-ip="+NodeIP,
	)
	if err != nil {
		return nil, err
	}
	if err := n.waitReady(ctx, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "testenv: node %s Ready %s after the kubelet started\n", n.Name, time.Since(start).Round(time.Millisecond))
	return n, nil
}

const cniBinDir = "/usr/lib/cni"

// containerdConfig is containerd 1.6's configuration: its state under the
// node's folder, runc with cgroupfs, and sandboxes' oom_score_adj clamped
// to containerd's own, since this kind of machine lacks CAP_SYS_RESOURCE
// and runc cannot lower it.
func (n *Node) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  enable_cdi = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[6]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
`, filepath.Join(n.dir, "containerd"), filepath.Join(n.dir, "containerd-state"), n.sock, n.sock+".ttrpc",
		PauseImage, n.runcRoot(), cniBinDir, filepath.Join(n.dir, "cni"))
}

func (n *Node) runcRoot() string { return filepath.Join(n.dir, "runc") }

// cniConfig is a bridge network on PodCIDR whose gateway is in the
// namespace; no masquerading: nothing leaves the namespace.
func (n *Node) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "iter8-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    }
  ]
}
`, PodCIDR, filepath.Join(n.dir, "cni-ipam"))
}

// kubeletConfig is a KubeletConfiguration for this kind of machine: cgroup
// v1 allowed, cgroupfs, swap tolerated, the API server authenticated by
// the control plane's CA and authorized by webhook, evictions and image
// garbage collection that a busy test machine does not trigger.
func (n *Node) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%[1]s
imageServiceEndpoint: unix://%[1]s
address: %[2]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[3]s}
authorization:
  mode: Webhook
cgroupsPerQOS: true
cgroupRoot: /
enforceNodeAllocatable: [pods]
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  imagefs.available: 1%%
  nodefs.inodesFree: 1%%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 30
serializeImagePulls: false
resolvConf: /etc/resolv.conf
`, n.sock, NodeIP, n.env.pki.caFile)
}

func (n *Node) waitContainerd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if n.containerd.exited() {
			return fmt.Errorf("containerd exited:\n%s", n.containerd.logTail())
		}
		if out, err := n.ctr(ctx, nil, "version"); err == nil && strings.Contains(out, "Server:") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd not answering on %s: %w\n%s", n.sock, ctx.Err(), n.containerd.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Node) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if n.kubelet.exited() {
			return fmt.Errorf("kubelet exited:\n%s", n.kubelet.logTail())
		}
		if node, err := n.env.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{}); err == nil {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready after %s: %w\nkubelet log:\n%s", n.Name, timeout, ctx.Err(), n.kubelet.logTail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ctr runs containerd's ctr on the node's containerd, in the namespace of
// the CRI (k8s.io).
func (n *Node) ctr(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", n.sock, "--namespace", "k8s.io"}, args...)...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// KillContainer sends SIGKILL to the process of a container of the node,
// named by its ID as a pod's container status gives it
// (containerd://ID): the process dies at once, as in an out-of-memory
// kill, and the kubelet restarts the container as its pod's restart
// policy says.
func (n *Node) KillContainer(ctx context.Context, containerID string) error {
	id := strings.TrimPrefix(containerID, "containerd://")
	// The shim keeps runc's state under a folder per containerd namespace.
	var errs []error
	for _, root := range []string{filepath.Join(n.runcRoot(), "k8s.io"), n.runcRoot()} {
		out, err := exec.CommandContext(ctx, "runc", "--root", root, "kill", id, "KILL").CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("runc --root %s kill %s: %v: %s", root, id, err, bytes.TrimSpace(out)))
	}
	return errors.Join(errs...)
}

// Load imports images (by reference, for example
// ghcr.io/iter8-tools/kubectl-iter8-run:v0.0.0-e2e) into the node's
// containerd, so that pods naming them run without a pull (imagePullPolicy
// IfNotPresent, the default for a tag other than latest, or Never).
func (n *Node) Load(ctx context.Context, images map[string]v1.Image) error {
	refs := map[name.Reference]v1.Image{}
	for ref, img := range images {
		tag, err := name.NewTag(ref)
		if err != nil {
			return fmt.Errorf("loading image %q: %w", ref, err)
		}
		refs[tag] = img
	}
	archive := filepath.Join(n.dir, "images.tar")
	if err := tarball.MultiRefWriteToFile(archive, refs); err != nil {
		return fmt.Errorf("writing images for the node: %w", err)
	}
	defer os.Remove(archive)
	_, err := n.ctr(ctx, nil, "images", "import", archive)
	return err
}

// pauseImage builds ./pause for this machine's architecture and makes it
// an image.
func (n *Node) pauseImage(ctx context.Context) (v1.Image, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(n.dir, "pause")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./internal/testenv/pause")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the pause image: %v: %s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(b); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := layer.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint = []string{"/pause"}
	return mutate.ConfigFile(img, cfg)
}

// Stop deletes the pods on the node (cordoned first, so that controllers'
// new pods wait), then ends the kubelet, whatever containers are left,
// containerd and its shims, and removes the kubelet's cgroups and the pod
// network namespaces' files. It is safe to call more than once.
func (n *Node) Stop() error {
	var errs []error
	if n.kubelet != nil && !n.kubelet.exited() {
		errs = append(errs, n.drain())
	}
	for _, p := range []*process{n.kubelet} {
		if p != nil {
			errs = append(errs, p.stop(10*time.Second))
		}
	}
	n.kubelet = nil
	errs = append(errs, n.removeContainers())
	if n.containerd != nil {
		errs = append(errs, n.containerd.stop(10*time.Second))
		n.containerd = nil
	}
	errs = append(errs, n.killShims(), removeKubepodsCgroups(), n.removeNetnsFiles())
	return errors.Join(errs...)
}

// drain cordons the node and deletes its pods, waiting (bounded) until the
// kubelet has stopped them, so that their sandboxes are torn down the
// regular way.
func (n *Node) drain() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := n.env.Client.CoreV1()
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := c.Nodes().Patch(ctx, n.Name, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning node %s: %w", n.Name, err)
	}
	onNode := metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name}
	for {
		pods, err := c.Pods("").List(ctx, onNode)
		if err != nil {
			return fmt.Errorf("listing the pods of node %s: %w", n.Name, err)
		}
		if len(pods.Items) == 0 {
			return nil
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				_ = c.Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](2)})
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the pods of node %s were not gone after 60s: %d left", n.Name, len(pods.Items))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// removeContainers force-deletes, through runc, the containers a killed
// kubelet left behind.
func (n *Node) removeContainers() error {
	if _, err := os.Stat(n.runcRoot()); err != nil {
		return nil
	}
	out, err := exec.Command("runc", "--root", n.runcRoot(), "list", "-q").Output()
	if err != nil {
		return fmt.Errorf("runc list: %w", err)
	}
	var errs []error
	for _, id := range strings.Fields(string(out)) {
		if out, err := exec.Command("runc", "--root", n.runcRoot(), "delete", "--force", id).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("runc delete %s: %v: %s", id, err, out))
		}
	}
	return errors.Join(errs...)
}

// killShims kills the containerd-shim-runc-v2 processes of this node's
// containerd (they outlive it by design).
func (n *Node) killShims() error {
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		return err
	}
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.HasSuffix(args[0], "containerd-shim-runc-v2") && strings.Contains(string(b), n.sock) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
	}
	return nil
}

// removeKubepodsCgroups removes the kubelet's /kubepods cgroup tree from
// every hierarchy, deepest first.
func removeKubepodsCgroups() error {
	roots, err := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	if err != nil {
		return err
	}
	if _, err := os.Stat("/sys/fs/cgroup/kubepods"); err == nil {
		roots = append(roots, "/sys/fs/cgroup/kubepods")
	}
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			// A cgroup's last process may take a moment to leave it.
			var err error
			for range 50 {
				if err = os.Remove(dirs[i]); err == nil || errors.Is(err, os.ErrNotExist) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// netnsFiles lists /run/netns, where the CRI names pod network namespaces.
func netnsFiles() (map[string]bool, error) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Name()] = true
	}
	return seen, nil
}

// removeNetnsFiles removes the pod network namespaces' files (cni-*) the
// node made and left; their mounts were in the node's mount namespace.
func (n *Node) removeNetnsFiles() error {
	if n.netnsSeen == nil {
		return nil
	}
	now, err := netnsFiles()
	if err != nil {
		return err
	}
	var errs []error
	for f := range now {
		if strings.HasPrefix(f, "cni-") && !n.netnsSeen[f] {
			errs = append(errs, os.Remove(filepath.Join("/run/netns", f)))
		}
	}
	return errors.Join(errs...)
}
