package abn_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// TestHTMLShowsMarkupAsText: application, version, metric names and notes
// carrying markup are shown as text and run nothing.
func TestHTMLShowsMarkupAsText(t *testing.T) {
	img, quote := `<img src=x onerror="window.pwned=1">`, `v"2' & </script><script>window.pwned=2</script>`
	metric := `<svg onload=window.pwned=3>`
	rep := abn.Report{Application: "shop/<b>checkout</b>", Baseline: img, Notes: []string{"<script>window.pwned=4</script>"},
		Versions: []abn.VersionReport{
			{Name: img, Users: 10, Metrics: []abn.MetricReport{{Name: metric, Count: 3, PerUser: abn.PerUser{Mean: 1}}}},
			{Name: quote, Index: 1, Users: 12, Metrics: []abn.MetricReport{{Name: metric, Count: 5, PerUser: abn.PerUser{Mean: 2},
				VsBaseline: &stats.Welch{Difference: 1, Lower: 0.5, Upper: 1.5}}}},
		}}
	var b bytes.Buffer
	if err := abn.HTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "abn.html")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testenv.OpenPage(t, "file://"+path)
	p.WaitForPlots(t, 30*time.Second)
	if probs := p.Problems(); len(probs) > 0 {
		t.Errorf("the page logged or requested:\n%s", strings.Join(probs, "\n"))
	}
	if pwned := testenv.Eval[string](t, p, `String(window.pwned)`); pwned != "undefined" {
		t.Errorf("a name ran script: window.pwned = %s", pwned)
	}
	if n := testenv.Eval[int](t, p, `document.querySelectorAll("img, b, td svg, script[src], [onload], [onerror], [onmouseover]").length`); n != 0 {
		t.Errorf("%d elements came from names", n)
	}
	if n := testenv.Eval[int](t, p, `document.scripts.length`); n != 3 {
		t.Errorf("%d scripts, want the page's 3", n)
	}
	versions := testenv.Eval[[]string](t, p, `[...document.querySelectorAll("#versions td:first-child")].map(td => td.textContent)`)
	if fmt.Sprint(versions) != fmt.Sprint([]string{img, quote}) {
		t.Errorf("versions shown as %q", versions)
	}
	ticks := testenv.Eval[[]string](t, p, `[...document.querySelectorAll("#metric-1 .xtick text")].map(e => e.textContent)`)
	if fmt.Sprint(ticks) != fmt.Sprint([]string{img, quote}) {
		t.Errorf("the plot's axis shows %q, want the names as text", ticks)
	}
	if m := testenv.Eval[string](t, p, `document.querySelector("#metrics tr:nth-child(2) td").textContent`); m != metric {
		t.Errorf("metric shown as %q", m)
	}
}
