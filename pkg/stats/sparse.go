package stats

import (
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
	idx := make([]int32, 0, len(s.Counts))
	var total int64
	for i, c := range s.Counts {
		if c > 0 {
			idx = append(idx, i)
			total += c
		}
	}
	slices.Sort(idx)
	buckets := make([]Bucket, len(idx))
	for j, i := range idx {
		lo, hi := bucketBounds(i)
		buckets[j] = Bucket{Lower: lo, Upper: hi, Count: s.Counts[i]}
	}
	return percentile(p, total, s.Min, s.Max, buckets)
}
