package http

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/log"

	"github.com/iter8-tools/iter8/internal/load"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/stats"
)

var quietFortio sync.Once

// runVersion load-tests one version and records its metrics.
func (t *Task) runVersion(ctx context.Context, r *experiment.Run, version string) error {
	quietFortio.Do(func() { log.SetLogLevelQuiet(log.Critical) })
	ep := t.endpoint(version)
	if t.Warmup > 0 {
		fmt.Fprintf(r.Progress, "http %s: %d warm-up requests\n", version, t.Warmup)
		if _, _, err := t.fortio(ctx, ep, 0, nil, t.Warmup, nil); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	var d time.Duration
	if t.Duration != nil {
		d = t.Duration.Duration
	}
	p := newPacer(t.QPS, d, t.NumRequests, t.Connections)
	rec := newRecorder(p, t.ErrorRanges)
	stop := startProgress(r, version, rec, p)
	elapsed, requested, err := t.fortio(ctx, ep, t.QPS, t.Duration, t.NumRequests, rec)
	stop()
	if err != nil {
		return err
	}
	sum := rec.summary(elapsed)
	fmt.Fprintf(r.Progress, "http %s: %d requests in %s (%.1f req/s), %d errors\n",
		version, sum.Requests, elapsed.Round(time.Millisecond), float64(sum.Requests)/elapsed.Seconds(), sum.Errors)
	if err := sum.Record(r.Result, Name, version, t.Percentiles); err != nil {
		return err
	}
	if note := sum.PaceNote(fmt.Sprintf("%g qps (%s)", t.QPS, requested)); note != "" {
		st := &r.Result.Tasks[r.TaskIndex]
		st.Notes = append(st.Notes, "version "+version+": "+note)
		fmt.Fprintf(r.Progress, "http %s: %s\n", version, note)
	}
	return nil
}

// fortio runs one fortio load: qps 0 is as fast as possible; either d or n
// bounds it. It returns the elapsed time and fortio's description of the
// requested load.
func (t *Task) fortio(ctx context.Context, ep Endpoint, qps float64, d *experiment.Duration, n int64, logger periodic.AccessLogger) (time.Duration, string, error) {
	aborter := periodic.NewAborter()
	o := fhttp.HTTPRunnerOptions{
		RunnerOptions: periodic.RunnerOptions{
			RunType:     "iter8",
			QPS:         qps,
			NumThreads:  t.Connections,
			Exactly:     n,
			Percentiles: []float64{50},
			Resolution:  1e-5,
			Out:         io.Discard,
			// Our own aborter also keeps fortio from installing a SIGINT
			// handler: the caller's context is the way to stop.
			Stop:         aborter,
			AccessLogger: logger,
		},
		HTTPOptions: fhttp.HTTPOptions{
			TLSOptions:        fhttp.TLSOptions{CACert: t.caFile, Insecure: t.InsecureSkipVerify},
			HTTPReqTimeOut:    t.Timeout.Duration,
			ContentType:       t.ContentType,
			Payload:           t.payload,
			MethodOverride:    strings.ToUpper(t.Method),
			H2:                t.HTTP2,
			DisableFastClient: t.HTTP2,
		},
		// A version that answers with errors is still measured.
		AllowInitialErrors: true,
	}
	if qps <= 0 {
		o.QPS = -1
	}
	if d != nil {
		o.Duration = d.Duration
	}
	o.InitHeaders()
	for k, v := range ep.Headers {
		if err := o.AddAndValidateExtraHeader(k + ": " + v); err != nil {
			return 0, "", fmt.Errorf("header %s: %w", k, err)
		}
	}
	o.URL = ep.URL
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			aborter.Abort(false)
		case <-done:
		}
	}()
	res, err := fhttp.RunHTTPTest(&o)
	if err != nil {
		return 0, "", fmt.Errorf("load test of %s: %w", ep.URL, err)
	}
	return res.ActualDuration, res.RequestedDuration, nil
}

// pacer replicates fortio's schedule for a target rate, so that requests
// starting later than their slot can be counted: with n calls per thread at
// q queries per second per thread, call i of a thread is due at
// (i + i/(n-1)) / q seconds after the thread's first call.
type pacer struct {
	qps       float64
	threads   int
	perThread int64
	threshold time.Duration
}

func newPacer(qps float64, d time.Duration, n int64, threads int) *pacer {
	p := &pacer{qps: qps, threads: threads}
	if qps <= 0 {
		return p
	}
	calls := n
	if calls == 0 {
		calls = int64(qps * d.Seconds())
	}
	if calls < 2 {
		calls, p.threads = 2, 1
	}
	if int64(2*p.threads) > calls {
		p.threads = int(calls / 2)
	}
	p.perThread = calls / int64(p.threads)
	interval := time.Duration(float64(time.Second) * float64(p.threads) / qps)
	p.threshold = load.LateThreshold(interval)
	return p
}

// planned is the number of requests the schedule calls for.
func (p *pacer) planned() int64 { return p.perThread * int64(p.threads) }

// due returns when call i of a thread is due, after the thread's first call.
func (p *pacer) due(i int64) time.Duration {
	q := p.qps / float64(p.threads)
	return time.Duration((float64(i) + float64(i)/float64(p.perThread-1)) / q * float64(time.Second))
}

// recorder is fortio's access logger: it records every request's latency
// (from its actual and from its intended start) and outcome, and its
// lateness, per thread (each thread owns its slot, so the hot path takes no
// lock).
type recorder struct {
	pacer   *pacer
	errors  []StatusRange
	threads []threadStats
}

type threadStats struct {
	latency *stats.Recorder
	// response is the latency from the intended start; nil without a
	// target rate.
	response *stats.Recorder
	errors   int64
	first    time.Time
	late     load.Lateness
	done     atomic.Int64
	_        [64]byte // keeps threads' counters on separate cache lines
}

func newRecorder(p *pacer, errorRanges []StatusRange) *recorder {
	r := &recorder{pacer: p, errors: errorRanges, threads: make([]threadStats, max(p.threads, 1))}
	for i := range r.threads {
		r.threads[i].latency = stats.NewRecorder()
		if p.perThread > 0 {
			r.threads[i].response = stats.NewRecorder()
		}
	}
	return r
}

// Start notes how late the call starts relative to its slot.
func (r *recorder) Start(ctx context.Context, id periodic.ThreadID, iter int64, start time.Time) context.Context {
	if r.pacer.perThread == 0 || int(id) >= len(r.threads) {
		return ctx
	}
	ts := &r.threads[id]
	if iter == 0 {
		ts.first = start
		return ctx
	}
	ts.late.Add(start.Sub(ts.first)-r.pacer.due(iter), r.pacer.threshold)
	return ctx
}

// Report records a finished call; details is the HTTP status code. With a
// target rate, its latency from its intended start adds how late it
// started.
func (r *recorder) Report(_ context.Context, id periodic.ThreadID, iter int64, start time.Time, latency float64, _ bool, details string) {
	if int(id) >= len(r.threads) {
		return
	}
	ts := &r.threads[id]
	ms := latency * 1000
	ts.latency.Record(ms)
	if ts.response != nil {
		late := max(0, start.Sub(ts.first)-r.pacer.due(iter))
		ts.response.Record(ms + float64(late)/float64(time.Millisecond))
	}
	if r.isError(details) {
		ts.errors++
	}
	ts.done.Add(1)
}

// Info describes the logger to fortio.
func (r *recorder) Info() string { return "iter8" }

func (r *recorder) isError(details string) bool {
	code, err := strconv.Atoi(details)
	if err != nil || code <= 0 {
		return true // connection error or timeout
	}
	for _, rg := range r.errors {
		if rg.contains(code) {
			return true
		}
	}
	return false
}

func (r *recorder) sent() int64 {
	var n int64
	for i := range r.threads {
		n += r.threads[i].done.Load()
	}
	return n
}

// summary merges the threads' statistics.
func (r *recorder) summary(elapsed time.Duration) load.Summary {
	s := load.Summary{Elapsed: elapsed, Latency: &stats.Histogram{}, Paced: r.pacer.perThread > 0}
	if s.Paced {
		s.ResponseTime = &stats.Histogram{}
	}
	for i := range r.threads {
		ts := &r.threads[i]
		s.Latency.Merge(ts.latency.Histogram())
		if s.Paced {
			s.ResponseTime.Merge(ts.response.Histogram())
		}
		s.Requests += ts.done.Load()
		s.Errors += ts.errors
		s.Late.Merge(ts.late)
	}
	if s.Paced {
		s.Dropped = max(0, r.pacer.planned()-s.Requests)
	}
	return s
}
