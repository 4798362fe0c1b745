// Package report renders experiment results for people: a summary, the
// tasks, the SLO matrix and the metrics table with versions as columns.
package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/iter8-tools/iter8/internal/terminal"
	"github.com/iter8-tools/iter8/pkg/experiment"
)

// Text writes the human-readable report of r. Colour, when enabled, marks
// the verdict only.
func Text(w io.Writer, r *experiment.Result, color terminal.Colorizer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Experiment:  %s\n", r.Experiment)
	fmt.Fprintf(&b, "Status:      %s\n", Status(r, color))
	if r.SLOs != nil {
		fmt.Fprintf(&b, "SLOs:        %s\n", sloVerdict(r, color))
	}
	fmt.Fprintf(&b, "Iterations:  %d\n", r.Iterations)
	if !r.StartTime.IsZero() {
		fmt.Fprintf(&b, "Started:     %s", r.StartTime.UTC().Format(time.RFC3339))
		if r.EndTime != nil {
			fmt.Fprintf(&b, " (ran %s)", r.EndTime.Sub(r.StartTime).Round(time.Millisecond))
		}
		b.WriteString("\n")
	}
	if _, err := io.WriteString(w, b.String()+"\n"); err != nil {
		return err
	}

	rows := make([][]string, len(r.Tasks))
	var notes []string
	for i, t := range r.Tasks {
		rows[i] = []string{strconv.Itoa(i + 1), t.Task, string(t.State), t.Error}
		for _, n := range t.Notes {
			notes = append(notes, fmt.Sprintf("task %d (%s): %s", i+1, t.Task, n))
		}
	}
	if err := terminal.Table(w, []string{"#", "task", "state", "reason"}, rows); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintf(w, "Note: %s\n", n); err != nil {
			return err
		}
	}

	versions := r.VersionNames()
	if r.SLOs != nil && len(r.SLOs.SLOs) > 0 {
		fmt.Fprintln(w)
		rows = nil
		for j, s := range r.SLOs.SLOs {
			row := []string{s.String()}
			for i := range versions {
				mark := "✗"
				if r.SLOs.Satisfies(i, j) {
					mark = "✓"
				}
				row = append(row, mark)
			}
			rows = append(rows, row)
		}
		if err := terminal.Table(w, append([]string{"slo"}, versions...), rows); err != nil {
			return err
		}
	}

	if names := r.MetricNames(); len(names) > 0 {
		fmt.Fprintln(w)
		rows = nil
		for _, m := range names {
			info := r.Info(m)
			label := m
			if info.Unit != "" {
				label += " (" + info.Unit + ")"
			}
			row := []string{label}
			for _, v := range versions {
				x, ok := r.Value(v, m)
				cell := "-"
				if ok {
					cell = FormatValue(x)
				}
				row = append(row, cell)
			}
			rows = append(rows, row)
		}
		if err := terminal.Table(w, append([]string{"metric"}, versions...), rows); err != nil {
			return err
		}
	}
	return nil
}

// Status is a one-line state of the run, e.g. "completed, no task failed".
func Status(r *experiment.Result, color terminal.Colorizer) string {
	switch {
	case r.EndTime == nil:
		return color.Paint(terminal.Yellow, "running")
	case r.Failed && r.Error != "":
		return color.Paint(terminal.Red, "failed: "+r.Error)
	case r.Failed:
		return color.Paint(terminal.Red, "failed")
	default:
		return color.Paint(terminal.Green, "completed, no task failed")
	}
}

func sloVerdict(r *experiment.Result, color terminal.Colorizer) string {
	var ok, notOK []string
	for i, v := range r.VersionNames() {
		if r.SLOs.SatisfiesAll(i) {
			ok = append(ok, v)
		} else {
			notOK = append(notOK, v)
		}
	}
	switch {
	case len(notOK) == 0:
		return color.Paint(terminal.Green, "satisfied by every version")
	case len(ok) == 0:
		return color.Paint(terminal.Red, "not satisfied by any version")
	default:
		return color.Paint(terminal.Yellow, fmt.Sprintf("satisfied by %s; not by %s", strings.Join(ok, ", "), strings.Join(notOK, ", ")))
	}
}

// FormatValue prints a metric value with at most 3 decimals.
func FormatValue(x float64) string {
	return strconv.FormatFloat(math.Round(x*1000)/1000, 'f', -1, 64)
}
