// Package load turns the outcome of a load test (from the http or grpc task)
// into iter8's metric family: request and error counts, error rate,
// throughput, latency statistics, percentiles and histogram.
package load

import (
	"fmt"
	"strconv"
	"time"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// DefaultPercentiles are the latency percentiles always recorded.
var DefaultPercentiles = []float64{50, 90, 95, 99, 99.9}

// Summary is the outcome of a load test against one version.
type Summary struct {
	// Requests is the number of requests sent (warm-up excluded).
	Requests int64
	// Errors is the number of requests that failed.
	Errors int64
	// Elapsed is how long the load test ran.
	Elapsed time.Duration
	// Latency is the histogram of request latencies, in milliseconds.
	Latency *stats.Histogram
}

// MetricInfos describes the metrics Record records under prefix (e.g.
// "http"), with the given extra percentiles beyond DefaultPercentiles.
func MetricInfos(prefix string, percentiles []float64) []experiment.MetricInfo {
	m := func(name string, t experiment.MetricType, unit, desc string) experiment.MetricInfo {
		return experiment.MetricInfo{Name: prefix + "/" + name, Type: t, Unit: unit, Description: desc}
	}
	infos := []experiment.MetricInfo{
		m("request-count", experiment.Counter, "", "number of requests sent"),
		m("error-count", experiment.Counter, "", "number of requests that failed"),
		m("error-rate", experiment.Gauge, "", "fraction of requests that failed"),
		m("throughput", experiment.Gauge, "req/s", "requests completed per second"),
		m("latency-mean", experiment.Gauge, "ms", "mean latency"),
		m("latency-stddev", experiment.Gauge, "ms", "standard deviation of latency"),
		m("latency-min", experiment.Gauge, "ms", "smallest latency"),
		m("latency-max", experiment.Gauge, "ms", "largest latency"),
	}
	for _, p := range Percentiles(percentiles) {
		infos = append(infos, m(PercentileName(p), experiment.Gauge, "ms", fmt.Sprintf("%g-th percentile of latency", p)))
	}
	infos = append(infos, m("latency", experiment.HistogramType, "ms", "latency histogram"))
	return infos
}

// Percentiles returns DefaultPercentiles followed by the extra ones not
// already among them.
func Percentiles(extra []float64) []float64 {
	out := append([]float64(nil), DefaultPercentiles...)
	for _, p := range extra {
		dup := false
		for _, q := range out {
			dup = dup || q == p
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// PercentileName is the metric name of a percentile, e.g. latency-p99.9.
func PercentileName(p float64) string {
	return "latency-p" + strconv.FormatFloat(p, 'f', -1, 64)
}

// Record records the summary's metrics for version under prefix.
func (s Summary) Record(res *experiment.Result, prefix, version string, percentiles []float64) error {
	infos := MetricInfos(prefix, percentiles)
	h := s.Latency
	if h == nil {
		h = &stats.Histogram{}
	}
	var rate, throughput float64
	if s.Requests > 0 {
		rate = float64(s.Errors) / float64(s.Requests)
	}
	if s.Elapsed > 0 {
		throughput = float64(s.Requests) / s.Elapsed.Seconds()
	}
	values := map[string]float64{
		"request-count":  float64(s.Requests),
		"error-count":    float64(s.Errors),
		"error-rate":     rate,
		"throughput":     throughput,
		"latency-mean":   h.Mean(),
		"latency-stddev": h.Stddev(),
		"latency-min":    h.Min,
		"latency-max":    h.Max,
	}
	for _, p := range Percentiles(percentiles) {
		v, err := h.Percentile(p)
		if err != nil {
			return err
		}
		values[PercentileName(p)] = v
	}
	for _, info := range infos {
		if info.Type == experiment.HistogramType {
			if err := res.RecordHistogram(version, info, h); err != nil {
				return err
			}
			continue
		}
		if err := res.Record(version, info, values[info.Name[len(prefix)+1:]]); err != nil {
			return err
		}
	}
	return nil
}
