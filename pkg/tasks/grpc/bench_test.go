package grpc_test

import (
	"testing"

	"github.com/bojand/ghz/runner"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// The two benchmarks make the same calls to the same in-process server on
// loopback, as fast as possible: the task against ghz used directly. Each
// reports the calls per second ghz measured (calls over the load's
// duration); ns/op adds the set-up (reflection) and, for the task, the
// histogram and metrics.
const (
	benchTotal       = 20000
	benchConcurrency = 16
)

func BenchmarkTaskMaxThroughput(b *testing.B) {
	ts := startServer(b, &healthServer{}, serverConfig{})
	d := doc(b, map[string]any{"host": ts.addr, "call": checkCall, "total": benchTotal, "concurrency": benchConcurrency})
	var calls, seconds float64
	for b.Loop() {
		res, _ := execute(b.Context(), b, "", d)
		if st := res.Tasks[0]; st.State != experiment.TaskSucceeded {
			b.Fatalf("task state = %s (%s)", st.State, st.Error)
		}
		v := res.Version(experiment.DefaultVersion)
		n, errs, tput := v.Metrics["grpc/request-count"], v.Metrics["grpc/error-count"], v.Metrics["grpc/throughput"]
		if n != benchTotal || errs != 0 {
			b.Fatalf("%g calls, %g errors; want %d calls, no errors", n, errs, benchTotal)
		}
		calls += n
		seconds += n / tput
	}
	b.ReportMetric(calls/seconds, "req/s")
}

func BenchmarkGhzDirectMaxThroughput(b *testing.B) {
	ts := startServer(b, &healthServer{}, serverConfig{})
	for _, bc := range []struct {
		name string
		opts []runner.Option
	}{
		// The task turns ghz's call templates off: this is the overhead
		// of the task over ghz.
		{"templates-off", []runner.Option{runner.WithDisableTemplateFuncs(true), runner.WithDisableTemplateData(true)}},
		// ghz as its users call it.
		{"ghz-defaults", nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var calls, seconds float64
			for b.Loop() {
				// What runner.Run does, without the SIGINT handler it
				// installs (and never removes) on every call.
				cfg, err := runner.NewConfig(checkCall, ts.addr, append([]runner.Option{
					runner.WithTotalRequests(benchTotal),
					runner.WithConcurrency(benchConcurrency),
					runner.WithInsecure(true),
					runner.WithDataFromJSON("{}"),
				}, bc.opts...)...)
				if err != nil {
					b.Fatal(err)
				}
				reqr, err := runner.NewRequester(cfg)
				if err != nil {
					b.Fatal(err)
				}
				rep, err := reqr.Run()
				if err != nil {
					b.Fatal(err)
				}
				if rep.Count != benchTotal || len(rep.ErrorDist) != 0 {
					b.Fatalf("%d calls, errors %v; want %d calls, no errors", rep.Count, rep.ErrorDist, benchTotal)
				}
				calls += float64(rep.Count)
				seconds += rep.Total.Seconds()
			}
			b.ReportMetric(calls/seconds, "req/s")
		})
	}
}
