// Package stats holds the statistics shared by experiments and A/B/n metrics:
// mergeable histograms with percentiles.
package stats

import (
	"fmt"
	"math"
	"sort"
)

// Bucket geometry, fixed so that any two histograms share boundaries and merge
// exactly: bucket 0 holds [0, base]; bucket i > 0 holds (base·r^(i-1), base·r^i].
// With r = 1.01 a percentile read from a histogram is within 1% of the value
// recorded; with base = 0.001 (1 µs when values are milliseconds) and 4096
// buckets, values up to ~7·10^14 base units stay distinct.
const (
	bucketBase  = 0.001
	bucketRatio = 1.01
	numBuckets  = 4096
)

var (
	logRatio = math.Log(bucketRatio)
	// uppers are the buckets' upper bounds, computed once: Record is on the
	// hot path of load tests.
	uppers = func() []float64 {
		u := make([]float64, numBuckets)
		for i := range u {
			u[i] = bucketBase * math.Pow(bucketRatio, float64(i))
		}
		return u
	}()
)

func bucketIndex(v float64) int {
	if v <= bucketBase {
		return 0
	}
	i := int(math.Ceil(math.Log(v/bucketBase) / logRatio))
	if i >= numBuckets {
		return numBuckets - 1
	}
	// Guard against rounding putting v on the wrong side of a bound.
	if i > 0 && v <= uppers[i-1] {
		i--
	} else if v > uppers[i] && i < numBuckets-1 {
		i++
	}
	return i
}

func bucketUpper(i int) float64 { return uppers[i] }

func bucketLower(i int) float64 {
	if i == 0 {
		return 0
	}
	return bucketUpper(i - 1)
}

// Recorder records values into a histogram on a hot path: it allocates
// nothing per value. It is not safe for concurrent use; give each goroutine
// its own and merge their Histograms.
type Recorder struct {
	counts           [numBuckets]int64
	count            int64
	sum, sumSq       float64
	minimum, maximum float64
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Record adds a value; negative values count as 0.
func (r *Recorder) Record(v float64) {
	if v < 0 || math.IsNaN(v) {
		v = 0
	}
	if r.count == 0 || v < r.minimum {
		r.minimum = v
	}
	if r.count == 0 || v > r.maximum {
		r.maximum = v
	}
	r.count++
	r.sum += v
	r.sumSq += v * v
	r.counts[bucketIndex(v)]++
}

// Histogram returns what was recorded as a (sparse) Histogram.
func (r *Recorder) Histogram() *Histogram {
	h := &Histogram{Count: r.count, Sum: r.sum, SumSquares: r.sumSq, Min: r.minimum, Max: r.maximum}
	for i, c := range r.counts {
		if c > 0 {
			h.Buckets = append(h.Buckets, Bucket{Lower: bucketLower(i), Upper: bucketUpper(i), Count: c})
		}
	}
	return h
}

// Histogram is a serialisable, mergeable histogram of non-negative values.
type Histogram struct {
	// Count is the number of values.
	Count int64 `json:"count"`
	// Sum is the sum of the values.
	Sum float64 `json:"sum"`
	// SumSquares is the sum of the squares of the values.
	SumSquares float64 `json:"sumSquares"`
	// Min is the smallest value.
	Min float64 `json:"min"`
	// Max is the largest value.
	Max float64 `json:"max"`
	// Buckets are the non-empty buckets in increasing order.
	Buckets []Bucket `json:"buckets,omitempty"`
}

// Bucket counts the values in (Lower, Upper] ([0, Upper] for the first).
type Bucket struct {
	// Lower is the exclusive lower bound.
	Lower float64 `json:"lower"`
	// Upper is the inclusive upper bound.
	Upper float64 `json:"upper"`
	// Count is the number of values in the bucket.
	Count int64 `json:"count"`
}

// Mean is the average value, 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / float64(h.Count)
}

// Stddev is the population standard deviation, 0 when empty.
func (h *Histogram) Stddev() float64 {
	if h.Count == 0 {
		return 0
	}
	m := h.Mean()
	v := h.SumSquares/float64(h.Count) - m*m
	if v <= 0 {
		return 0
	}
	return math.Sqrt(v)
}

// Percentile returns the p-th percentile (0 < p ≤ 100) by linear
// interpolation inside the bucket that holds it, clamped to [Min, Max].
func (h *Histogram) Percentile(p float64) (float64, error) {
	return percentile(p, h.Count, h.Min, h.Max, h.Buckets)
}

// percentile interpolates the p-th percentile of total values in buckets
// (in order of value), clamped to [lowest, highest]; 0 when total is 0.
func percentile(p float64, total int64, lowest, highest float64, buckets []Bucket) (float64, error) {
	if p <= 0 || p > 100 || math.IsNaN(p) {
		return 0, fmt.Errorf("percentile %g is out of range: allowed is 0 < p <= 100", p)
	}
	if total == 0 {
		return 0, nil
	}
	rank := p / 100 * float64(total)
	var cum float64
	for _, b := range buckets {
		next := cum + float64(b.Count)
		if next >= rank {
			lo, hi := math.Max(b.Lower, lowest), math.Min(b.Upper, highest)
			v := lo + (hi-lo)*(rank-cum)/float64(b.Count)
			return math.Min(math.Max(v, lowest), highest), nil
		}
		cum = next
	}
	return highest, nil
}

// Merge adds the values of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.Count == 0 {
		return
	}
	if h.Count == 0 || o.Min < h.Min {
		h.Min = o.Min
	}
	if h.Count == 0 || o.Max > h.Max {
		h.Max = o.Max
	}
	h.Count += o.Count
	h.Sum += o.Sum
	h.SumSquares += o.SumSquares
	byUpper := map[float64]int{}
	for i, b := range h.Buckets {
		byUpper[b.Upper] = i
	}
	for _, b := range o.Buckets {
		if i, ok := byUpper[b.Upper]; ok {
			h.Buckets[i].Count += b.Count
			continue
		}
		h.Buckets = append(h.Buckets, b)
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].Upper < h.Buckets[j].Upper })
}
