package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/iter8-tools/iter8/pkg/testenv"
)

// kubelet stands in for a real kubelet, which this machine does not have:
// it registers a Node, binds the pods of a namespace to it, and runs each
// pod's container command as a local process, with the container's env and
// a kubeconfig holding a token minted for the pod's ServiceAccount, so that
// the real RBAC authorizer judges what the process does. It then sets the
// pod's status as a kubelet would. It serves container logs over HTTPS the
// way the API server expects of a kubelet, so kubectl logs works. Images
// are not pulled: a command is looked up among the built binaries.
type kubelet struct {
	env    *testenv.Env
	name   string
	binDir string
	mu     sync.Mutex
	logs   map[string]*bytes.Buffer // namespace/pod → output
	seen   map[string]bool
}

func startKubelet(t *testing.T, env *testenv.Env, namespace string) *kubelet {
	t.Helper()
	k := &kubelet{env: env, name: "e2e-node-" + namespace, binDir: binDir, logs: map[string]*bytes.Buffer{}, seen: map[string]bool{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(k.serveLogs))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)

	ctx := t.Context()
	node, err := env.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: k.name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status = corev1.NodeStatus{
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}},
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(p)}},
	}
	if _, err := env.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			pods, err := env.Client.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, pod := range pods.Items {
				key := pod.Namespace + "/" + pod.Name
				if pod.Spec.NodeName != "" || k.seen[key] {
					continue
				}
				k.seen[key] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := k.run(pod); err != nil {
						t.Errorf("kubelet: pod %s: %v", key, err)
					}
				}()
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		wg.Wait()
	})
	return k
}

// run binds the pod to the node, runs it and reports its end.
func (k *kubelet) run(pod corev1.Pod) error {
	ctx := context.Background()
	c := k.env.Client.CoreV1().Pods(pod.Namespace)
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name}, Target: corev1.ObjectReference{Kind: "Node", Name: k.name}}
	if err := c.Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("binding: %w", err)
	}
	token, err := k.env.Token(ctx, pod.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "e2e-pod-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := k.env.WriteKubeconfig(kubeconfig, "system:serviceaccount:"+pod.Namespace+":"+pod.Spec.ServiceAccountName, token); err != nil {
		return err
	}
	ctr := pod.Spec.Containers[0]
	argv := append(append([]string{}, ctr.Command...), ctr.Args...)
	cmd := exec.Command(filepath.Join(k.binDir, filepath.Base(argv[0])), argv[1:]...)
	cmd.Env = []string{"KUBECONFIG=" + kubeconfig, "HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	for _, e := range ctr.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
	out := &bytes.Buffer{}
	k.mu.Lock()
	k.logs[pod.Namespace+"/"+pod.Name] = out
	k.mu.Unlock()
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &k.mu, w: out}, &lockedWriter{mu: &k.mu, w: out}

	start := metav1.Now()
	if err := k.setStatus(pod, func(st *corev1.PodStatus) {
		st.Phase, st.StartTime, st.HostIP, st.PodIP = corev1.PodRunning, &start, "127.0.0.1", "127.0.0.1"
		st.ContainerStatuses = []corev1.ContainerStatus{{Name: ctr.Name, Image: ctr.Image, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}}}
	}); err != nil {
		return err
	}
	code := 0
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else {
			code = 127
			fmt.Fprintf(cmd.Stderr, "kubelet: %v\n", err)
		}
	}
	end := metav1.Now()
	return k.setStatus(pod, func(st *corev1.PodStatus) {
		st.Phase = corev1.PodSucceeded
		reason := "Completed"
		if code != 0 {
			st.Phase, reason = corev1.PodFailed, "Error"
		}
		st.ContainerStatuses = []corev1.ContainerStatus{{Name: ctr.Name, Image: ctr.Image, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason, StartedAt: start, FinishedAt: end},
		}}}
	})
}

func (k *kubelet) setStatus(pod corev1.Pod, set func(*corev1.PodStatus)) error {
	c := k.env.Client.CoreV1().Pods(pod.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := c.Get(context.Background(), pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		set(&p.Status)
		_, err = c.UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
}

// serveLogs answers the API server's /containerLogs/NS/POD/CONTAINER.
func (k *kubelet) serveLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	out, ok := k.logs[parts[0]+"/"+parts[1]]
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(out.Bytes())
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
