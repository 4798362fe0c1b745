package servicetest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iter8-tools/iter8/internal/testenv"
)

var (
	// repoRoot is found when the test binary starts, in its package's
	// folder, before tests change directory.
	repoRoot, repoRootErr = testenv.RepoRoot()

	buildOnce sync.Once
	pluginBin string
	buildErr  error
)

// Plugin builds kubectl-iter8_abn as make build does (so that memory
// figures are the release binary's), once per test binary, and returns its
// path. The binary goes to the user's cache folder, replaced by each build
// (a rename, so that a binary another test runs is left alone).
func Plugin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if repoRootErr != nil {
			buildErr = repoRootErr
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			buildErr = err
			return
		}
		dir := filepath.Join(cache, "iter8", "test-bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		pluginBin = filepath.Join(dir, "kubectl-iter8_abn")
		tmp := fmt.Sprintf("%s.%d", pluginBin, os.Getpid())
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, "./plugins/kubectl-iter8-abn")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			buildErr = fmt.Errorf("building kubectl-iter8_abn: %v\n%s", err, out)
			return
		}
		buildErr = os.Rename(tmp, pluginBin)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return pluginBin
}

// Process is the service running as a separate process, `kubectl-iter8_abn
// serve`, so that its CPU and memory can be told apart from the test's.
type Process struct {
	// GRPC is the address of the gRPC API.
	GRPC string
	// HTTP is the address of the HTTP endpoints.
	HTTP string
	// Pid is the process's ID.
	Pid int

	cmd  *exec.Cmd
	log  syncBuffer
	done chan struct{}
	err  error
}

var servingLine = regexp.MustCompile(`msg=serving grpc=(\S+) http=(\S+)`)

// StartProcess runs `kubectl-iter8_abn serve` with args, which should make
// it listen on 127.0.0.1:0, and waits until it serves. It is stopped when
// the test ends, unless Stop was called; the kernel ends it if the test
// process dies.
func StartProcess(t testing.TB, args ...string) *Process {
	t.Helper()
	p := &Process{done: make(chan struct{})}
	p.cmd = exec.Command(Plugin(t), append([]string{"serve"}, args...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.Pid = p.cmd.Process.Pid
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(&p.log, line)
			if m := servingLine.FindStringSubmatch(line); m != nil {
				ready <- [2]string{m[1], m[2]}
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop(t) })
	select {
	case addrs := <-ready:
		p.GRPC, p.HTTP = addrs[0], addrs[1]
	case <-p.done:
		t.Fatalf("serve exited: %v\n%s", p.err, p.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", p.Log())
	}
	return p
}

// Log returns what the service logged so far.
func (p *Process) Log() string { return p.log.String() }

// Stop ends the service with SIGTERM, as Kubernetes does, and fails the
// test unless it exits cleanly.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if p.err != nil {
		t.Errorf("serve exited with %v:\n%s", p.err, p.Log())
	}
}

// clockTick is the unit of the CPU times of /proc/PID/stat: USER_HZ,
// which is 100 on Linux.
const clockTick = 10 * time.Millisecond

// CPU returns the user and system CPU time the process has used.
func (p *Process) CPU(t testing.TB) (user, system time.Duration) {
	t.Helper()
	return CPU(t, p.Pid)
}

// CPU returns the user and system CPU time process pid has used.
func CPU(t testing.TB, pid int) (user, system time.Duration) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// utime and stime are fields 14 and 15; the command name, field 2, is
	// in parentheses and may hold spaces.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime) * clockTick, time.Duration(stime) * clockTick
}

// RSS returns the process's resident set size in bytes, and its anonymous
// and file-backed parts (the latter mostly the binary's pages).
func (p *Process) RSS(t testing.TB) (total, anon, file int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			total = kb << 10
		case "RssAnon:":
			anon = kb << 10
		case "RssFile:":
			file = kb << 10
		}
	}
	return total, anon, file
}

// syncBuffer is a buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
