package abn

import (
	"fmt"
	"math"
	"slices"

	"github.com/iter8-tools/iter8/pkg/stats"
)

// Statistical settings of the report.
const (
	// Confidence is the level of the confidence intervals.
	Confidence = 0.95
	// SampleRatioThreshold is the p-value below which the split of users
	// between versions is flagged as a sample ratio mismatch.
	SampleRatioThreshold = 0.001
	// minExpectedUsers is the smallest expected count per version for
	// which the chi-squared approximation is trusted.
	minExpectedUsers = 5
)

// Report is the analysis of an application's results: what kubectl
// iter8-abn metrics prints and the service's HTTP endpoint serves.
type Report struct {
	// Application is the application's name.
	Application string `json:"application"`
	// Baseline is the version others are compared with.
	Baseline string `json:"baseline"`
	// SampleRatio checks the split of users between the versions with a
	// positive weight against their weights; absent when it cannot be
	// computed (see Notes).
	SampleRatio *SampleRatio `json:"sampleRatio,omitempty"`
	// Versions in the order of Results.
	Versions []VersionReport `json:"versions"`
	// Notes say why a statistic is missing.
	Notes []string `json:"notes,omitempty"`
}

// SampleRatio is the sample-ratio-mismatch check: a chi-squared test of the
// users per version against the versions' weights. It assumes the weights
// and readiness did not change during the test.
type SampleRatio struct {
	stats.ChiSquared
	// Mismatch is true when PValue < SampleRatioThreshold: users are not
	// split as the weights say, so comparisons between versions are
	// suspect (look for lost lookups, redirects or crashes in one version).
	Mismatch bool `json:"mismatch"`
	// Versions are the versions tested, in order.
	Versions []string `json:"versions"`
	// Expected are the expected users of those versions.
	Expected []float64 `json:"expected"`
}

// VersionReport is the analysis of one version.
type VersionReport struct {
	// Name of the version.
	Name string `json:"name"`
	// Index of the version; -1 when it is no longer declared.
	Index int `json:"index"`
	// Weight is the version's current share of new users.
	Weight uint32 `json:"weight"`
	// Ready says whether the version may be assigned now.
	Ready bool `json:"ready"`
	// Users is the number of distinct users assigned to the version.
	Users int64 `json:"users"`
	// Transactions is the number of metric values written.
	Transactions int64 `json:"transactions"`
	// Metrics, by name: every metric any version has.
	Metrics []MetricReport `json:"metrics"`
}

// MetricReport summarises one metric of one version.
type MetricReport struct {
	// Name of the metric.
	Name string `json:"name"`
	// Count is the number of values.
	Count int64 `json:"count"`
	// Mean of the values.
	Mean float64 `json:"mean"`
	// Stddev is the sample standard deviation of the values.
	Stddev float64 `json:"stddev"`
	// Min is the smallest value.
	Min float64 `json:"min"`
	// Max is the largest value.
	Max float64 `json:"max"`
	// P50 is the median value (from a histogram: within 1%).
	P50 float64 `json:"p50"`
	// P95 is the 95th percentile value (from a histogram: within 1%).
	P95 float64 `json:"p95"`
	// PerUser summarises the metric per user of the version.
	PerUser PerUser `json:"perUser"`
	// VsBaseline compares PerUser.Mean with the baseline's; absent for the
	// baseline and when either version has fewer than two users.
	VsBaseline *stats.Welch `json:"vsBaseline,omitempty"`
}

// PerUser summarises a metric over the users of a version. A user's value is
// the total of the values written for them, 0 for users assigned to the
// version who have none: so the mean is, e.g., the revenue per user. Users
// are the unit of assignment, so unlike values they are independent and
// the comparison with the baseline is sound.
type PerUser struct {
	// Users is the number of users assigned to the version.
	Users int64 `json:"users"`
	// WithValue is the number of those users with at least one value.
	WithValue int64 `json:"withValue"`
	// Mean of the users' totals.
	Mean float64 `json:"mean"`
	// Stddev is the sample standard deviation of the users' totals.
	Stddev float64 `json:"stddev"`
}

// Analyze computes the report of an application's results.
func Analyze(r Results) Report {
	rep := Report{Application: r.Application, Baseline: r.Baseline}
	var names []string
	for _, v := range r.Versions {
		for _, m := range v.Metrics {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
	}
	slices.Sort(names)

	baseline := slices.IndexFunc(r.Versions, func(v VersionResults) bool { return v.Name == r.Baseline })
	perUser := func(v VersionResults, metric string) stats.Moments {
		users := v.Users
		m := findMetric(v.Metrics, metric)
		// Writes mark their user as assigned, so Users covers WithValue;
		// the guard keeps the moments consistent if a store lost users.
		users = max(users, m.Users)
		return stats.Moments{Count: users, Sum: m.Values.Sum, SumSquares: m.UserSumSquares}
	}
	for _, v := range r.Versions {
		vr := VersionReport{Name: v.Name, Index: v.Index, Weight: v.Weight, Ready: v.Ready, Users: v.Users, Transactions: v.Transactions}
		for _, name := range names {
			m := findMetric(v.Metrics, name)
			pu := perUser(v, name)
			mr := MetricReport{
				Name: name, Count: m.Values.Count, Mean: m.Values.Mean(), Stddev: m.Values.Stddev(), Min: m.Min, Max: m.Max,
				PerUser: PerUser{Users: pu.Count, WithValue: m.Users, Mean: pu.Mean(), Stddev: pu.Stddev()},
			}
			h := stats.Sparse{Counts: m.Buckets, Min: m.Min, Max: m.Max}
			mr.P50, _ = h.Percentile(50)
			mr.P95, _ = h.Percentile(95)
			if baseline >= 0 && v.Name != r.Baseline {
				w, err := stats.WelchTest(perUser(r.Versions[baseline], name), pu, Confidence)
				if err == nil {
					mr.VsBaseline = &w
				} else {
					rep.Notes = append(rep.Notes, fmt.Sprintf("%s of %s is not compared with %s: %v", name, v.Name, r.Baseline, err))
				}
			}
			vr.Metrics = append(vr.Metrics, mr)
		}
		rep.Versions = append(rep.Versions, vr)
	}
	if baseline < 0 && len(names) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the baseline %q has no results: no comparisons", r.Baseline))
	}
	rep.SampleRatio, rep.Notes = sampleRatio(r, rep.Notes)
	return rep
}

func sampleRatio(r Results, notes []string) (*SampleRatio, []string) {
	var observed []int64
	var weights []float64
	var versions []string
	for _, v := range r.Versions {
		if v.Weight > 0 {
			observed = append(observed, v.Users)
			weights = append(weights, float64(v.Weight))
			versions = append(versions, v.Name)
		}
	}
	if len(observed) < 2 {
		return nil, append(notes, "the sample ratio check needs two or more versions with a positive weight")
	}
	expected, err := stats.ExpectedCounts(observed, weights)
	if err != nil {
		return nil, append(notes, fmt.Sprintf("no sample ratio check: %v", err))
	}
	if slices.Min(expected) < minExpectedUsers {
		return nil, append(notes, fmt.Sprintf("no sample ratio check yet: it needs at least %d expected users per version", minExpectedUsers))
	}
	chi, err := stats.ChiSquaredTest(observed, weights)
	if err != nil {
		return nil, append(notes, fmt.Sprintf("no sample ratio check: %v", err))
	}
	for i := range expected {
		expected[i] = math.Round(expected[i]*100) / 100
	}
	return &SampleRatio{ChiSquared: chi, Mismatch: chi.PValue < SampleRatioThreshold, Versions: versions, Expected: expected}, notes
}

func findMetric(ms []MetricData, name string) MetricData {
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	return MetricData{Name: name}
}
