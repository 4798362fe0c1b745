package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iter8-tools/iter8/pkg/stats"
)

// MaxHistory bounds the runs a History keeps; the oldest go first. Its
// merged histograms keep every run.
const MaxHistory = 1000

// History is what a periodic experiment keeps of its earlier runs: each
// run's outcome and figures, oldest first, and each version's histograms
// merged over every run. Figures are kept in columns, a value per run, so
// that a thousand runs fit in a Secret's 1 MiB; they keep 6 significant
// digits (whole numbers, such as counts, are kept exactly), finer than the
// 1% of the latency histograms they mostly come from.
type History struct {
	// Iterations numbers the runs.
	Iterations Column `json:"iterations"`
	// StartTimes says when each run started.
	StartTimes []time.Time `json:"startTimes"`
	// Seconds is how long each run took.
	Seconds Column `json:"seconds"`
	// Outcomes has a letter per run: s succeeded, f completed with a
	// failed task, i was interrupted.
	Outcomes string `json:"outcomes"`
	// Errors maps the iteration of each failed run to its error.
	Errors map[int]string `json:"errors,omitempty"`
	// SLOs maps each version to a letter per run: y it satisfied every
	// SLO, n it did not, - none was assessed.
	SLOs map[string]string `json:"slos,omitempty"`
	// Metrics maps each version and metric to its value in each run; NaN
	// (written -) in a run that recorded none.
	Metrics map[string]map[string]Column `json:"metrics,omitempty"`
	// Histograms maps each version and histogram metric to its histogram
	// merged over the runs.
	Histograms map[string]map[string]*stats.Histogram `json:"histograms,omitempty"`
}

// Outcome letters of History.Outcomes.
const (
	outcomeSucceeded   = 's'
	outcomeFailed      = 'f'
	outcomeInterrupted = 'i'
)

// Len is the number of runs kept.
func (h *History) Len() int {
	if h == nil {
		return 0
	}
	return len(h.Iterations)
}

// Add appends a run that ended, merging its histograms (by version, then
// metric) into the history's.
func (h *History) Add(s RunSummary, histograms map[string]map[string]*stats.Histogram) {
	n := h.Len()
	h.Iterations = append(h.Iterations, float64(s.Iteration))
	h.StartTimes = append(h.StartTimes, s.StartTime)
	seconds := math.NaN()
	if s.EndTime != nil {
		seconds = s.EndTime.Sub(s.StartTime).Seconds()
	}
	h.Seconds = append(h.Seconds, compact(seconds))
	switch {
	case !s.Completed:
		h.Outcomes += string(outcomeInterrupted)
	case s.Failed:
		h.Outcomes += string(outcomeFailed)
	default:
		h.Outcomes += string(outcomeSucceeded)
	}
	if s.Error != "" {
		if h.Errors == nil {
			h.Errors = map[int]string{}
		}
		h.Errors[s.Iteration] = s.Error
	}
	for v, ok := range s.SLOsSatisfied {
		if h.SLOs == nil {
			h.SLOs = map[string]string{}
		}
		letter := "n"
		if ok {
			letter = "y"
		}
		h.SLOs[v] = pad(h.SLOs[v], n) + letter
	}
	for v := range h.SLOs {
		h.SLOs[v] = pad(h.SLOs[v], n+1)
	}
	for v, ms := range s.Metrics {
		if h.Metrics == nil {
			h.Metrics = map[string]map[string]Column{}
		}
		if h.Metrics[v] == nil {
			h.Metrics[v] = map[string]Column{}
		}
		for m, x := range ms {
			h.Metrics[v][m] = append(padColumn(h.Metrics[v][m], n), compact(x))
		}
	}
	for _, ms := range h.Metrics {
		for m, c := range ms {
			ms[m] = padColumn(c, n+1)
		}
	}
	for v, hs := range histograms {
		for m, x := range hs {
			if h.Histograms == nil {
				h.Histograms = map[string]map[string]*stats.Histogram{}
			}
			if h.Histograms[v] == nil {
				h.Histograms[v] = map[string]*stats.Histogram{}
			}
			if h.Histograms[v][m] == nil {
				h.Histograms[v][m] = &stats.Histogram{}
			}
			h.Histograms[v][m].Merge(x)
		}
	}
	if n+1 > MaxHistory {
		h.dropOldest(n + 1 - MaxHistory)
	}
}

// dropOldest forgets the figures of the k oldest runs; the merged
// histograms keep them.
func (h *History) dropOldest(k int) {
	for _, it := range h.Iterations[:k] {
		delete(h.Errors, int(it))
	}
	h.Iterations = slices.Clone(h.Iterations[k:])
	h.StartTimes = slices.Clone(h.StartTimes[k:])
	h.Seconds = slices.Clone(h.Seconds[k:])
	h.Outcomes = h.Outcomes[k:]
	for v, s := range h.SLOs {
		h.SLOs[v] = s[k:]
	}
	for _, ms := range h.Metrics {
		for m, c := range ms {
			ms[m] = slices.Clone(c[k:])
		}
	}
}

// pad extends a string of letters with - to n letters.
func pad(s string, n int) string {
	if len(s) < n {
		s += strings.Repeat("-", n-len(s))
	}
	return s
}

// padColumn extends a column with NaN to n values.
func padColumn(c Column, n int) Column {
	for len(c) < n {
		c = append(c, math.NaN())
	}
	return c
}

// compact keeps a figure to 6 significant digits, and a whole number
// exactly.
func compact(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || (x == math.Trunc(x) && math.Abs(x) < 1<<53) {
		return x
	}
	y, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 6, 64), 64)
	return y
}

// Runs returns each run kept, oldest first, as a RunSummary.
func (h *History) Runs() []RunSummary {
	out := make([]RunSummary, h.Len())
	for i := range out {
		s := &out[i]
		s.Iteration, s.StartTime = int(h.Iterations[i]), h.StartTimes[i]
		if i < len(h.Seconds) && !math.IsNaN(h.Seconds[i]) {
			end := s.StartTime.Add(time.Duration(h.Seconds[i] * float64(time.Second)))
			s.EndTime = &end
		}
		if i < len(h.Outcomes) {
			s.Completed = h.Outcomes[i] != outcomeInterrupted
			s.Failed = h.Outcomes[i] != outcomeSucceeded
		}
		s.Error = h.Errors[s.Iteration]
		for v, letters := range h.SLOs {
			if i < len(letters) && letters[i] != '-' {
				if s.SLOsSatisfied == nil {
					s.SLOsSatisfied = map[string]bool{}
				}
				s.SLOsSatisfied[v] = letters[i] == 'y'
			}
		}
		for v, ms := range h.Metrics {
			for m, c := range ms {
				if i < len(c) && !math.IsNaN(c[i]) {
					if s.Metrics == nil {
						s.Metrics = map[string]map[string]float64{}
					}
					if s.Metrics[v] == nil {
						s.Metrics[v] = map[string]float64{}
					}
					s.Metrics[v][m] = c[i]
				}
			}
		}
	}
	return out
}

// check reports a history whose columns do not all have a value per run.
func (h *History) check() error {
	n := h.Len()
	bad := func(what string, got int) error {
		return fmt.Errorf("history: %s has %d entries for %d iterations", what, got, n)
	}
	switch {
	case len(h.StartTimes) != n:
		return bad("startTimes", len(h.StartTimes))
	case len(h.Seconds) != n:
		return bad("seconds", len(h.Seconds))
	case len(h.Outcomes) != n:
		return bad("outcomes", len(h.Outcomes))
	case strings.Trim(h.Outcomes, "sfi") != "":
		return fmt.Errorf("history: outcomes %q: allowed letters are s, f and i", h.Outcomes)
	}
	for _, v := range slices.Sorted(maps.Keys(h.SLOs)) {
		if len(h.SLOs[v]) != n {
			return bad("slos of "+v, len(h.SLOs[v]))
		}
		if strings.Trim(h.SLOs[v], "yn-") != "" {
			return fmt.Errorf("history: slos of %s %q: allowed letters are y, n and -", v, h.SLOs[v])
		}
	}
	for _, v := range slices.Sorted(maps.Keys(h.Metrics)) {
		for _, m := range slices.Sorted(maps.Keys(h.Metrics[v])) {
			if len(h.Metrics[v][m]) != n {
				return bad("metric "+m+" of "+v, len(h.Metrics[v][m]))
			}
		}
	}
	return nil
}

// UnmarshalJSON reads a history, in columns, or as the list of run
// summaries results held before.
func (h *History) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '[' {
		var runs []RunSummary
		if err := strictJSON(b, &runs); err != nil {
			return err
		}
		*h = History{}
		for _, s := range runs {
			h.Add(s, nil)
		}
		return nil
	}
	type plain History
	var p plain
	if err := strictJSON(b, &p); err != nil {
		return err
	}
	*h = History(p)
	return h.check()
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// Column is a figure's value in each run, written as one string of
// space-separated numbers, - for none (NaN).
type Column []float64

// MarshalJSON writes the column as a string.
func (c Column) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 8*len(c)+2)
	for i, x := range c {
		if i > 0 {
			b = append(b, ' ')
		}
		if math.IsNaN(x) {
			b = append(b, '-')
			continue
		}
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON reads a column written by MarshalJSON.
func (c *Column) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a column is a string of space-separated numbers: %w", err)
	}
	fields := strings.Fields(s)
	*c = make(Column, len(fields))
	for i, f := range fields {
		if f == "-" {
			(*c)[i] = math.NaN()
			continue
		}
		x, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Errorf("column entry %d is %q: want a finite number, or - for none", i+1, f)
		}
		(*c)[i] = x
	}
	return nil
}
