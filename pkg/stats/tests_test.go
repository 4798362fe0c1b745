package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func momentsOf(xs ...float64) Moments {
	var m Moments
	for _, x := range xs {
		m.Count++
		m.Sum += x
		m.SumSquares += x * x
	}
	return m
}

func TestMoments(t *testing.T) {
	tests := []struct {
		m              Moments
		mean, variance float64
	}{
		{momentsOf(), 0, 0},
		{momentsOf(7), 7, 0},
		{momentsOf(1, 2, 3, 4, 5, 6), 3.5, 3.5},
		{momentsOf(2, 4, 4, 4, 5, 5, 7, 9), 5, 32.0 / 7},
		// Rounding must not make a constant sample's variance negative.
		{momentsOf(0.1, 0.1, 0.1), 0.1, 0},
	}
	for _, tc := range tests {
		if got := tc.m.Mean(); math.Abs(got-tc.mean) > 1e-12 {
			t.Errorf("%+v: mean %g, want %g", tc.m, got, tc.mean)
		}
		if got := tc.m.Variance(); math.Abs(got-tc.variance) > 1e-12 || got < 0 {
			t.Errorf("%+v: variance %g, want %g", tc.m, got, tc.variance)
		}
	}
}

// The three examples of Welch's t-test in Wikipedia's article, with the t,
// degrees of freedom and p-values it prints, to within one unit of the last
// digit printed (some are truncated rather than rounded). Population instead
// of sample variances, or Student's pooled degrees of freedom, fail them.
func TestWelchAgainstPublishedExamples(t *testing.T) {
	tests := []struct {
		a1, a2   []float64
		t, df, p float64
	}{
		{
			[]float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4},
			[]float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4},
			2.46, 24.9, 0.021,
		},
		{
			[]float64{17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8},
			[]float64{21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5, 21.8},
			1.57, 9.9, 0.149,
		},
		{
			[]float64{19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0},
			[]float64{28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7, 23.2, 17.5, 20.6, 18.0, 23.9, 21.6, 24.3, 20.4, 23.9, 13.3},
			2.22, 24.5, 0.036,
		},
	}
	for i, tc := range tests {
		w, err := WelchTest(momentsOf(tc.a1...), momentsOf(tc.a2...), 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(w.T-tc.t) > 0.01 || math.Abs(w.DF-tc.df) > 0.1 || math.Abs(w.PValue-tc.p) > 0.001 {
			t.Errorf("example %d: t=%.4f df=%.3f p=%.5f, want t=%g df=%g p=%g", i+1, w.T, w.DF, w.PValue, tc.t, tc.df, tc.p)
		}
		// The interval excludes 0 exactly when p < 0.05.
		if excludes := w.Lower > 0 || w.Upper < 0; excludes != (w.PValue < 0.05) {
			t.Errorf("example %d: interval [%g, %g] and p %g disagree", i+1, w.Lower, w.Upper, w.PValue)
		}
	}
}

func TestWelchInterval(t *testing.T) {
	// Equal sizes and variances: df = 2(n-1) = 10, whose 97.5% quantile of
	// Student's t is 2.228138852 (tables).
	w, err := WelchTest(momentsOf(1, 2, 3, 4, 5, 6), momentsOf(2, 3, 4, 5, 6, 7), 0.95)
	if err != nil {
		t.Fatal(err)
	}
	se := math.Sqrt(3.5/6 + 3.5/6)
	want := Welch{Difference: 1, Lower: 1 - 2.228138852*se, Upper: 1 + 2.228138852*se, T: 1 / se, DF: 10}
	if diff := cmp.Diff(want, w, cmpopts.EquateApprox(0, 1e-8), cmpopts.IgnoreFields(Welch{}, "PValue")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// No variance: the difference is exact.
	w, _ = WelchTest(momentsOf(2, 2), momentsOf(3, 3, 3), 0.95)
	if w.Lower != 1 || w.Upper != 1 || w.PValue != 0 {
		t.Errorf("constant samples: %+v", w)
	}
	w, _ = WelchTest(momentsOf(2, 2), momentsOf(2, 2, 2), 0.95)
	if w.Difference != 0 || w.PValue != 1 {
		t.Errorf("equal constant samples: %+v", w)
	}
	if _, err := WelchTest(momentsOf(1), momentsOf(1, 2), 0.95); !errors.Is(err, ErrTooFewValues) {
		t.Errorf("one value: %v, want ErrTooFewValues", err)
	}
	if _, err := WelchTest(momentsOf(1, 2), momentsOf(1, 2), 1); err == nil {
		t.Error("confidence 1 accepted")
	}
}

func TestChiSquared(t *testing.T) {
	tests := []struct {
		observed []int64
		weights  []float64
		want     ChiSquared
	}{
		// P(χ²₁ > 4) = P(|Z| > 2) = erfc(√2).
		{[]int64{60, 40}, []float64{1, 1}, ChiSquared{Statistic: 4, DF: 1, PValue: math.Erfc(math.Sqrt2)}},
		{[]int64{50, 50}, []float64{5, 5}, ChiSquared{Statistic: 0, DF: 1, PValue: 1}},
		// With two degrees of freedom, P(χ²₂ > x) = exp(-x/2).
		{[]int64{30, 30, 40}, []float64{1, 1, 1}, ChiSquared{Statistic: 2, DF: 2, PValue: math.Exp(-1)}},
		// Weights 3:1 of 100 expect 75 and 25.
		{[]int64{70, 30}, []float64{75, 25}, ChiSquared{Statistic: 25.0/75 + 25.0/25, DF: 1, PValue: math.Erfc(math.Sqrt((25.0/75 + 25.0/25) / 2))}},
	}
	for _, tc := range tests {
		got, err := ChiSquaredTest(tc.observed, tc.weights)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
			t.Errorf("%v vs %v (-want +got):\n%s", tc.observed, tc.weights, diff)
		}
	}
	for _, tc := range []struct {
		observed []int64
		weights  []float64
		want     string
	}{
		{[]int64{1}, []float64{1}, "1 categories: the test needs at least two"},
		{[]int64{1, 2}, []float64{1}, "2 counts but 1 weights"},
		{[]int64{1, 2}, []float64{1, 0}, "weight 0 of category 1 is not positive"},
		{[]int64{0, 0}, []float64{1, 1}, "no observations"},
	} {
		if _, err := ChiSquaredTest(tc.observed, tc.weights); err == nil || err.Error() != tc.want {
			t.Errorf("%v %v: %v, want %q", tc.observed, tc.weights, err, tc.want)
		}
	}
}

func TestSparsePercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var values []float64
	s := Sparse{Counts: map[int32]int64{}}
	r := NewRecorder()
	for i := range 50000 {
		v := rng.NormFloat64()*20 + 10 // about 30% negative
		if i%7 == 0 {
			v = 0
		}
		values = append(values, v)
		s.Counts[BucketOf(v)]++
		if i == 0 || v < s.Min {
			s.Min = v
		}
		if i == 0 || v > s.Max {
			s.Max = v
		}
		r.Record(math.Abs(v))
	}
	sort.Float64s(values)
	for _, p := range []float64{1, 5, 25, 50, 75, 95, 99, 100} {
		exact := values[int(math.Ceil(p/100*float64(len(values))))-1]
		got, err := s.Percentile(p)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-exact) > 0.01*math.Abs(exact)+1e-9 {
			t.Errorf("p%g = %.5f, exact %.5f: more than 1%% off", p, got, exact)
		}
	}
	// For values ≥ 0 it agrees with Histogram, whose buckets it shares.
	abs := Sparse{Counts: map[int32]int64{}}
	h := r.Histogram()
	abs.Min, abs.Max = h.Min, h.Max
	for _, b := range h.Buckets {
		abs.Counts[BucketOf(b.Upper)] += b.Count
	}
	for _, p := range []float64{50, 95} {
		want, _ := h.Percentile(p)
		got, _ := abs.Percentile(p)
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("p%g = %g, Histogram says %g", p, got, want)
		}
	}
	if _, err := s.Percentile(0); err == nil {
		t.Error("p0 accepted")
	}
	if got, err := (Sparse{}).Percentile(50); got != 0 || err != nil {
		t.Errorf("empty: %g, %v", got, err)
	}
}

func TestBucketOfIsSymmetric(t *testing.T) {
	for _, v := range []float64{0.0005, 0.001, 0.0011, 1, 3.7, 1e6} {
		if BucketOf(-v) != -BucketOf(v)-1 {
			t.Errorf("BucketOf(-%g) = %d, BucketOf(%g) = %d", v, BucketOf(-v), v, BucketOf(v))
		}
		lo, hi := bucketBounds(BucketOf(v))
		if !(lo < v && v <= hi) && !(v <= bucketBase && lo == 0) {
			t.Errorf("%g not in its bucket (%g, %g]", v, lo, hi)
		}
		lo, hi = bucketBounds(BucketOf(-v))
		if !(lo <= -v && -v < hi) {
			t.Errorf("%g not in its bucket [%g, %g)", -v, lo, hi)
		}
	}
}
