package grpc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ghzload "github.com/bojand/ghz/load"
	"github.com/bojand/ghz/runner"
	"google.golang.org/grpc/codes"

	"github.com/iter8-tools/iter8/internal/load"
	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// maxDetails is how many calls per version ghz keeps a record of (a
// ResultDetail of about 64 bytes each, so at most about 64 MB): counts are
// exact beyond it, but latency statistics cover only the first maxDetails
// calls, and the task then adds a note to its status.
const maxDetails = 1_000_000

// progressInterval is how often a progress line is written while a version
// is under load.
const progressInterval = 5 * time.Second

// Run load-tests each version in turn.
func (t *Task) Run(ctx context.Context, r *experiment.Run) error {
	for _, v := range r.Result.VersionNames() {
		if err := t.runVersion(ctx, r, v); err != nil {
			return err
		}
	}
	return nil
}

// runVersion load-tests one version and records its metrics.
func (t *Task) runVersion(ctx context.Context, r *experiment.Run, version string) error {
	ep := t.endpoint(version)
	fail := func(err error) error {
		return fmt.Errorf("version %s (host %s): %w", version, ep.Host, err)
	}
	p := t.newPacer(ctx)
	opts, err := t.options(ep, p)
	if err != nil {
		return fail(err)
	}
	cfg, err := runner.NewConfig(t.Call, ep.Host, opts...)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(r.Progress, "grpc %s: calling %s on %s, %s, concurrency %d\n", version, t.Call, ep.Host, t.plan(), t.Concurrency)
	reqr, err := newRequester(ctx, cfg)
	if err != nil {
		return fail(fmt.Errorf("setting up %s: %w", t.Call, err))
	}
	stop := startProgress(r.Progress, version, p)
	rep, err := run(ctx, reqr)
	stop()
	if ctx.Err() != nil {
		// Calls cut short by the cancellation would count as errors: an
		// interrupted version records nothing.
		return fail(ctx.Err())
	}
	if err != nil {
		return fail(err)
	}
	if err := unreachable(rep); err != nil {
		return fail(err)
	}
	sum := t.summarize(rep, p)
	var rate float64
	if sum.Elapsed > 0 {
		rate = float64(sum.Requests) / sum.Elapsed.Seconds()
	}
	fmt.Fprintf(r.Progress, "grpc %s: %d calls in %s (%.1f calls/s), %d errors\n",
		version, sum.Requests, sum.Elapsed.Round(time.Millisecond), rate, sum.Errors)
	if sum.Latency.Count < sum.Requests {
		st := &r.Result.Tasks[r.TaskIndex]
		st.Notes = append(st.Notes, fmt.Sprintf("version %s: latency statistics cover the first %d of %d calls (ghz keeps a record of at most %d calls per run)",
			version, sum.Latency.Count, sum.Requests, maxDetails))
	}
	if err := sum.Record(r.Result, Name, version, t.Percentiles); err != nil {
		return fail(err)
	}
	if note := sum.PaceNote(t.plan()); note != "" {
		st := &r.Result.Tasks[r.TaskIndex]
		st.Notes = append(st.Notes, "version "+version+": "+note)
		fmt.Fprintf(r.Progress, "grpc %s: %s\n", version, note)
	}
	return nil
}

// plan describes the load, e.g. "100 calls at 10 calls/s".
func (t *Task) plan() string {
	s := fmt.Sprintf("%d calls", t.Total)
	if t.Duration != nil {
		s = "for " + t.Duration.String()
	}
	if t.RPS > 0 {
		return fmt.Sprintf("%s at %d calls/s", s, t.RPS)
	}
	return s + " as fast as possible"
}

// options are ghz's options for one version.
func (t *Task) options(ep Endpoint, p *pacer) ([]runner.Option, error) {
	data := []byte("{}")
	if ep.Data != nil {
		var err error
		if data, err = json.Marshal(ep.Data); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
	}
	opts := []runner.Option{
		runner.WithPacer(p),
		// With a duration the pacer ends the run; ghz sizes its record of
		// calls by the total, so leaving it 0 rather than ghz's "unbounded"
		// 2^31-1 keeps it from reserving room for a million calls up front.
		runner.WithTotalRequests(uint(t.Total)),
		runner.WithConcurrency(uint(t.Concurrency)),
		runner.WithConnections(uint(t.Connections)),
		runner.WithTimeout(t.Timeout.Duration),
		runner.WithDataFromJSON(string(data)),
		// Data and metadata are sent as written: no "{{" surprises, every
		// message is built (and checked) once before the run, and ghz does
		// not build a template with some 200 functions for every call
		// (which halves its throughput against a fast server).
		runner.WithDisableTemplateFuncs(true),
		runner.WithDisableTemplateData(true),
	}
	if len(ep.Metadata) > 0 {
		opts = append(opts, runner.WithMetadata(ep.Metadata), runner.WithReflectionMetadata(ep.Metadata))
	}
	switch {
	case t.protoFile != "":
		opts = append(opts, runner.WithProtoFile(t.protoFile, t.importPaths))
	case t.protoset != "":
		opts = append(opts, runner.WithProtoset(t.protoset))
	}
	if t.TLS == nil {
		return append(opts, runner.WithInsecure(true)), nil
	}
	return append(opts,
		runner.WithRootCertificate(t.caFile),
		runner.WithSkipTLSVerify(t.TLS.SkipVerify),
		runner.WithServerNameOverride(t.TLS.ServerName),
	), nil
}

// newRequester builds ghz's requester, which fetches the method's
// descriptor first (by reflection, unless from a file). ghz bounds that by
// its dial timeout but does not take a context: when ctx ends first, the
// build is left to finish on its own, holding nothing once it does.
func newRequester(ctx context.Context, cfg *runner.RunConfig) (*runner.Requester, error) {
	type built struct {
		reqr *runner.Requester
		err  error
	}
	ch := make(chan built, 1)
	go func() {
		reqr, err := runner.NewRequester(cfg)
		ch <- built{reqr, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case b := <-ch:
		return b.reqr, b.err
	}
}

// run runs reqr until its pacer ends the run. When ctx is cancelled it also
// stops reqr, which closes its connections so that calls in flight end at
// once rather than at their timeout.
func run(ctx context.Context, reqr *runner.Requester) (*runner.Report, error) {
	finished := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-finished:
		case <-ctx.Done():
			stopRequester(reqr)
		}
	}()
	rep, err := reqr.Run()
	close(finished)
	<-watcher
	return rep, err
}

// stopRequester stops a running requester. Requester.Stop panics if the run
// has just ended (it sends on a channel that Run closes as it returns), and
// nothing tells when a run is about to end; such a late stop has nothing
// left to do, so that one panic is dropped.
func stopRequester(reqr *runner.Requester) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(runtime.Error); ok && strings.Contains(e.Error(), "closed channel") {
				return
			}
			panic(p)
		}
	}()
	reqr.Stop(runner.ReasonCancel)
}

// pacer paces ghz's calls: ghz's constant rate and total, plus the duration
// and the context, so that the run ends with whichever comes first without
// ghz's own duration timer (which closes the connections under the calls in
// flight, failing them).
type pacer struct {
	ghzload.ConstantPacer
	// duration bounds the run; 0 when the total does.
	duration time.Duration
	// done is the run's context's Done channel.
	done <-chan struct{}
	// started counts the calls started, for progress lines.
	started atomic.Uint64
	// began is when ghz began the run, the origin of the calls' slots;
	// set by the first Pace, read once the run has ended.
	began time.Time
}

func (t *Task) newPacer(ctx context.Context) *pacer {
	p := &pacer{ConstantPacer: ghzload.ConstantPacer{Freq: uint64(t.RPS), Max: uint64(t.Total)}, done: ctx.Done()}
	if t.Duration != nil {
		p.duration = t.Duration.Duration
	}
	return p
}

// Pace is called by ghz before each call, with the time since the start and
// the number of calls started; it returns how long to wait before the next
// call (always 0: it waits itself, so as to notice cancellation) and whether
// to stop.
func (p *pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits == 0 && p.began.IsZero() {
		p.began = time.Now().Add(-elapsed)
	}
	p.started.Store(hits)
	select {
	case <-p.done:
		return 0, true
	default:
	}
	if p.duration > 0 && elapsed >= p.duration {
		return 0, true
	}
	wait, stop := p.ConstantPacer.Pace(elapsed, hits)
	if stop || wait <= 0 {
		return 0, stop
	}
	last := p.duration > 0 && elapsed+wait >= p.duration
	if last {
		wait = p.duration - elapsed
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-p.done:
		return 0, true
	case <-timer.C:
		return 0, last
	}
}

// startProgress writes a progress line every progressInterval until the
// returned function is called.
func startProgress(w io.Writer, version string, p *pacer) func() {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(w, "grpc %s: %d calls started, %s elapsed\n", version, p.started.Load(), time.Since(start).Round(time.Second))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// unreachable returns an error when every call failed as Unavailable: the
// host cannot be reached (or the TLS settings do not match it), which is a
// problem with the experiment rather than a measurement of the version.
func unreachable(rep *runner.Report) error {
	if rep.Count == 0 || uint64(rep.StatusCodeDist[codes.Unavailable.String()]) != rep.Count {
		return nil
	}
	return fmt.Errorf("every call failed: %s", mostCommon(rep.ErrorDist))
}

// mostCommon returns the most frequent error message (the least in
// lexical order on ties, so that it does not depend on map order).
func mostCommon(dist map[string]int) string {
	best, n := "", 0
	for m, c := range dist {
		if c > n || (c == n && m < best) {
			best, n = m, c
		}
	}
	return best
}

// summarize turns ghz's report into iter8's summary. The latency histogram
// counts every call recorded, failed or not, as the http task does. With a
// target rate, call k (from 0, in order of start) is due (k+1)/rps after
// the run began, as ghz's constant pacer schedules it: it is late when it started after that by more than the threshold,
// and its latency from the intended start adds the delay.
func (t *Task) summarize(rep *runner.Report, p *pacer) load.Summary {
	rec := stats.NewRecorder()
	for _, d := range rep.Details {
		rec.Record(float64(d.Latency) / float64(time.Millisecond))
	}
	var errs int64
	for _, n := range rep.ErrorDist {
		errs += int64(n)
	}
	s := load.Summary{Requests: int64(rep.Count), Errors: errs, Elapsed: rep.Total, Latency: rec.Histogram(), Paced: t.RPS > 0}
	if !s.Paced {
		return s
	}
	interval := time.Second / time.Duration(t.RPS)
	threshold := load.LateThreshold(interval)
	// ghz stamps a call with its end.
	starts := make([]time.Time, len(rep.Details))
	for i, d := range rep.Details {
		starts[i] = d.Timestamp.Add(-d.Latency)
	}
	order := make([]int, len(starts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return starts[a].Compare(starts[b]) })
	response := stats.NewRecorder()
	for k, i := range order {
		late := starts[i].Sub(p.began.Add(time.Duration(k+1) * interval))
		s.Late.Add(late, threshold)
		response.Record(float64(rep.Details[i].Latency+max(0, late)) / float64(time.Millisecond))
	}
	s.ResponseTime = response.Histogram()
	// With a duration, the calls due before it ends: slots 1/rps apart
	// from 1/rps.
	planned := int64(t.Total)
	if t.Duration != nil {
		planned = int64(math.Ceil(t.Duration.Seconds()*float64(t.RPS))) - 1
	}
	s.Dropped = max(0, planned-s.Requests)
	return s
}
