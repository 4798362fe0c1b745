// Package storetest starts the servers that tests of the A/B/n stores need:
// a real redis-server (Debian's redis-server package) on a loopback port,
// which a test may stop and start again.
package storetest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Redis starts redis-server on a free loopback port, with its files in a
// temporary folder, until the test ends, and returns its URL. The test
// fails when redis-server is not installed.
func Redis(t testing.TB) string {
	t.Helper()
	return StartRedis(t).URL
}

// RedisServer is a redis-server of a test, which the test may stop and
// start again (an outage): it appends every write to its file, synced, so
// that what it stored survives.
type RedisServer struct {
	// URL is redis://127.0.0.1:PORT.
	URL string

	t       testing.TB
	bin     string
	dir     string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool
}

// StartRedis starts a RedisServer on a free loopback port until the test
// ends.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("this test needs a Redis server: run `apt-get install redis-server` (CI installs it): %v", err)
	}
	r := &RedisServer{t: t, bin: bin, dir: t.TempDir()}
	for attempt := 0; ; attempt++ {
		if r.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		err := r.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		// another process may have taken the port
	}
	r.URL = "redis://" + r.addr()
	t.Cleanup(r.Stop)
	return r
}

func (r *RedisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// start runs redis-server on r's port and waits until it answers.
func (r *RedisServer) start() error {
	logFile := filepath.Join(r.dir, "redis.log")
	r.cmd = exec.Command(r.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--logfile", logFile, "--daemonize", "no")
	r.cmd.SysProcAttr = sysProcAttr()
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %v", r.bin, err)
	}
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(r.cmd, r.exited)
	if err := waitPing(r.addr(), r.exited); err != nil {
		_ = r.cmd.Process.Kill()
		<-r.exited
		b, _ := os.ReadFile(logFile)
		return fmt.Errorf("redis-server did not start: %v\n%s", err, b)
	}
	r.stopped = false
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s); it does
// nothing when the server is stopped.
func (r *RedisServer) Stop() {
	if r.stopped {
		return
	}
	r.stopped = true
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// Restart starts the stopped server again on the same port, with what it
// stored.
func (r *RedisServer) Restart() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatal(err)
	}
}

// waitPing waits up to 10 s for the server at addr to answer PING.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited")
		default:
		}
		if err := ping(addr); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
