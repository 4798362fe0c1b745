package report_test

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iter8-tools/iter8/internal/load"
	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/report"
	"github.com/iter8-tools/iter8/pkg/stats"
	"github.com/iter8-tools/iter8/pkg/tasks/assess"
)

// loadResult is the result of a load test of each version (requests each,
// latencies log-normal around a median of medians[i] ms, errors[i] of
// them failed), assessed by the real assess task, with two earlier
// iterations kept in its history.
func loadResult(t testing.TB, name string, versions []string, requests int64, medians []float64, errors []int64) *experiment.Result {
	t.Helper()
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	r := &experiment.Result{Experiment: name, StartTime: start, EndTime: ptr(start.Add(10 * time.Second)), Iterations: 3, Completed: true,
		Tasks: []experiment.TaskStatus{{Task: "http", State: experiment.TaskSucceeded}, {Task: "assess", State: experiment.TaskSucceeded}}}
	for _, v := range versions {
		r.Versions = append(r.Versions, experiment.VersionResult{Name: v})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, v := range versions {
		rec := stats.NewRecorder()
		for range requests {
			rec.Record(medians[i] * math.Exp(0.5*rng.NormFloat64()))
		}
		s := load.Summary{Requests: requests, Errors: errors[i], Elapsed: 10 * time.Second, Latency: rec.Histogram()}
		if err := s.Record(r, "http", v, nil); err != nil {
			t.Fatal(err)
		}
		for k, m := range []string{"http/late-count", "http/dropped-count"} {
			if err := r.Record(v, experiment.MetricInfo{Name: m, Type: experiment.Counter}, float64((i+1)*(k+2))); err != nil {
				t.Fatal(err)
			}
		}
	}
	slos := &assess.Task{SLOs: assess.SLOs{Upper: []assess.Limit{
		{Metric: "http/latency-p99", Limit: 3 * medians[0] * math.Exp(0.5*2.33)},
		{Metric: "http/error-rate", Limit: 0.01},
	}}}
	if err := slos.Run(t.Context(), &experiment.Run{Result: r}); err != nil {
		t.Fatal(err)
	}
	for it := 1; it <= 2; it++ {
		h := experiment.RunSummary{Iteration: it, StartTime: start.Add(-time.Duration(3-it) * time.Hour), Completed: true, Metrics: map[string]map[string]float64{}}
		for _, v := range r.Versions {
			h.Metrics[v.Name] = map[string]float64{}
			for m, x := range v.Metrics {
				h.Metrics[v.Name][m] = x * float64(it) / 3
			}
		}
		if r.History == nil {
			r.History = &experiment.History{}
		}
		r.History.Add(h, map[string]map[string]*stats.Histogram{r.Versions[0].Name: r.Versions[0].Histograms})
	}
	return r
}

// openReport writes r's HTML report to a file and opens it in Chromium.
func openReport(t *testing.T, r *experiment.Result) (*testenv.Page, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := report.HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testenv.OpenPage(t, "file://"+path)
	drawn := p.WaitForPlots(t, 30*time.Second)
	t.Logf("report of %d bytes: loaded in %s, plots drawn %s later", b.Len(), p.Loaded.Round(time.Millisecond), drawn.Round(time.Millisecond))
	return p, b.Bytes()
}

type trace struct {
	Name string    `json:"name"`
	X    []any     `json:"x"`
	Y    []float64 `json:"y"`
	// Points is the number of points plotly.js drew.
	Points int `json:"points"`
}

// plots are the traces plotly.js holds for each plot, by title.
func plots(t *testing.T, p *testenv.Page) map[string][]trace {
	t.Helper()
	return testenv.Eval[map[string][]trace](t, p, `Object.fromEntries([...document.querySelectorAll(".plot")].map(d => [
  d.layout.title.text,
  d.data.map((tr, i) => ({name: tr.name, x: tr.x, y: tr.y,
    points: d.querySelectorAll(".trace")[i] ? d.querySelectorAll(".trace")[i].querySelectorAll(".point, path.js-line").length : 0}))]))`)
}

// TestHTMLReportInChromium opens the report of a two-version load test in
// a real browser with the network off: nothing is requested, nothing is
// logged, every plot is drawn with the result's data, and the SLO matrix
// says what the result says.
func TestHTMLReportInChromium(t *testing.T) {
	r := loadResult(t, "checkout", []string{"v1", "v2"}, 20000, []float64{10, 40}, []int64{0, 500})
	p, _ := openReport(t, r)
	if probs := p.Problems(); len(probs) > 0 {
		t.Errorf("the page logged or requested:\n%s", strings.Join(probs, "\n"))
	}

	got := plots(t, p)
	dist := got["http/latency: distribution"]
	curve := got["http/latency: percentiles"]
	if len(dist) != 2 || len(curve) != 2 {
		t.Fatalf("latency plots: %d and %d traces, want 2 each; plots: %v", len(dist), len(curve), keys(got))
	}
	for i, v := range r.Versions {
		h := v.Histograms["http/latency"]
		var sum float64
		for _, y := range dist[i].Y {
			sum += y
		}
		if dist[i].Name != v.Name || int64(sum) != h.Count || len(dist[i].Y) != len(h.Buckets) || dist[i].Points != len(h.Buckets) {
			t.Errorf("distribution of %s: name %q, %d bars drawn, counts summing to %g; want %d buckets summing to %d",
				v.Name, dist[i].Name, dist[i].Points, sum, len(h.Buckets), h.Count)
		}
		// The curve passes through the percentiles the load test recorded.
		for k, x := range curve[i].X {
			if pc, _ := x.(float64); pc == 50 || pc == 99 {
				want := v.Metrics["http/"+load.PercentileName(pc)]
				if math.Abs(curve[i].Y[k]-want) > 1e-9*want {
					t.Errorf("%s's curve at p%g: %g, want the recorded %g", v.Name, pc, curve[i].Y[k], want)
				}
			}
		}
	}
	for _, m := range []string{"http/error-rate", "http/throughput", "http/late-count", "http/dropped-count"} {
		bars := got[m]
		if len(bars) != 1 || len(bars[0].Y) != 2 || bars[0].Points != 2 {
			t.Errorf("%s: %+v, want a bar per version", m, bars)
			continue
		}
		for i, v := range r.Versions {
			if bars[0].X[i] != v.Name || bars[0].Y[i] != v.Metrics[m] {
				t.Errorf("%s of %s: bar %v = %g, want %g", m, v.Name, bars[0].X[i], bars[0].Y[i], v.Metrics[m])
			}
		}
	}
	hist := got["http/latency-p99 by iteration"]
	if len(hist) != 2 {
		t.Fatalf("history of http/latency-p99: %+v", hist)
	}
	runs := r.History.Runs()
	for i, v := range r.Versions {
		want := []float64{runs[0].Metrics[v.Name]["http/latency-p99"], runs[1].Metrics[v.Name]["http/latency-p99"], v.Metrics["http/latency-p99"]}
		if fmt.Sprint(hist[i].X) != "[1 2 3]" || fmt.Sprint(hist[i].Y) != fmt.Sprint(want) {
			t.Errorf("history of %s: x %v y %v, want x [1 2 3] y %v", v.Name, hist[i].X, hist[i].Y, want)
		}
	}

	// The earlier runs merged v1's histogram twice: over the 3 iterations,
	// v1 has three times its latest count, v2 its own.
	merged := got["http/latency over 3 iterations: distribution"]
	if len(merged) != 2 {
		t.Fatalf("merged distribution: %+v; plots: %v", merged, keys(got))
	}
	for i, v := range r.Versions {
		var sum float64
		for _, y := range merged[i].Y {
			sum += y
		}
		want := v.Histograms["http/latency"].Count
		if i == 0 {
			want *= 3
		}
		if merged[i].Name != v.Name || int64(sum) != want {
			t.Errorf("merged distribution of %s: name %q, counts summing to %g, want %d", v.Name, merged[i].Name, sum, want)
		}
	}

	cells := testenv.Eval[[][]string](t, p, `[...document.querySelectorAll("#slos tr")].slice(1).map(tr => [...tr.cells].map(c => c.className + "|" + c.textContent))`)
	if len(cells) != len(r.SLOs.SLOs) {
		t.Fatalf("SLO table rows: %v", cells)
	}
	for j, s := range r.SLOs.SLOs {
		for i, v := range r.Versions {
			mark, class := "✗", "fail"
			if r.SLOs.Satisfies(i, j) {
				mark, class = "✓", "pass"
			}
			want := class + "|" + mark + " " + report.FormatValue(v.Metrics[s.Metric])
			if cells[j][0] != "|"+s.String() || cells[j][i+1] != want {
				t.Errorf("SLO %s, %s: %q %q, want %q", s, v.Name, cells[j][0], cells[j][i+1], want)
			}
		}
	}
	if !r.SLOs.SatisfiesAll(0) || r.SLOs.Satisfies(1, 1) {
		t.Errorf("the fixture should have v1 pass and v2 miss its error rate: %v", r.SLOs.Satisfied)
	}
}

// TestHTMLReportShowsMarkupAsText: names carrying markup are shown as text
// in tables and plots, and run nothing.
func TestHTMLReportShowsMarkupAsText(t *testing.T) {
	img, quote := `<img src=x onerror="window.pwned=1">`, `v"2' & </script><script>window.pwned=2</script>`
	r := loadResult(t, `exp <b onmouseover=alert(1)>x</b>`, []string{img, quote}, 2000, []float64{5, 6}, []int64{0, 0})
	r.Tasks[0].Task, r.Tasks[0].Notes = "</table><img src=y onerror=window.pwned=3>", []string{"<script>window.pwned=4</script>"}
	p, page := openReport(t, r)
	if probs := p.Problems(); len(probs) > 0 {
		t.Errorf("the page logged or requested:\n%s", strings.Join(probs, "\n"))
	}
	if pwned := testenv.Eval[string](t, p, `String(window.pwned)`); pwned != "undefined" {
		t.Errorf("a name ran script: window.pwned = %s", pwned)
	}
	if n := testenv.Eval[int](t, p, `document.querySelectorAll("img, b, script[src], [onload], [onerror], [onmouseover]").length`); n != 0 {
		t.Errorf("%d elements came from names", n)
	}
	if n := testenv.Eval[int](t, p, `document.scripts.length`); n != 3 {
		t.Errorf("%d scripts, want the page's 3", n)
	}
	if n := bytes.Count(page, []byte("</script>")); n != 3 {
		t.Errorf("%d </script> in the page, want 3", n)
	}
	heads := testenv.Eval[[]string](t, p, `[...document.querySelectorAll("#slos th")].map(th => th.textContent)`)
	if fmt.Sprint(heads) != fmt.Sprint([]string{"SLO", img, quote}) {
		t.Errorf("SLO table headers %q", heads)
	}
	if task := testenv.Eval[string](t, p, `document.querySelector("#tasks tr:nth-child(2) td:nth-child(2)").textContent`); task != r.Tasks[0].Task {
		t.Errorf("task cell %q, want %q", task, r.Tasks[0].Task)
	}
	if title := testenv.Eval[string](t, p, `document.title`); title != "Experiment "+r.Experiment {
		t.Errorf("title %q", title)
	}
	legend := testenv.Eval[[]string](t, p, `[...document.querySelector(".plot").querySelectorAll(".legendtext")].map(e => e.textContent)`)
	if fmt.Sprint(legend) != fmt.Sprint([]string{img, quote}) {
		t.Errorf("the legend shows %q, want the names as text", legend)
	}
}

// TestHTMLReportIsNotBlank: a screenshot of the page has plots on it.
func TestHTMLReportIsNotBlank(t *testing.T) {
	p, _ := openReport(t, loadResult(t, "checkout", []string{"v1", "v2"}, 5000, []float64{10, 20}, []int64{0, 10}))
	img, err := png.Decode(bytes.NewReader(p.Screenshot(t)))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	colours, inked := map[[3]uint32]bool{}, 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r>>8 < 200 || g>>8 < 200 || bl>>8 < 200 {
				inked++
			}
		}
	}
	total := (b.Dx() / 2) * (b.Dy() / 2)
	if inked*100 < total || len(colours) < 50 {
		t.Errorf("the page looks blank: %d of %d sampled pixels inked, %d colours", inked, total, len(colours))
	}
	t.Logf("screenshot %dx%d: %.1f%% inked, %d colours", b.Dx(), b.Dy(), 100*float64(inked)/float64(total), len(colours))
}

func keys(m map[string][]trace) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
