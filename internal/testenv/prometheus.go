package testenv

import (
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
)

// StartPrometheus runs Debian's Prometheus (/usr/bin/prometheus) until the
// test ends, scraping every target (HOST:PORT, /metrics) every second, on
// a free loopback port with its storage in a temporary folder. It returns
// the server's base URL once it is ready.
func StartPrometheus(t testing.TB, targets ...string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("this test needs a Prometheus server: run `apt-get install prometheus` (CI installs it): %v", err)
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	config := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: test\n  static_configs:\n  - targets: [%s]\n", strings.Join(quoted, ", "))
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	StartProcess(t, "prometheus", nil, bin, "--config.file="+configFile, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	base := "http://" + addr
	if err := waitHTTP(t.Context(), base+"/-/ready", http.StatusOK, 30*time.Second); err != nil {
		t.Fatalf("Prometheus: %v", err)
	}
	return base
}
