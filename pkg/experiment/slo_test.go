package experiment_test

import (
	"testing"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// TestSLOVerdictsOfAShortMatrix: a verdict the matrix lacks (a short row, a
// missing version) is not a pass, wherever it is read.
func TestSLOVerdictsOfAShortMatrix(t *testing.T) {
	slos := &experiment.SLOResult{
		SLOs:      []experiment.SLO{{Metric: "a"}, {Metric: "b"}},
		Satisfied: [][]bool{{true, true}, {true}},
	}
	r := &experiment.Result{Versions: []experiment.VersionResult{{Name: "v1"}, {Name: "v2"}, {Name: "v3"}}, SLOs: slos}
	cells := [][]bool{{true, true}, {true, false}, {false, false}}
	for v, row := range cells {
		for j, want := range row {
			if got := slos.Satisfies(v, j); got != want {
				t.Errorf("Satisfies(%d, %d) = %t, want %t", v, j, got, want)
			}
		}
		if got, want := slos.SatisfiesAll(v), v == 0; got != want {
			t.Errorf("SatisfiesAll(%d) = %t, want %t", v, got, want)
		}
	}
	for _, c := range [][2]int{{-1, 0}, {0, -1}, {0, 2}, {9, 0}} {
		if slos.Satisfies(c[0], c[1]) {
			t.Errorf("Satisfies(%d, %d) outside the matrix", c[0], c[1])
		}
	}
	if r.SLOsSatisfied() {
		t.Error("SLOsSatisfied with v2 and v3 short")
	}
	r.Versions, slos.Satisfied[1] = r.Versions[:2], []bool{true, true}
	if !r.SLOsSatisfied() {
		t.Error("SLOsSatisfied, every verdict a pass")
	}
	var none *experiment.SLOResult
	if none.Satisfies(0, 0) || none.SatisfiesAll(0) || (&experiment.Result{}).SLOsSatisfied() {
		t.Error("no assessment is no pass")
	}
}
