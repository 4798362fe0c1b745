package stats

import (
	"fmt"
	"math"
	"slices"
)

// BucketOf returns the index of the bucket that holds v in the geometry all
// histograms share (see Histogram), extended to negative values by symmetry:
// v ≥ 0 is in bucket i ≥ 0 as Recorder places it, and v < 0 is in bucket
// -(i+1) where i is the bucket of -v. A store that keeps a histogram as
// counts by bucket index can read it back with Sparse. NaN goes to bucket 0.
func BucketOf(v float64) int32 {
	if v < 0 {
		return -int32(bucketIndex(-v)) - 1
	}
	if math.IsNaN(v) {
		return 0
	}
	return int32(bucketIndex(v))
}

// bucketBounds returns the bounds of a signed bucket: values v with
// lower < v ≤ upper for i ≥ 0 (0 ≤ v ≤ upper for bucket 0) and
// lower ≤ v < upper for i < 0.
func bucketBounds(i int32) (lower, upper float64) {
	if i >= 0 {
		return bucketLower(int(i)), bucketUpper(int(i))
	}
	j := int(-i - 1)
	return -bucketUpper(j), -bucketLower(j)
}

// Sparse is a histogram kept as counts by bucket index (see BucketOf), with
// the extremes, as a store keeps it; unlike Histogram its values may be
// negative.
type Sparse struct {
	// Counts maps bucket indexes to counts.
	Counts map[int32]int64
	// Min is the smallest value.
	Min float64
	// Max is the largest value.
	Max float64
}

// Percentile returns the p-th percentile (0 < p ≤ 100) the way
// Histogram.Percentile does: by linear interpolation inside the bucket that
// holds it, clamped to [Min, Max]; so it is within 1% of a recorded value.
// It returns 0 for an empty histogram.
func (s Sparse) Percentile(p float64) (float64, error) {
	if p <= 0 || p > 100 || math.IsNaN(p) {
		return 0, fmt.Errorf("percentile %g is out of range: allowed is 0 < p <= 100", p)
	}
	var total int64
	for _, c := range s.Counts {
		total += c
	}
	if total == 0 {
		return 0, nil
	}
	idx := make([]int32, 0, len(s.Counts))
	for i, c := range s.Counts {
		if c > 0 {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	rank := p / 100 * float64(total)
	var cum float64
	for _, i := range idx {
		c := float64(s.Counts[i])
		if cum+c >= rank {
			lo, hi := bucketBounds(i)
			lo, hi = math.Max(lo, s.Min), math.Min(hi, s.Max)
			v := lo + (hi-lo)*(rank-cum)/c
			return math.Min(math.Max(v, s.Min), s.Max), nil
		}
		cum += c
	}
	return s.Max, nil
}
