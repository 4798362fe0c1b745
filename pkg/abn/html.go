package abn

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strconv"

	"github.com/iter8-tools/iter8/internal/webpage"
)

// HTML writes rep as one self-contained page (see internal/webpage): the
// sample ratio check with users per version against the expected split,
// each metric's mean per user with its 95% interval against the baseline,
// and the statistics table. kubectl iter8-abn metrics -o html writes it;
// the service serves it at /report/{application}.
func HTML(w io.Writer, rep Report) error {
	var plots []webpage.Plot
	users := webpage.Plot{ID: "users", Layout: webpage.Layout{Title: webpage.Text{Text: "users per version"},
		XAxis: webpage.Axis{Title: webpage.Text{Text: "version"}, Type: "category"}, YAxis: webpage.Axis{Title: webpage.Text{Text: "users"}}}}
	observed := webpage.Trace{Type: "bar", Name: "users"}
	for _, v := range rep.Versions {
		observed.X, observed.Y = append(observed.X, v.Name), append(observed.Y, float64(v.Users))
	}
	users.Data = append(users.Data, observed)
	if sr := rep.SampleRatio; sr != nil {
		expected := webpage.Trace{Type: "bar", Name: "expected by weight"}
		for i, v := range sr.Versions {
			expected.X, expected.Y = append(expected.X, v), append(expected.Y, sr.Expected[i])
		}
		users.Data = append(users.Data, expected)
	}
	plots = append(plots, users)

	var rows []metricHTMLRow
	if len(rep.Versions) > 0 {
		for i, m := range rep.Versions[0].Metrics {
			p := webpage.Plot{ID: fmt.Sprintf("metric-%d", i+1), Layout: webpage.Layout{Title: webpage.Text{Text: m.Name + ": mean per user, 95% interval vs " + rep.Baseline},
				XAxis: webpage.Axis{Title: webpage.Text{Text: "version"}, Type: "category"}, YAxis: webpage.Axis{Title: webpage.Text{Text: m.Name + " per user"}}}}
			t := webpage.Trace{Type: "scatter", Mode: "markers", Name: m.Name, ErrorY: &webpage.ErrorBars{Type: "data"}}
			for _, v := range rep.Versions {
				vm := v.Metrics[i]
				up, down := 0.0, 0.0
				if w := vm.VsBaseline; w != nil {
					// The interval is of the difference from the baseline's mean.
					up, down = w.Upper-w.Difference, w.Difference-w.Lower
				}
				t.X, t.Y = append(t.X, v.Name), append(t.Y, vm.PerUser.Mean)
				t.ErrorY.Array, t.ErrorY.ArrayMinus = append(t.ErrorY.Array, up), append(t.ErrorY.ArrayMinus, down)
				row := metricHTMLRow{Metric: m.Name, Version: v.Name, Count: vm.Count, Mean: FormatStatistic(vm.Mean), Stddev: FormatStatistic(vm.Stddev),
					Min: FormatStatistic(vm.Min), Max: FormatStatistic(vm.Max), P50: FormatStatistic(vm.P50), P95: FormatStatistic(vm.P95), PerUser: FormatStatistic(vm.PerUser.Mean)}
				switch {
				case v.Name == rep.Baseline:
					row.VsBaseline = "(baseline)"
				case vm.VsBaseline != nil:
					w := vm.VsBaseline
					row.VsBaseline = fmt.Sprintf("%s [%s, %s]", FormatDifference(w.Difference), FormatDifference(w.Lower), FormatDifference(w.Upper))
					row.PValue = FormatStatistic(w.PValue)
				}
				rows = append(rows, row)
			}
			p.Data = []webpage.Trace{t}
			plots = append(plots, p)
		}
	}

	var body bytes.Buffer
	err := abnTemplate.Execute(&body, map[string]any{"Report": rep, "Rows": rows, "Plots": plots[1:], "Threshold": SampleRatioThreshold})
	if err != nil {
		return fmt.Errorf("writing the page: %w", err)
	}
	return webpage.Write(w, webpage.Page{Title: "A/B/n " + rep.Application, Body: template.HTML(body.String()), Plots: plots})
}

type metricHTMLRow struct {
	Metric, Version                                               string
	Count                                                         int64
	Mean, Stddev, Min, Max, P50, P95, PerUser, VsBaseline, PValue string
}

var abnTemplate = template.Must(template.New("abn").Funcs(template.FuncMap{"num": FormatStatistic}).Parse(`<table class="summary">
<tr><th>Application</th><td>{{.Report.Application}}</td></tr>
<tr><th>Baseline</th><td>{{.Report.Baseline}}</td></tr>
<tr><th>Sample ratio</th><td id="sample-ratio">{{with .Report.SampleRatio}}{{if .Mismatch}}<span class="fail">MISMATCH</span> (chi-squared {{num .Statistic}}, p {{num .PValue}} &lt; {{$.Threshold}}): users are not split as the weights say; comparisons are suspect{{else}}<span class="pass">ok</span> (chi-squared {{num .Statistic}}, p {{num .PValue}}){{end}}{{else}}not checked (see notes){{end}}</td></tr>
</table>
<h2>Versions</h2>
<div class="plot" id="users"></div>
<table id="versions">
<tr><th>version</th><th>index</th><th>weight</th><th>ready</th><th>users</th><th>transactions</th></tr>
{{range .Report.Versions}}<tr><td>{{.Name}}</td><td class="num">{{if lt .Index 0}}-{{else}}{{.Index}}{{end}}</td><td class="num">{{.Weight}}</td><td>{{.Ready}}</td><td class="num">{{.Users}}</td><td class="num">{{.Transactions}}</td></tr>
{{end}}</table>
{{if .Rows}}<h2>Metrics</h2>
{{range .Plots}}<div class="plot" id="{{.ID}}"></div>
{{end}}<table id="metrics">
<tr><th>metric</th><th>version</th><th>count</th><th>mean</th><th>stddev</th><th>min</th><th>max</th><th>p50</th><th>p95</th><th>per user</th><th>vs baseline (95% CI)</th><th>p-value</th></tr>
{{range .Rows}}<tr><td>{{.Metric}}</td><td>{{.Version}}</td><td class="num">{{.Count}}</td><td class="num">{{.Mean}}</td><td class="num">{{.Stddev}}</td><td class="num">{{.Min}}</td><td class="num">{{.Max}}</td><td class="num">{{.P50}}</td><td class="num">{{.P95}}</td><td class="num">{{.PerUser}}</td><td>{{.VsBaseline}}</td><td class="num">{{.PValue}}</td></tr>
{{end}}</table>{{end}}
{{with .Report.Notes}}<h2>Notes</h2>
<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
`))

// FormatStatistic formats a statistic with four significant digits, or as
// a whole number from 10,000 up, so that large sums do not turn into
// exponents.
func FormatStatistic(v float64) string {
	if v >= 1e4 || v <= -1e4 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// FormatDifference formats a difference with its sign.
func FormatDifference(v float64) string {
	if v >= 0 {
		return "+" + FormatStatistic(v)
	}
	return FormatStatistic(v)
}
