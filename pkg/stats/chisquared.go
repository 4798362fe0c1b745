package stats

import (
	"fmt"

	"gonum.org/v1/gonum/stat/distuv"
)

// ChiSquared is Pearson's chi-squared goodness-of-fit test of observed
// counts against expected proportions.
type ChiSquared struct {
	// Statistic is the chi-squared statistic.
	Statistic float64 `json:"statistic"`
	// DF is the degrees of freedom: the number of categories minus 1.
	DF int `json:"df"`
	// PValue is the probability of a statistic at least this large if the
	// counts follow the proportions.
	PValue float64 `json:"pValue"`
}

// ChiSquaredTest tests observed counts against proportions given by
// weights, one per category. It needs at least two categories, each with a
// positive weight, and a positive total count. The usual validity rule is
// that every expected count be at least 5; callers check it where it
// matters (see ExpectedCounts).
func ChiSquaredTest(observed []int64, weights []float64) (ChiSquared, error) {
	expected, err := ExpectedCounts(observed, weights)
	if err != nil {
		return ChiSquared{}, err
	}
	var stat float64
	for i, o := range observed {
		d := float64(o) - expected[i]
		stat += d * d / expected[i]
	}
	df := len(observed) - 1
	return ChiSquared{
		Statistic: stat,
		DF:        df,
		PValue:    distuv.ChiSquared{K: float64(df)}.Survival(stat),
	}, nil
}

// ExpectedCounts splits the total of observed in proportion to weights.
func ExpectedCounts(observed []int64, weights []float64) ([]float64, error) {
	if len(observed) != len(weights) {
		return nil, fmt.Errorf("%d counts but %d weights", len(observed), len(weights))
	}
	if len(observed) < 2 {
		return nil, fmt.Errorf("%d categories: the test needs at least two", len(observed))
	}
	var total int64
	var wsum float64
	for i, o := range observed {
		if o < 0 {
			return nil, fmt.Errorf("count %d of category %d is negative", o, i)
		}
		if !(weights[i] > 0) {
			return nil, fmt.Errorf("weight %g of category %d is not positive", weights[i], i)
		}
		total += o
		wsum += weights[i]
	}
	if total == 0 {
		return nil, fmt.Errorf("no observations")
	}
	expected := make([]float64, len(observed))
	for i := range observed {
		expected[i] = float64(total) * weights[i] / wsum
	}
	return expected, nil
}
