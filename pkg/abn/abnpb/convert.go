package abnpb

import (
	"maps"
	"slices"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// FromResults converts results to their message.
func FromResults(r abn.Results) *GetResultsResponse {
	m := &GetResultsResponse{Application: r.Application, Baseline: r.Baseline}
	for _, v := range r.Versions {
		vr := &VersionResults{
			Name: v.Name, Index: int32(v.Index), Weight: v.Weight, Ready: v.Ready,
			Users: v.Users, Transactions: v.Transactions,
		}
		for _, md := range v.Metrics {
			mr := &MetricResults{
				Name: md.Name, Count: md.Values.Count, Sum: md.Values.Sum, SumSquares: md.Values.SumSquares,
				Min: md.Min, Max: md.Max, Users: md.Users, UserSumSquares: md.UserSumSquares,
			}
			for _, i := range slices.Sorted(maps.Keys(md.Buckets)) {
				mr.Buckets = append(mr.Buckets, &Bucket{Index: i, Count: md.Buckets[i]})
			}
			vr.Metrics = append(vr.Metrics, mr)
		}
		m.Versions = append(m.Versions, vr)
	}
	return m
}

// ToResults converts the message back to results.
func ToResults(m *GetResultsResponse) abn.Results {
	r := abn.Results{Application: m.GetApplication(), Baseline: m.GetBaseline()}
	for _, vr := range m.GetVersions() {
		v := abn.VersionResults{
			VersionData: abn.VersionData{Name: vr.GetName(), Users: vr.GetUsers(), Transactions: vr.GetTransactions()},
			Index:       int(vr.GetIndex()), Weight: vr.GetWeight(), Ready: vr.GetReady(),
		}
		for _, mr := range vr.GetMetrics() {
			md := abn.MetricData{
				Name:   mr.GetName(),
				Values: stats.Moments{Count: mr.GetCount(), Sum: mr.GetSum(), SumSquares: mr.GetSumSquares()},
				Min:    mr.GetMin(), Max: mr.GetMax(), Users: mr.GetUsers(), UserSumSquares: mr.GetUserSumSquares(),
				Buckets: map[int32]int64{},
			}
			for _, b := range mr.GetBuckets() {
				md.Buckets[b.GetIndex()] += b.GetCount()
			}
			v.Metrics = append(v.Metrics, md)
		}
		r.Versions = append(r.Versions, v)
	}
	return r
}
