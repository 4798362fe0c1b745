package abn_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// metric builds the data of a metric from each user's values.
func metric(name string, perUser ...[]float64) abn.MetricData {
	m := abn.MetricData{Name: name, Buckets: map[int32]int64{}}
	for _, values := range perUser {
		var total float64
		for _, v := range values {
			if m.Values.Count == 0 || v < m.Min {
				m.Min = v
			}
			if m.Values.Count == 0 || v > m.Max {
				m.Max = v
			}
			m.Values.Count++
			m.Values.Sum += v
			m.Values.SumSquares += v * v
			m.Buckets[stats.BucketOf(v)]++
			total += v
		}
		if len(values) > 0 {
			m.Users++
			m.UserSumSquares += total * total
		}
	}
	return m
}

func sampleResults() abn.Results {
	a := abn.App{Name: "shop", Versions: []abn.Version{
		{Name: "v1", Weight: 50, Ready: true},
		{Name: "v2", Weight: 50, Ready: true},
		{Name: "v3", Weight: 0, Ready: false},
	}}
	a.Normalize()
	data := &abn.Data{Versions: []abn.VersionData{
		{Name: "old", Users: 1, Transactions: 1, Metrics: []abn.MetricData{metric("sales", []float64{1})}},
		// Users a, b, c, d: totals 30, 5, 0, 0.
		{Name: "v1", Users: 4, Transactions: 4, Metrics: []abn.MetricData{
			metric("clicks", []float64{1}),
			metric("sales", []float64{10, 20}, []float64{5}),
		}},
		// Users e, f, g: totals 40, 10, 0.
		{Name: "v2", Users: 3, Transactions: 3, Metrics: []abn.MetricData{metric("sales", []float64{40}, []float64{4, 6})}},
	}}
	return abn.Merge("shop", &a, data)
}

func TestMerge(t *testing.T) {
	r := sampleResults()
	var got []string
	for _, v := range r.Versions {
		got = append(got, v.Name)
	}
	if diff := cmp.Diff([]string{"v1", "v2", "v3", "old"}, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if r.Baseline != "v1" || r.Versions[3].Index != -1 || r.Versions[2].Users != 0 || r.Versions[1].Weight != 50 {
		t.Errorf("merged: %+v", r)
	}
	undeclared := abn.Merge("gone", nil, &abn.Data{Versions: []abn.VersionData{{Name: "b"}, {Name: "a"}}})
	if undeclared.Baseline != "a" || undeclared.Versions[0].Name != "a" || undeclared.Versions[0].Index != -1 {
		t.Errorf("undeclared: %+v", undeclared)
	}
}

func TestAnalyze(t *testing.T) {
	rep := abn.Analyze(sampleResults())

	v1, v2 := rep.Versions[0], rep.Versions[1]
	if v1.Metrics[0].Name != "clicks" || v1.Metrics[1].Name != "sales" || len(v2.Metrics) != 2 {
		t.Fatalf("every version lists every metric by name: %+v", rep.Versions)
	}
	sales1, sales2 := v1.Metrics[1], v2.Metrics[1]
	approx := cmpopts.EquateApprox(0, 1e-9)
	// Values 10, 20, 5.
	want1 := abn.MetricReport{
		Name: "sales", Count: 3, Mean: 35.0 / 3, Stddev: math.Sqrt(175.0 / 3), Min: 5, Max: 20,
		PerUser: abn.PerUser{Users: 4, WithValue: 2, Mean: 8.75, Stddev: math.Sqrt(206.25)},
	}
	if diff := cmp.Diff(want1, sales1, approx, cmpopts.IgnoreFields(abn.MetricReport{}, "P50", "P95")); diff != "" {
		t.Errorf("v1 sales (-want +got):\n%s", diff)
	}
	// Percentiles come from a histogram: within 1%.
	if math.Abs(sales1.P50-10) > 0.1 || math.Abs(sales1.P95-20) > 0.2 {
		t.Errorf("v1 sales p50 %g, p95 %g; want 10 and 20 within 1%%", sales1.P50, sales1.P95)
	}
	// Per user 40, 10, 0 against 30, 5, 0, 0.
	wantW, _ := stats.WelchTest(
		stats.Moments{Count: 4, Sum: 35, SumSquares: 925},
		stats.Moments{Count: 3, Sum: 50, SumSquares: 1700}, 0.95)
	if diff := cmp.Diff(&wantW, sales2.VsBaseline, approx); diff != "" {
		t.Errorf("v2 vs v1 (-want +got):\n%s", diff)
	}
	if math.Abs(sales2.VsBaseline.Difference-(50.0/3-8.75)) > 1e-12 {
		t.Errorf("difference %g, want %g", sales2.VsBaseline.Difference, 50.0/3-8.75)
	}
	// v2 has no clicks: its users count as 0 each.
	if c := v2.Metrics[0]; c.Count != 0 || c.PerUser.Users != 3 || c.PerUser.Mean != 0 || c.VsBaseline == nil {
		t.Errorf("v2 clicks: %+v", c)
	}
	if diff := cmp.Diff([]string{
		"clicks of v3 is not compared with v1: too few values: each sample needs at least two",
		"sales of v3 is not compared with v1: too few values: each sample needs at least two",
		"clicks of old is not compared with v1: too few values: each sample needs at least two",
		"sales of old is not compared with v1: too few values: each sample needs at least two",
		"no sample ratio check yet: it needs at least 5 expected users per version",
	}, rep.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}

	// The whole report, as the service's HTTP endpoint and -o json show it.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/report.golden.json", b.Bytes())
}

func TestSampleRatio(t *testing.T) {
	tests := []struct {
		users    [2]int64
		weights  [2]uint32
		mismatch bool
		p        float64
	}{
		// χ² = 2·200²/5000 = 16; P(χ²₁ > 16) = erfc(√8).
		{[2]int64{5200, 4800}, [2]uint32{50, 50}, true, math.Erfc(math.Sqrt(8))},
		{[2]int64{5050, 4950}, [2]uint32{50, 50}, false, math.Erfc(math.Sqrt(0.5))},
		{[2]int64{9000, 1000}, [2]uint32{90, 10}, false, 1},
	}
	for _, tc := range tests {
		r := abn.Results{Application: "a", Baseline: "v1", Versions: []abn.VersionResults{
			{VersionData: abn.VersionData{Name: "v1", Users: tc.users[0]}, Weight: tc.weights[0]},
			{VersionData: abn.VersionData{Name: "v2", Users: tc.users[1]}, Index: 1, Weight: tc.weights[1]},
		}}
		sr := abn.Analyze(r).SampleRatio
		if sr == nil || sr.Mismatch != tc.mismatch || math.Abs(sr.PValue-tc.p) > 1e-12 {
			t.Errorf("users %v, weights %v: %+v, want mismatch %v, p %g", tc.users, tc.weights, sr, tc.mismatch, tc.p)
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
