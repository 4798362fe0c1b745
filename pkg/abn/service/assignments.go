package service

import (
	"context"
	"sync"
	"time"

	"github.com/iter8-tools/iter8/pkg/abn/store"
)

// flushSize makes a flush start early when this many assignments wait.
const flushSize = 10000

// assignments collects the users Lookup assigns and writes them to the
// store in batches, so that a lookup does no I/O. A user looked up many
// times between two flushes is written once.
type assignments struct {
	store   store.Store
	opts    Options
	metrics *metrics

	// flushing serializes flushes (the loop's, Results').
	flushing sync.Mutex

	mu      sync.Mutex
	pending map[store.Assignment]struct{}
	// inflight is the batch a flush is writing: still pending until the
	// store has it, so counted by len and not added again.
	inflight map[store.Assignment]struct{}

	kick    chan struct{}
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
	lastErr error
}

func newAssignments(st store.Store, opts Options, m *metrics) *assignments {
	a := &assignments{
		store: st, opts: opts, metrics: m,
		pending: map[store.Assignment]struct{}{},
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go a.loop()
	return a
}

func (a *assignments) add(as store.Assignment) {
	a.mu.Lock()
	if _, ok := a.pending[as]; !ok {
		if _, ok := a.inflight[as]; ok {
			a.mu.Unlock()
			return
		}
		if len(a.pending)+len(a.inflight) >= a.opts.MaxPendingAssignments {
			a.mu.Unlock()
			a.metrics.assignmentsDropped.Inc()
			return
		}
		a.pending[as] = struct{}{}
	}
	n := len(a.pending)
	a.mu.Unlock()
	if n == flushSize {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

func (a *assignments) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending) + len(a.inflight)
}

func (a *assignments) loop() {
	defer close(a.stopped)
	t := time.NewTicker(a.opts.AssignmentFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-a.kick:
		case <-a.quit:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.AssignmentFlushInterval+10*time.Second)
		_ = a.flush(ctx)
		cancel()
	}
}

// flush writes what is pending; on failure it is put back, to be written
// with the next flush. While it writes, the batch still counts as pending.
func (a *assignments) flush(ctx context.Context) error {
	a.flushing.Lock()
	defer a.flushing.Unlock()
	a.mu.Lock()
	batch := a.pending
	if len(batch) == 0 {
		a.mu.Unlock()
		return nil
	}
	a.pending = make(map[store.Assignment]struct{}, len(batch))
	a.inflight = batch
	a.mu.Unlock()
	list := make([]store.Assignment, 0, len(batch))
	for as := range batch {
		list = append(list, as)
	}
	err := a.store.AddUsers(ctx, list)
	a.mu.Lock()
	a.inflight = nil
	if err == nil {
		a.mu.Unlock()
		return nil
	}
	// Added while the batch was in flight, pending and the batch together
	// stay within the bound.
	for _, as := range list {
		a.pending[as] = struct{}{}
	}
	a.mu.Unlock()
	a.metrics.storeErrors.WithLabelValues("assignments").Inc()
	a.opts.Logger.Error("writing assignments to the store; retrying at the next flush", "count", len(list), "error", err)
	return err
}

// stop ends the periodic flushes and writes what is pending.
func (a *assignments) stop(ctx context.Context) error {
	a.once.Do(func() {
		close(a.quit)
		<-a.stopped
		a.lastErr = a.flush(ctx)
	})
	return a.lastErr
}
