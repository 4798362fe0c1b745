package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/iter8-tools/iter8/internal/terminal"
	"github.com/iter8-tools/iter8/internal/webpage"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// curvePercentiles are the points of a percentile curve.
var curvePercentiles = func() []float64 {
	var ps []float64
	for p := 1; p <= 99; p++ {
		ps = append(ps, float64(p))
	}
	return append(ps, 99.5, 99.9, 99.99, 100)
}()

// loadSuffixes name the load metrics drawn as bars per version, in order:
// error rate and throughput, then late and dropped requests.
var loadSuffixes = []string{"/error-rate", "/throughput", "/late-count", "/dropped-count"}

// HTML writes the report of r as one self-contained page (it loads nothing
// from any host): the summary and tasks; the SLO matrix, each cell with its
// value; per histogram metric and version, the distribution and the
// percentile curve; error rate, throughput, late and dropped requests per
// version; every metric per version; and for a scheduled experiment, each
// metric across its iterations.
func HTML(w io.Writer, r *experiment.Result) error {
	v := htmlView{Result: r, Status: Status(r, terminal.Colorizer{}), Versions: r.VersionNames()}
	if r.SLOs != nil {
		v.SLOVerdict = sloVerdict(r, terminal.Colorizer{})
		for j, s := range r.SLOs.SLOs {
			row := sloRow{SLO: s.String()}
			for i, name := range v.Versions {
				c := sloCell{Pass: r.SLOs.Satisfies(i, j), Value: "no value"}
				if x, ok := r.Value(name, s.Metric); ok {
					c.Value = FormatValue(x)
				}
				row.Cells = append(row.Cells, c)
			}
			v.SLORows = append(v.SLORows, row)
		}
	}
	if !r.StartTime.IsZero() {
		v.Started = r.StartTime.UTC().Format(time.RFC3339)
		if r.EndTime != nil {
			v.Ran = r.EndTime.Sub(r.StartTime).Round(time.Millisecond).String()
		}
	}
	for _, m := range r.MetricNames() {
		row := metricRow{Name: m}
		if info := r.Info(m); info != nil {
			row.Unit = info.Unit
		}
		for _, name := range v.Versions {
			cell := "-"
			if x, ok := r.Value(name, m); ok {
				cell = FormatValue(x)
			}
			row.Values = append(row.Values, cell)
		}
		v.Metrics = append(v.Metrics, row)
	}

	var plots []webpage.Plot
	add := func(section *[]string, p webpage.Plot) {
		p.ID = fmt.Sprintf("plot-%d", len(plots)+1)
		plots = append(plots, p)
		*section = append(*section, p.ID)
	}
	for _, info := range r.Metrics {
		if info.Type != experiment.HistogramType {
			continue
		}
		dist, curve := histogramPlots(r, info.Name, "", func(v experiment.VersionResult) *stats.Histogram { return v.Histograms[info.Name] })
		add(&v.Distributions, dist)
		add(&v.Distributions, curve)
	}
	for _, m := range r.MetricNames() {
		if slices.ContainsFunc(loadSuffixes, func(s string) bool { return strings.HasSuffix(m, s) }) {
			add(&v.Load, barPlot(r, m))
		}
	}
	if runs := iterations(r); len(runs) > 1 {
		v.Iterations = len(runs)
		for _, m := range r.MetricNames() {
			add(&v.History, historyPlot(r, runs, m))
		}
		for _, info := range r.Metrics {
			if info.Type != experiment.HistogramType {
				continue
			}
			dist, curve := histogramPlots(r, info.Name, fmt.Sprintf(" over %d iterations", len(runs)),
				func(v experiment.VersionResult) *stats.Histogram { return r.MergedHistogram(v.Name, info.Name) })
			add(&v.History, dist)
			add(&v.History, curve)
		}
	}

	var body bytes.Buffer
	if err := bodyTemplate.Execute(&body, v); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return webpage.Write(w, webpage.Page{
		Title: "Experiment " + r.Experiment,
		Body:  template.HTML(body.String()), // made by html/template: escaped
		Plots: plots,
	})
}

type htmlView struct {
	*experiment.Result
	Status, SLOVerdict, Started, Ran string
	Versions                         []string
	SLORows                          []sloRow
	Metrics                          []metricRow
	// Plot ids by section.
	Distributions, Load, History []string
	// Iterations is the number of runs History draws.
	Iterations int
}

type sloRow struct {
	SLO   string
	Cells []sloCell
}

type sloCell struct {
	Pass  bool
	Value string
}

type metricRow struct {
	Name, Unit string
	Values     []string
}

var bodyTemplate = template.Must(template.New("body").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).Parse(`<table class="summary">
<tr><th>Status</th><td id="status">{{.Status}}</td></tr>
{{if .SLOVerdict}}<tr><th>SLOs</th><td id="slo-verdict">{{.SLOVerdict}}</td></tr>{{end}}
<tr><th>Iterations</th><td>{{.Result.Iterations}}</td></tr>
{{if .Started}}<tr><th>Started</th><td>{{.Started}}{{if .Ran}} (ran {{.Ran}}){{end}}</td></tr>{{end}}
</table>
<h2>Tasks</h2>
<table id="tasks">
<tr><th>#</th><th>task</th><th>state</th><th>reason</th><th>notes</th></tr>
{{range $i, $t := .Result.Tasks}}<tr><td class="num">{{$i | inc}}</td><td>{{$t.Task}}</td><td>{{$t.State}}</td><td>{{$t.Error}}</td><td>{{range $t.Notes}}<div class="note">{{.}}</div>{{end}}</td></tr>
{{end}}</table>
{{if .SLORows}}<h2>SLOs</h2>
<table id="slos">
<tr><th>SLO</th>{{range .Versions}}<th>{{.}}</th>{{end}}</tr>
{{range .SLORows}}<tr><td>{{.SLO}}</td>{{range .Cells}}<td class="{{if .Pass}}pass{{else}}fail{{end}}">{{if .Pass}}✓{{else}}✗{{end}} {{.Value}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .Distributions}}<h2>Latency</h2>
{{range .Distributions}}<div class="plot" id="{{.}}"></div>
{{end}}{{end}}
{{if .Load}}<h2>Errors, throughput, late and dropped requests</h2>
{{range .Load}}<div class="plot" id="{{.}}"></div>
{{end}}{{end}}
{{if .Metrics}}<h2>Metrics</h2>
<table id="metrics">
<tr><th>metric</th>{{range .Versions}}<th>{{.}}</th>{{end}}</tr>
{{range .Metrics}}<tr><td>{{.Name}}{{if .Unit}} ({{.Unit}}){{end}}</td>{{range .Values}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .History}}<h2>Across {{.Iterations}} iterations</h2>
{{range .History}}<div class="plot" id="{{.}}"></div>
{{end}}{{end}}
`))

// label is a metric's name with its unit.
func label(r *experiment.Result, metric string) string {
	if info := r.Info(metric); info != nil && info.Unit != "" {
		return metric + " (" + info.Unit + ")"
	}
	return metric
}

// histogramPlots are the distribution (a bar per bucket) and the
// percentile curve of a histogram metric, a trace per version that has it
// (histogram returns it); the titles name the metric, then what.
func histogramPlots(r *experiment.Result, metric, what string, histogram func(experiment.VersionResult) *stats.Histogram) (dist, curve webpage.Plot) {
	l := label(r, metric)
	dist.Layout = webpage.Layout{Title: webpage.Text{Text: metric + what + ": distribution"}, BarMode: "overlay",
		XAxis: webpage.Axis{Title: webpage.Text{Text: l}}, YAxis: webpage.Axis{Title: webpage.Text{Text: "count"}}}
	curve.Layout = webpage.Layout{Title: webpage.Text{Text: metric + what + ": percentiles"},
		XAxis: webpage.Axis{Title: webpage.Text{Text: "percentile"}}, YAxis: webpage.Axis{Title: webpage.Text{Text: l}}}
	for _, v := range r.Versions {
		h := histogram(v)
		if h == nil || h.Count == 0 {
			continue
		}
		bars := webpage.Trace{Type: "bar", Name: v.Name, Opacity: 0.6}
		for _, b := range h.Buckets {
			bars.X = append(bars.X, (b.Lower+b.Upper)/2)
			bars.Y = append(bars.Y, float64(b.Count))
			bars.Width = append(bars.Width, b.Upper-b.Lower)
		}
		dist.Data = append(dist.Data, bars)
		curve.Data = append(curve.Data, percentileCurve(v.Name, h))
	}
	return dist, curve
}

func percentileCurve(name string, h *stats.Histogram) webpage.Trace {
	t := webpage.Trace{Type: "scatter", Mode: "lines", Name: name}
	for _, p := range curvePercentiles {
		x, err := h.Percentile(p)
		if err != nil {
			continue // p is in range by construction
		}
		t.X = append(t.X, p)
		t.Y = append(t.Y, x)
	}
	return t
}

// barPlot is a metric's value per version.
func barPlot(r *experiment.Result, metric string) webpage.Plot {
	p := webpage.Plot{Layout: webpage.Layout{Title: webpage.Text{Text: metric},
		XAxis: webpage.Axis{Title: webpage.Text{Text: "version"}, Type: "category"}, YAxis: webpage.Axis{Title: webpage.Text{Text: label(r, metric)}}}}
	t := webpage.Trace{Type: "bar", Name: metric}
	for _, v := range r.VersionNames() {
		if x, ok := r.Value(v, metric); ok {
			t.X, t.Y = append(t.X, v), append(t.Y, x)
		}
	}
	p.Data = []webpage.Trace{t}
	return p
}

// run is one iteration's figures: the earlier runs a periodic experiment
// keeps, then the latest.
type run struct {
	iteration int
	metrics   map[string]map[string]float64
}

func iterations(r *experiment.Result) []run {
	var runs []run
	if r.History != nil {
		for _, h := range r.History.Runs() {
			runs = append(runs, run{h.Iteration, h.Metrics})
		}
	}
	latest := run{iteration: r.Iterations, metrics: map[string]map[string]float64{}}
	if r.EndTime == nil {
		latest.iteration++ // still running: not counted yet
	}
	for _, v := range r.Versions {
		latest.metrics[v.Name] = v.Metrics
	}
	return append(runs, latest)
}

// historyPlot is a metric across iterations, a line per version.
func historyPlot(r *experiment.Result, runs []run, metric string) webpage.Plot {
	p := webpage.Plot{Layout: webpage.Layout{Title: webpage.Text{Text: metric + " by iteration"},
		XAxis: webpage.Axis{Title: webpage.Text{Text: "iteration"}}, YAxis: webpage.Axis{Title: webpage.Text{Text: label(r, metric)}}}}
	for _, v := range r.VersionNames() {
		t := webpage.Trace{Type: "scatter", Mode: "lines+markers", Name: v}
		for _, run := range runs {
			if x, ok := run.metrics[v][metric]; ok {
				t.X, t.Y = append(t.X, run.iteration), append(t.Y, x)
			}
		}
		p.Data = append(p.Data, t)
	}
	return p
}
