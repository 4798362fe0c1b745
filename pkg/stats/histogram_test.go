package stats

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPercentilesWithinOnePercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := NewRecorder()
	var values []float64
	for range 100000 {
		v := rng.ExpFloat64() * 5 // latencies in ms, mean 5
		values = append(values, v)
		r.Record(v)
	}
	sort.Float64s(values)
	h := r.Histogram()
	for _, p := range []float64{50, 90, 95, 99, 99.9} {
		exact := values[int(math.Ceil(p/100*float64(len(values))))-1]
		got, err := h.Percentile(p)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-exact)/exact > 0.01 {
			t.Errorf("p%g = %.4f, exact %.4f: more than 1%% off", p, got, exact)
		}
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	if math.Abs(h.Mean()-sum/float64(len(values))) > 1e-9 {
		t.Errorf("mean %g, want %g", h.Mean(), sum/float64(len(values)))
	}
	if h.Min != values[0] || h.Max != values[len(values)-1] {
		t.Errorf("min/max %g/%g, want %g/%g", h.Min, h.Max, values[0], values[len(values)-1])
	}
}

func TestSmallHistogram(t *testing.T) {
	r := NewRecorder()
	for _, v := range []float64{1, 2, 3, 4} {
		r.Record(v)
	}
	h := r.Histogram()
	if h.Count != 4 || h.Mean() != 2.5 || h.Min != 1 || h.Max != 4 {
		t.Errorf("count %d mean %g min %g max %g", h.Count, h.Mean(), h.Min, h.Max)
	}
	if got, want := h.Stddev(), math.Sqrt(1.25); math.Abs(got-want) > 1e-12 {
		t.Errorf("stddev %g, want %g", got, want)
	}
	if p100, _ := h.Percentile(100); p100 != 4 {
		t.Errorf("p100 = %g, want 4", p100)
	}
	if _, err := h.Percentile(0); err == nil {
		t.Error("p0 accepted")
	}
	if _, err := h.Percentile(101); err == nil {
		t.Error("p101 accepted")
	}
	empty := NewRecorder().Histogram()
	if p, _ := empty.Percentile(50); p != 0 || empty.Mean() != 0 || empty.Stddev() != 0 {
		t.Error("empty histogram not all zero")
	}
}

func TestMergeEqualsRecordingTogether(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b, all := NewRecorder(), NewRecorder(), NewRecorder()
	for i := range 5000 {
		v := rng.Float64() * 100
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v * 2)
			v *= 2
		}
		all.Record(v)
	}
	merged := a.Histogram()
	merged.Merge(b.Histogram())
	want := all.Histogram()
	// Sums may differ in the last bits by the order of additions.
	approx := cmp.Comparer(func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x)) })
	if diff := cmp.Diff(want, merged, approx); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	// Round trip through JSON, as results are stored, then merge again.
	var back Histogram
	buf, _ := json.Marshal(merged)
	if err := json.Unmarshal(buf, &back); err != nil {
		t.Fatal(err)
	}
	back.Merge(&Histogram{})
	if diff := cmp.Diff(merged, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestBucketBoundaries(t *testing.T) {
	for _, v := range []float64{0, 0.001, 0.0010001, 0.5, 1, 7.3, 1e3, 1e6} {
		i := bucketIndex(v)
		if v > bucketUpper(i) || (i > 0 && v <= bucketLower(i)) {
			t.Errorf("value %g in bucket %d (%g, %g]", v, i, bucketLower(i), bucketUpper(i))
		}
	}
	if i := bucketIndex(1e300); i != numBuckets-1 {
		t.Errorf("huge value in bucket %d, want the last", i)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := NewRecorder()
	for i := 0; b.Loop(); i++ {
		r.Record(float64(i%1000) * 0.37)
	}
}
