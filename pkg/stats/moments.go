package stats

import "math"

// Moments are the sufficient statistics of a sample for its mean and
// variance: the count, the sum and the sum of squares of its values. They
// add up, so a store can keep them as running totals.
type Moments struct {
	// Count is the number of values.
	Count int64 `json:"count"`
	// Sum is the sum of the values.
	Sum float64 `json:"sum"`
	// SumSquares is the sum of the squares of the values.
	SumSquares float64 `json:"sumSquares"`
}

// Mean is the average value, 0 for an empty sample.
func (m Moments) Mean() float64 {
	if m.Count == 0 {
		return 0
	}
	return m.Sum / float64(m.Count)
}

// Variance is the sample variance (with Bessel's correction, n-1), 0 for
// fewer than two values. Rounding can make Sum² / Count exceed SumSquares
// slightly for constant samples; the variance is then 0, never negative.
func (m Moments) Variance() float64 {
	if m.Count < 2 {
		return 0
	}
	n := float64(m.Count)
	v := (m.SumSquares - m.Sum*m.Sum/n) / (n - 1)
	if v < 0 {
		return 0
	}
	return v
}

// Stddev is the sample standard deviation, the square root of Variance.
func (m Moments) Stddev() float64 { return math.Sqrt(m.Variance()) }
