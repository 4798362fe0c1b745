// Package loadtest holds the checks that the tests of the load tasks
// (http, grpc) share.
package loadtest

import (
	"testing"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// AssertStallShows checks the metrics (under prefix, e.g. "http") of a
// load of n requests at 100 per second during which one request stalled
// for a second, which the latency from the intended start must show at
// p90 and the service time must not.
func AssertStallShows(t *testing.T, res *experiment.Result, prefix string, n float64) {
	t.Helper()
	v := experiment.DefaultVersion
	get := func(m string) float64 {
		x, ok := res.Value(v, prefix+"/"+m)
		if !ok {
			t.Fatalf("no %s/%s", prefix, m)
		}
		return x
	}
	service, response := get("latency-p90"), get("response-time-p90")
	t.Logf("p90: service time %.2f ms, from the intended start %.2f ms; late %g (max %.0f ms), max %.0f/%.0f ms",
		service, response, get("late-count"), get("late-max"), get("latency-max"), get("response-time-max"))
	if service > 250 || response < 500 {
		t.Errorf("p90 of the service time %.1f ms, from the intended start %.1f ms; want the stall to show only in the latter", service, response)
	}
	if get("latency-max") < 1000 || get("response-time-max") < get("latency-max") {
		t.Errorf("max: service time %.1f ms, from the intended start %.1f; want both to hold the stalled call", get("latency-max"), get("response-time-max"))
	}
	if late := get("late-count"); late < 50 || late > n-1 || get("late-max") < 500 {
		t.Errorf("%g late, by %.1f ms at most; want the ~100 due during the stall late, by most of a second", late, get("late-max"))
	}
	if get("request-count") != n || get("dropped-count") != 0 {
		t.Errorf("%g sent, %g dropped; want all %g sent", get("request-count"), get("dropped-count"), n)
	}
	if h := res.Version(v).Histograms[prefix+"/response-time"]; h == nil || h.Count != int64(n) {
		t.Errorf("response-time histogram %+v, want %g values", h, n)
	}
}
