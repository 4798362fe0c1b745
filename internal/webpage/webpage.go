// Package webpage writes self-contained HTML pages with plots: plotly.js
// (pinned by version, updated by `make plotly`, embedded in the binary) is
// inlined, the plots' data travel as JSON in the page, and the page's
// Content-Security-Policy lets it load nothing from anywhere and run only
// its own two scripts, so it opens offline and no name in it can run
// script.
package webpage

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"strings"
)

// The embedded plotly.js bundle (plotly.js-basic-dist-min: scatter and bar
// traces), its version and its licence.
var (
	//go:embed plotly/plotly-basic.min.js
	plotlyJS string
	//go:embed plotly/VERSION
	plotlyVersion string
	//go:embed plotly/LICENSE
	plotlyLicense string
)

// PlotlyVersion is the version of the embedded plotly.js.
func PlotlyVersion() string { return strings.TrimSpace(plotlyVersion) }

// Page is a page to write.
type Page struct {
	// Title is the page's title and heading.
	Title string
	// Body is the page's content below the heading, made by an
	// html/template (so its text is escaped). Each plot is a div whose id
	// is the plot's ID.
	Body template.HTML
	// Plots are drawn into their divs.
	Plots []Plot
}

// Plot is a plotly.js figure. Every string in it is shown as text: Write
// escapes the markup plotly.js would otherwise read in names, titles and
// labels.
type Plot struct {
	// ID is the id of the div the plot is drawn in.
	ID string `json:"id"`
	// Data are the traces.
	Data []Trace `json:"data"`
	// Layout is plotly.js's layout.
	Layout Layout `json:"layout"`
}

// Trace is one plotly.js trace: its points (X, Y) and how they are drawn.
type Trace struct {
	Type    string    `json:"type"`
	Name    string    `json:"name,omitempty"`
	X       []any     `json:"x"`
	Y       []float64 `json:"y"`
	Mode    string    `json:"mode,omitempty"`
	Width   []float64 `json:"width,omitempty"`
	Opacity float64   `json:"opacity,omitempty"`
	// ErrorY are error bars: how far each point's interval reaches above
	// (Array) and below (ArrayMinus) it.
	ErrorY *ErrorBars `json:"error_y,omitempty"`
}

// ErrorBars are asymmetric error bars given as data.
type ErrorBars struct {
	Type       string    `json:"type"`
	Symmetric  bool      `json:"symmetric"`
	Array      []float64 `json:"array"`
	ArrayMinus []float64 `json:"arrayminus"`
}

// Layout is the part of plotly.js's layout the pages use.
type Layout struct {
	Title   Text   `json:"title"`
	XAxis   Axis   `json:"xaxis"`
	YAxis   Axis   `json:"yaxis"`
	BarMode string `json:"barmode,omitempty"`
	Height  int    `json:"height,omitempty"`
}

// Axis is a plotly.js axis.
type Axis struct {
	Title Text   `json:"title"`
	Type  string `json:"type,omitempty"`
}

// Text is a plotly.js title.
type Text struct {
	Text string `json:"text"`
}

// The page's scripts: plotly.js, then the one that draws the plots from
// the JSON in the element #plots.
const drawScript = `for (const p of JSON.parse(document.getElementById("plots").textContent)) {
  Plotly.newPlot(p.id, p.data, p.layout, {displaylogo: false, responsive: true});
}`

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{.Policy}}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="iter8, with plotly.js {{.PlotlyVersion}} (MIT licence, at the head of its script)">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #176f2c; background: #e6f4ea; }
.fail { color: #a50e0e; background: #fce8e6; }
.plot { min-height: 360px; }
.note { color: #555; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{.Body}}
<script type="application/json" id="plots">{{.Plots}}</script>
<script>{{.Plotly}}</script>
<script>{{.Draw}}</script>
</body>
</html>
`))

// Write writes p as a complete HTML page.
func Write(w io.Writer, p Page) error {
	plots, err := escaped(p.Plots)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	err = page.Execute(&b, map[string]any{
		"Policy":        policy,
		"PlotlyVersion": PlotlyVersion(),
		"Title":         p.Title,
		"Body":          p.Body,
		"Plots":         template.JS(plots),
		"Plotly":        template.JS(plotlyScript),
		"Draw":          template.JS(drawScript),
	})
	if err != nil {
		return fmt.Errorf("writing the page: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// policy lets the page load nothing and run only its own scripts (by their
// hashes): no inline event handler, no script an injected tag would bring.
var policy = fmt.Sprintf("default-src 'none'; script-src %s %s; style-src 'unsafe-inline'; img-src data:",
	scriptHash(plotlyScript), scriptHash(drawScript))

// plotlyScript is plotly.js with its licence at its head.
var plotlyScript = "/*! plotly.js " + PlotlyVersion() + "\n" + plotlyLicense + "*/\n" + plotlyJS

func scriptHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// escaped is the plots as JSON for the #plots element, with every string
// HTML-escaped for plotly.js (which reads tags in text) and <, > and &
// escaped again by JSON (so no string can close the element).
func escaped(plots []Plot) (string, error) {
	if plots == nil {
		plots = []Plot{}
	}
	b, err := json.Marshal(plots)
	if err != nil {
		return "", fmt.Errorf("encoding the plots: %w", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	b, err = json.Marshal(escapeStrings(v))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// escapeStrings HTML-escapes every string in a decoded JSON value.
func escapeStrings(v any) any {
	switch x := v.(type) {
	case string:
		return html.EscapeString(x)
	case []any:
		for i := range x {
			x[i] = escapeStrings(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = escapeStrings(x[k])
		}
	}
	return v
}
