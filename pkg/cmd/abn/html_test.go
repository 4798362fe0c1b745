package abn_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iter8-tools/iter8/internal/abntest/servicetest"
	"github.com/iter8-tools/iter8/internal/testenv"
	abnpkg "github.com/iter8-tools/iter8/pkg/abn"
)

// TestMetricsHTMLInChromium: metrics -o html, and the service's
// /report/checkout, are the same page; opened in a real browser with the
// network off it logs and requests nothing, and its plots hold the
// report's users and means per user, with intervals that are the Welch
// intervals around the baseline's mean.
func TestMetricsHTMLInChromium(t *testing.T) {
	srv := servicetest.Start(t, checkout(t))
	dir := t.TempDir()
	shop(t, srv.Addr, 400)
	out, errOut, code := iter8(t, dir, "metrics", "checkout", "--endpoint", srv.Addr, "-o", "html")
	if code != 0 || errOut != "" {
		t.Fatalf("metrics -o html: exit %d, stderr %q", code, errOut)
	}
	resp, err := http.Get(srv.HTTP + "/report/checkout")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || !bytes.Equal(served, []byte(out)) {
		t.Errorf("/report/checkout: %s %q, %d bytes; metrics -o html wrote %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(served), len(out))
	}
	if resp, err := http.Get(srv.HTTP + "/report/nope"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("/report/nope: %v %v", resp.Status, err)
	}
	js, _, _ := iter8(t, dir, "metrics", "checkout", "--endpoint", srv.Addr, "-o", "json")
	var rep abnpkg.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(dir, "checkout.html")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testenv.OpenPage(t, "file://"+path)
	p.WaitForPlots(t, 30*time.Second)
	if probs := p.Problems(); len(probs) > 0 {
		t.Errorf("the page logged or requested:\n%s", strings.Join(probs, "\n"))
	}
	type trace struct {
		Name   string    `json:"name"`
		X      []string  `json:"x"`
		Y      []float64 `json:"y"`
		Up     []float64 `json:"up"`
		Down   []float64 `json:"down"`
		Points int       `json:"points"`
	}
	plots := testenv.Eval[map[string][]trace](t, p, `Object.fromEntries([...document.querySelectorAll(".plot")].map(d => [d.id,
  d.data.map((tr, i) => ({name: tr.name, x: tr.x, y: tr.y, up: tr.error_y ? tr.error_y.array : null, down: tr.error_y ? tr.error_y.arrayminus : null,
    points: d.querySelectorAll(".trace")[i].querySelectorAll(".point").length}))]))`)
	users := plots["users"]
	if len(users) != 2 || users[0].Points != 2 || users[1].Points != 2 {
		t.Fatalf("users plot: %+v, want users and expected for both versions", users)
	}
	for i, v := range rep.Versions {
		if users[0].X[i] != v.Name || users[0].Y[i] != float64(v.Users) || users[1].Y[i] != rep.SampleRatio.Expected[i] {
			t.Errorf("users of %s: %v %v, expected %v; report: %d, expected %v", v.Name, users[0].X[i], users[0].Y[i], users[1].Y[i], v.Users, rep.SampleRatio.Expected[i])
		}
	}
	sales := plots["metric-1"]
	if len(sales) != 1 || sales[0].Points != 2 {
		t.Fatalf("sales plot: %+v", sales)
	}
	base := rep.Versions[0].Metrics[0].PerUser.Mean
	for i, v := range rep.Versions {
		m, s := v.Metrics[0], sales[0]
		if s.Y[i] != m.PerUser.Mean {
			t.Errorf("%s per user of %s: %g, want %g", m.Name, v.Name, s.Y[i], m.PerUser.Mean)
		}
		if w := m.VsBaseline; w != nil {
			if lo, hi := s.Y[i]-s.Down[i], s.Y[i]+s.Up[i]; math.Abs(lo-(base+w.Lower)) > 1e-9 || math.Abs(hi-(base+w.Upper)) > 1e-9 {
				t.Errorf("%s's interval [%g, %g], want the baseline's mean plus [%g, %g]", v.Name, lo, hi, w.Lower, w.Upper)
			}
		}
	}
	if rep.Versions[1].Metrics[0].VsBaseline == nil {
		t.Error("v2 has no comparison with the baseline")
	}
	if ratio := testenv.Eval[string](t, p, `document.getElementById("sample-ratio").textContent`); !strings.HasPrefix(ratio, "ok (chi-squared ") {
		t.Errorf("sample ratio: %q", ratio)
	}
}
