package abn

import (
	"slices"
	"strings"

	"github.com/iter8-tools/iter8/pkg/stats"
)

// Data is what a store holds for one application.
type Data struct {
	// Versions that have data, sorted by name.
	Versions []VersionData `json:"versions"`
}

// VersionData is what a store holds for one version.
type VersionData struct {
	// Name of the version.
	Name string `json:"name"`
	// Users is the number of distinct users assigned to the version, by
	// Lookup or by WriteMetric.
	Users int64 `json:"users"`
	// Transactions is the number of metric values written for the version.
	Transactions int64 `json:"transactions"`
	// Metrics, sorted by name.
	Metrics []MetricData `json:"metrics,omitempty"`
}

// MetricData are the sufficient statistics of one metric of one version:
// the moments and histogram of its values, and the sum of squares of each
// user's total, from which the per-user mean and variance follow.
type MetricData struct {
	// Name of the metric.
	Name string `json:"name"`
	// Values are the moments of the values written.
	Values stats.Moments `json:"values"`
	// Min is the smallest value.
	Min float64 `json:"min"`
	// Max is the largest value.
	Max float64 `json:"max"`
	// Users is the number of users with at least one value.
	Users int64 `json:"users"`
	// UserSumSquares is Σ over users of (the user's total)².
	UserSumSquares float64 `json:"userSumSquares"`
	// Buckets counts the values by histogram bucket (stats.BucketOf).
	Buckets map[int32]int64 `json:"buckets,omitempty"`
}

// Results are the data of an application together with its current
// versions, as the service returns them.
type Results struct {
	// Application is the application's name.
	Application string `json:"application"`
	// Baseline is the version others are compared with.
	Baseline string `json:"baseline"`
	// Versions: the declared ones in index order, then those with data
	// that are no longer declared, by name.
	Versions []VersionResults `json:"versions"`
}

// VersionResults are the data of a version and its current state.
type VersionResults struct {
	VersionData
	// Index of the version; -1 when it is no longer declared.
	Index int `json:"index"`
	// Weight is the version's current share of new users.
	Weight uint32 `json:"weight"`
	// Ready says whether the version may be assigned now.
	Ready bool `json:"ready"`
}

// Merge joins an application's declared versions (app may be nil when the
// application is no longer declared) with its stored data.
func Merge(name string, app *App, data *Data) Results {
	r := Results{Application: name}
	stored := map[string]VersionData{}
	for _, v := range data.Versions {
		stored[v.Name] = v
	}
	if app != nil {
		r.Baseline = app.Baseline
		for i, v := range app.Versions {
			vd, ok := stored[v.Name]
			if !ok {
				vd = VersionData{Name: v.Name}
			}
			delete(stored, v.Name)
			r.Versions = append(r.Versions, VersionResults{VersionData: vd, Index: i, Weight: v.Weight, Ready: v.Ready})
		}
	}
	var rest []VersionResults
	for _, vd := range stored {
		rest = append(rest, VersionResults{VersionData: vd, Index: -1})
	}
	slices.SortFunc(rest, func(a, b VersionResults) int { return strings.Compare(a.Name, b.Name) })
	r.Versions = append(r.Versions, rest...)
	if r.Baseline == "" && len(r.Versions) > 0 {
		r.Baseline = r.Versions[0].Name
	}
	return r
}
