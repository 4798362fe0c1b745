package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ErrTooFewValues is returned by tests that need at least two values in
// each sample.
var ErrTooFewValues = errors.New("too few values: each sample needs at least two")

// Welch is the comparison of the mean of a sample with the mean of a
// baseline sample by Welch's unequal-variances t-test.
type Welch struct {
	// Difference is the mean of the sample minus the mean of the baseline.
	Difference float64 `json:"difference"`
	// Lower is the lower bound of the confidence interval of Difference.
	Lower float64 `json:"lower"`
	// Upper is the upper bound of the confidence interval of Difference.
	Upper float64 `json:"upper"`
	// PValue is the two-sided p-value of the hypothesis that the means are
	// equal.
	PValue float64 `json:"pValue"`
	// T is the t statistic.
	T float64 `json:"t"`
	// DF is the Welch–Satterthwaite degrees of freedom.
	DF float64 `json:"df"`
}

// WelchTest compares the mean of sample with that of baseline, with a
// confidence interval at the given level (e.g. 0.95). Both samples need at
// least two values. When both variances are 0 the difference is exact: the
// interval is [Difference, Difference] and the p-value is 1 if the means are
// equal, else 0.
func WelchTest(baseline, sample Moments, confidence float64) (Welch, error) {
	if !(confidence > 0 && confidence < 1) {
		return Welch{}, fmt.Errorf("confidence %g is out of range: allowed is 0 < confidence < 1", confidence)
	}
	if baseline.Count < 2 || sample.Count < 2 {
		return Welch{}, ErrTooFewValues
	}
	diff := sample.Mean() - baseline.Mean()
	q0 := baseline.Variance() / float64(baseline.Count)
	q1 := sample.Variance() / float64(sample.Count)
	se2 := q0 + q1
	if se2 == 0 {
		w := Welch{Difference: diff, Lower: diff, Upper: diff, PValue: 1}
		if diff != 0 {
			w.PValue, w.T = 0, math.Copysign(math.MaxFloat64, diff)
		}
		return w, nil
	}
	se := math.Sqrt(se2)
	df := se2 * se2 / (q0*q0/float64(baseline.Count-1) + q1*q1/float64(sample.Count-1))
	t := diff / se
	dist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	half := dist.Quantile(1-(1-confidence)/2) * se
	return Welch{
		Difference: diff,
		Lower:      diff - half,
		Upper:      diff + half,
		PValue:     math.Min(1, 2*dist.Survival(math.Abs(t))),
		T:          t,
		DF:         df,
	}, nil
}
