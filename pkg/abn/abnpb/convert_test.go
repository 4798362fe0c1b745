package abnpb_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/stats"
)

func TestResultsRoundTrip(t *testing.T) {
	want := abn.Results{Application: "shop", Baseline: "v1", Versions: []abn.VersionResults{
		{
			VersionData: abn.VersionData{Name: "v1", Users: 3, Transactions: 2, Metrics: []abn.MetricData{{
				Name: "sales", Values: stats.Moments{Count: 2, Sum: 30, SumSquares: 500}, Min: 10, Max: 20,
				Users: 1, UserSumSquares: 900, Buckets: map[int32]int64{-3: 1, 700: 1},
			}}},
			Index: 0, Weight: 50, Ready: true,
		},
		{VersionData: abn.VersionData{Name: "old", Users: 1}, Index: -1},
	}}
	got := abnpb.ToResults(abnpb.FromResults(want))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Buckets are sent in order of index.
	if b := abnpb.FromResults(want).GetVersions()[0].GetMetrics()[0].GetBuckets(); b[0].GetIndex() != -3 || b[1].GetIndex() != 700 {
		t.Errorf("buckets %v", b)
	}
}
