package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iter8-tools/iter8/config/grafana"
	"github.com/iter8-tools/iter8/internal/abntest/servicetest"
	"github.com/iter8-tools/iter8/internal/testenv"
)

// TestGrafanaDashboardsQueryRealSeries: a real Prometheus scrapes a
// running Route controller (routing examples/gateway-api/blue-green.yaml
// through Traefik) and a running A/B/n service (after lookups and a
// write); every query of every panel of both dashboards returns a series.
func TestGrafanaDashboardsQueryRealSeries(t *testing.T) {
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	controller := fmt.Sprintf("127.0.0.1:%d", ports[0])
	d := startDataPlane(t, "grafana", "--metrics-addr="+controller)
	d.serveHTTP(t, "v1")
	d.serveHTTP(t, "v2")
	d.applyRoute(t, "gateway-api/blue-green.yaml")
	// A rollout, for the rollout panel: it pauses at its first step.
	rollout, err := os.ReadFile(examplePath(t, "gateway-api/canary-rollout.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, strings.Replace(string(rollout), "name: checkout\n", "name: checkout-rollout\n", 1), "apply", "--server-side", "-n", d.ns, "-f", "-")

	dir := t.TempDir()
	apps := filepath.Join(dir, "apps.yaml")
	if err := os.WriteFile(apps, []byte("applications: [{name: checkout, versions: [{name: v1}, {name: v2}]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := servicetest.StartProcess(t, "--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--apps", apps, "--store", "bolt:"+filepath.Join(dir, "abn.db"))
	for _, user := range []string{"ann", "bob", "cy"} {
		mustKubectl(t, "", "iter8-abn", "lookup", "checkout", user, "--endpoint", svc.GRPC)
	}
	mustKubectl(t, "", "iter8-abn", "write", "checkout", "ann", "sales", "12.5", "--endpoint", svc.GRPC)

	prom := testenv.StartPrometheus(t, controller, svc.HTTP)
	for name, dashboard := range map[string]string{"route-controller.json": grafana.RouteController, "abn.json": grafana.ABN} {
		var dash struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal([]byte(dashboard), &dash); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(dash.Panels) == 0 {
			t.Fatalf("%s has no panels", name)
		}
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				// Grafana substitutes its interval; 30s spans many scrapes.
				q := strings.ReplaceAll(tg.Expr, "$__rate_interval", "30s")
				if n := waitSeries(t, prom, q, time.Minute); n == 0 {
					t.Errorf("%s, panel %q: %s returns no series", name, p.Title, q)
				}
			}
		}
	}
}

// waitSeries queries Prometheus until q returns a series, for at most
// timeout (the first scrapes take a few seconds), and returns how many.
func waitSeries(t *testing.T, prom, q string, timeout time.Duration) int {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || out.Status != "success" {
			t.Fatalf("query %s: %v %s %s", q, err, out.Status, out.Error)
		}
		if len(out.Data.Result) > 0 || time.Now().After(deadline) {
			return len(out.Data.Result)
		}
	}
}
