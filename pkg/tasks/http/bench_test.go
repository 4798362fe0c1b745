package http_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// The benchmarks do a fixed amount of work (they ignore b.N, and each takes
// more than the default benchtime, so it runs once) and report figures with
// b.ReportMetric: the achieved rate, process CPU per request (the in-process
// server's share included, the same for the task and the baseline), and
// peak memory. Each task benchmark has a baseline that drives fortio directly
// with the same settings.

func benchServer(b *testing.B) string {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type load struct {
	qps      float64
	duration string
	requests int64
}

// runTask runs the http task once and returns requests and throughput.
func runTask(b *testing.B, url string, l load) (float64, float64) {
	b.Helper()
	bound := fmt.Sprintf("numRequests: %d", l.requests)
	if l.duration != "" {
		bound = "duration: " + l.duration
	}
	doc := fmt.Sprintf(`apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata: {name: bench}
spec:
  tasks:
  - task: http
    with: {url: %q, qps: %g, %s, connections: 4}
`, url, l.qps, bound)
	exp, err := experiment.Parse("bench.yaml", ".", []byte(doc), registry)
	if err != nil {
		b.Fatal(err)
	}
	res, err := experiment.Execute(b.Context(), exp, experiment.Options{})
	if err != nil || res.Failed {
		b.Fatalf("%v %s", err, res.Error)
	}
	n, _ := res.Value(experiment.DefaultVersion, "http/request-count")
	tp, _ := res.Value(experiment.DefaultVersion, "http/throughput")
	return n, tp
}

// runFortio runs fortio directly, as the baseline.
func runFortio(b *testing.B, url string, l load) (float64, float64) {
	b.Helper()
	o := fhttp.HTTPRunnerOptions{
		RunnerOptions: periodic.RunnerOptions{
			QPS: l.qps, NumThreads: 4, Exactly: l.requests, Percentiles: []float64{50},
			Resolution: 1e-5, Out: io.Discard, Stop: periodic.NewAborter(),
		},
		AllowInitialErrors: true,
	}
	if l.qps == 0 {
		o.QPS = -1
	}
	if l.duration != "" {
		d, _ := time.ParseDuration(l.duration)
		o.Duration = d
	}
	o.URL = url
	res, err := fhttp.RunHTTPTest(&o)
	if err != nil {
		b.Fatal(err)
	}
	n := float64(res.DurationHistogram.Count)
	return n, n / res.ActualDuration.Seconds()
}

func report(b *testing.B, l load, run func(*testing.B, string, load) (float64, float64)) {
	url := benchServer(b)
	b.ResetTimer()
	cpu := cpuTime()
	n, tp := run(b, url, l)
	cpu = cpuTime() - cpu
	b.StopTimer()
	b.ReportMetric(tp, "req/s")
	if l.qps > 0 {
		b.ReportMetric(100*tp/l.qps, "%-of-target")
	}
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/req")
	b.ReportMetric(0, "ns/op")
}

var (
	rate5000 = load{qps: 5000, duration: "10s"}
	maxSpeed = load{requests: 200000}
)

func BenchmarkTaskRate5000(b *testing.B)   { report(b, rate5000, runTask) }
func BenchmarkFortioRate5000(b *testing.B) { report(b, rate5000, runFortio) }
func BenchmarkTaskMaxSpeed(b *testing.B)   { report(b, maxSpeed, runTask) }
func BenchmarkFortioMaxSpeed(b *testing.B) { report(b, maxSpeed, runFortio) }

// BenchmarkTaskMillionRequests reports the peak resident memory of a run of
// 1,000,000 requests: latencies go to histograms, not lists of samples.
func BenchmarkTaskMillionRequests(b *testing.B) {
	url := benchServer(b)
	// Reset the peak-RSS counter (VmHWM) so earlier benchmarks do not count.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset peak RSS: %v", err)
	}
	b.ResetTimer()
	n, tp := runTask(b, url, load{requests: 1000000})
	b.StopTimer()
	if n != 1000000 {
		b.Fatalf("sent %g requests, want 1000000", n)
	}
	b.ReportMetric(tp, "req/s")
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
	b.ReportMetric(0, "ns/op")
}

func peakRSSMiB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := strings.CutPrefix(string(line), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
