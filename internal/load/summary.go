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
	// Latency is the histogram of request latencies (the service time,
	// from each request's actual start), in milliseconds.
	Latency *stats.Histogram
	// Paced is set when the load had a target rate; then the fields below
	// are recorded too.
	Paced bool
	// ResponseTime is the histogram of latencies measured from each
	// request's intended start in the target rate, in milliseconds: a
	// request held back behind a slow one counts the wait, as a client of
	// the version would see it (coordinated omission).
	ResponseTime *stats.Histogram
	// Late counts the requests that started late for their slot.
	Late Lateness
	// Dropped counts the requests the target rate called for that were
	// never sent.
	Dropped int64
}

// MinLateThreshold is the least delay after its slot in the target rate for
// a request to count as late; the threshold is a tenth of the interval
// between slots when that is larger, so that ordinary timer jitter is not
// reported.
const MinLateThreshold = time.Millisecond

// LateThreshold is the delay after its slot beyond which a request is late,
// for slots interval apart.
func LateThreshold(interval time.Duration) time.Duration {
	return max(MinLateThreshold, interval/10)
}

// Lateness sums the delays of the requests that started late.
type Lateness struct {
	// Count is the number of late requests.
	Count int64
	// Sum and Max are the sum and the largest of their delays, in ms.
	Sum, Max float64
}

// Add counts a request that started late after its slot, if late is over
// threshold.
func (l *Lateness) Add(late, threshold time.Duration) {
	if late <= threshold {
		return
	}
	ms := float64(late) / float64(time.Millisecond)
	l.Count++
	l.Sum += ms
	l.Max = max(l.Max, ms)
}

// Merge adds o's requests to l.
func (l *Lateness) Merge(o Lateness) {
	l.Count += o.Count
	l.Sum += o.Sum
	l.Max = max(l.Max, o.Max)
}

// Mean is the mean delay of the late requests, 0 when none was.
func (l Lateness) Mean() float64 {
	if l.Count == 0 {
		return 0
	}
	return l.Sum / float64(l.Count)
}

// MetricInfos describes the metrics Record records under prefix (e.g.
// "http"), with the given extra percentiles beyond DefaultPercentiles;
// paced adds those of a load with a target rate.
func MetricInfos(prefix string, percentiles []float64, paced bool) []experiment.MetricInfo {
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
	if !paced {
		return infos
	}
	infos = append(infos,
		m("late-count", experiment.Counter, "", "requests that started late for their slot in the target rate (by 1 ms or a tenth of the interval between slots, whichever is more)"),
		m("late-mean", experiment.Gauge, "ms", "mean delay of the late requests"),
		m("late-max", experiment.Gauge, "ms", "largest delay of a late request"),
		m("dropped-count", experiment.Counter, "", "requests the target rate called for that were never sent"),
		m("response-time-max", experiment.Gauge, "ms", "largest latency from a request's intended start"),
	)
	for _, p := range Percentiles(percentiles) {
		infos = append(infos, m(responseTimeName(p), experiment.Gauge, "ms", fmt.Sprintf("%g-th percentile of latency from the intended start", p)))
	}
	return append(infos, m("response-time", experiment.HistogramType, "ms", "histogram of latency from each request's intended start in the target rate"))
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

// responseTimeName is the metric name of a percentile of the latency from
// the intended start, e.g. response-time-p99.9.
func responseTimeName(p float64) string {
	return "response-time-p" + strconv.FormatFloat(p, 'f', -1, 64)
}

// Record records the summary's metrics for version under prefix.
func (s Summary) Record(res *experiment.Result, prefix, version string, percentiles []float64) error {
	infos := MetricInfos(prefix, percentiles, s.Paced)
	h, rt := s.Latency, s.ResponseTime
	if h == nil {
		h = &stats.Histogram{}
	}
	if rt == nil {
		rt = &stats.Histogram{}
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
	histograms := map[string]*stats.Histogram{"latency": h}
	if s.Paced {
		values["late-count"], values["late-mean"], values["late-max"] = float64(s.Late.Count), s.Late.Mean(), s.Late.Max
		values["dropped-count"], values["response-time-max"] = float64(s.Dropped), rt.Max
		histograms["response-time"] = rt
	}
	for _, p := range Percentiles(percentiles) {
		v, err := h.Percentile(p)
		if err != nil {
			return err
		}
		values[PercentileName(p)] = v
		if s.Paced {
			if values[responseTimeName(p)], err = rt.Percentile(p); err != nil {
				return err
			}
		}
	}
	for _, info := range infos {
		if info.Type == experiment.HistogramType {
			if err := res.RecordHistogram(version, info, histograms[info.Name[len(prefix)+1:]]); err != nil {
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

// PaceNote says how the target rate was met, e.g. "target 200 qps
// (exactly 400 calls), achieved 180.3 qps; 57 of 400 requests started
// late, by 4.20 ms on average and 19.80 ms at most", when any request was
// late or dropped; else "".
func (s Summary) PaceNote(target string) string {
	if !s.Paced || (s.Late.Count == 0 && s.Dropped == 0) {
		return ""
	}
	var achieved float64
	if s.Elapsed > 0 {
		achieved = float64(s.Requests) / s.Elapsed.Seconds()
	}
	note := fmt.Sprintf("target %s, achieved %.1f qps; %d of %d requests started late, by %.2f ms on average and %.2f ms at most",
		target, achieved, s.Late.Count, s.Requests, s.Late.Mean(), s.Late.Max)
	if s.Dropped > 0 {
		note += fmt.Sprintf("; %d requests were never sent", s.Dropped)
	}
	return note
}
