// Package sdk is the Go client of the A/B/n service. Lookup tells a front
// end which version of a back end a user gets, from a short-lived local
// cache when it can, and falls back to a default version when the service
// cannot answer in time; WriteMetric queues metric values and sends them in
// batches in the background; Flush and Close send what is queued.
//
//	c, err := sdk.New("iter8-abn:50051", sdk.WithDefaultVersion("v1"))
//	...
//	defer c.Close(ctx)
//	v, _ := c.Lookup(ctx, "checkout", userID)
//	req.Header.Set(v.HeaderName, v.HeaderValue)   // the Route sends it to v
//	...
//	_ = c.WriteMetric(ctx, "checkout", userID, "sales", 42.5)
//
// Values are delivered at least once: a batch whose call timed out after
// the service stored it is sent again.
package sdk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
)

// ErrQueueFull is returned by WriteMetric when MaxPending values wait to
// be sent: the service is unreachable or slower than the writes.
var ErrQueueFull = errors.New("metric queue is full: the A/B/n service is not keeping up")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("client is closed")

// Version is the version a user gets.
type Version struct {
	// Name of the version.
	Name string `json:"name"`
	// Index of the version in its application; -1 for a fallback.
	Index int `json:"index"`
	// HeaderName is the header to set on requests to the back end.
	HeaderName string `json:"headerName"`
	// HeaderValue is the value to set it to.
	HeaderValue string `json:"headerValue"`
	// Fallback is true when the service did not answer and this is the
	// default version (WithDefaultVersion).
	Fallback bool `json:"fallback,omitempty"`
}

type options struct {
	defaultVersion string
	cacheTTL       time.Duration
	cacheSize      int
	lookupTimeout  time.Duration
	batchSize      int
	flushInterval  time.Duration
	sendTimeout    time.Duration
	maxPending     int
	dialOptions    []grpc.DialOption
	onError        func(error)
}

// Option configures a Client.
type Option func(*options) error

// WithDefaultVersion is the version Lookup returns, marked Fallback, when
// the service is unreachable, too slow, or cannot assign the user (unknown
// application, no ready version). Without it, Lookup returns those errors.
func WithDefaultVersion(name string) Option {
	return func(o *options) error {
		if err := abn.ValidateName("default version", name); err != nil {
			return err
		}
		o.defaultVersion = name
		return nil
	}
}

// WithCacheTTL is how long Lookup remembers an answer. Default: 10s; 0
// turns the cache off. Keep it short: when versions or weights change,
// users move only after it.
func WithCacheTTL(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("cache TTL %v is negative", d)
		}
		o.cacheTTL = d
		return nil
	}
}

// WithCacheSize bounds the number of answers cached. Default: 10,000.
func WithCacheSize(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("cache size %d: must be at least 1", n)
		}
		o.cacheSize = n
		return nil
	}
}

// WithLookupTimeout bounds how long Lookup waits for the service (the
// caller's context may bound it further). Default: 250ms.
func WithLookupTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("lookup timeout %v: must be positive", d)
		}
		o.lookupTimeout = d
		return nil
	}
}

// WithBatchSize is the number of values sent in one call; a full batch is
// sent at once. Default: 500; at most abn.MaxBatch (10,000).
func WithBatchSize(n int) Option {
	return func(o *options) error {
		if n < 1 || n > abn.MaxBatch {
			return fmt.Errorf("batch size %d: allowed is 1 to %d", n, abn.MaxBatch)
		}
		o.batchSize = n
		return nil
	}
}

// WithFlushInterval is the longest a value waits before it is sent.
// Default: 1s.
func WithFlushInterval(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("flush interval %v: must be positive", d)
		}
		o.flushInterval = d
		return nil
	}
}

// WithSendTimeout bounds a call that sends a batch in the background; a
// batch whose call fails is sent again later. Default: 10s. Too short a
// timeout makes duplicates: a call that times out after the service
// stored its batch is sent again.
func WithSendTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("send timeout %v: must be positive", d)
		}
		o.sendTimeout = d
		return nil
	}
}

// WithMaxPending bounds the values waiting to be sent; beyond it
// WriteMetric returns ErrQueueFull. Default: 100,000.
func WithMaxPending(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max pending %d: must be at least 1", n)
		}
		o.maxPending = n
		return nil
	}
}

// WithDialOptions adds gRPC dial options, e.g. transport credentials (the
// default is plaintext, for in-cluster and port-forwarded use).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) error {
		o.dialOptions = append(o.dialOptions, opts...)
		return nil
	}
}

// WithErrorHandler receives the errors the caller does not see: fallbacks
// of Lookup, failed background sends, and values the service rejected.
// It is called from the client's goroutines and must not block.
func WithErrorHandler(f func(error)) Option {
	return func(o *options) error {
		o.onError = f
		return nil
	}
}

// Client is a client of the A/B/n service; safe for concurrent use.
type Client struct {
	conn *grpc.ClientConn
	api  abnpb.ABNClient
	opts options

	cacheMu sync.Mutex
	cache   map[cacheKey]cached

	mu      sync.Mutex
	pending []*abnpb.WriteMetricRequest
	// failed is the batch whose send failed: it is sent again first,
	// unchanged and with its identity, so that the service stores it once
	// even if it had stored it before the reply was lost.
	failed *batch
	closed bool

	kick    chan struct{}
	flushes chan flushRequest
	quit    chan struct{}
	stopped chan struct{}

	// lookups is the stream of lookups, and its state.
	lookups lookupStreams

	// The counters of Stats; sending counts the values of batches on
	// their way.
	stored, rejected, queueFull, failedSends, lost, sending atomic.Int64
}

// Stats says what became of the values WriteMetric was given: none is
// dropped without being counted here.
type Stats struct {
	// Queued values wait to be sent, or for the service's answer. While
	// the service or its store is unavailable, the batches that failed
	// wait here and are sent again.
	Queued int
	// Stored values were stored by the service.
	Stored int64
	// Rejected values were refused by the service (and passed to the
	// error handler).
	Rejected int64
	// QueueFull counts the values WriteMetric refused with ErrQueueFull:
	// the caller got them back.
	QueueFull int64
	// FailedSends counts the batches that failed and were queued again.
	FailedSends int64
	// Lost values were still queued when Close gave up.
	Lost int64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Queued: c.queued() + int(c.sending.Load()), Stored: c.stored.Load(), Rejected: c.rejected.Load(),
		QueueFull: c.queueFull.Load(), FailedSends: c.failedSends.Load(), Lost: c.lost.Load(),
	}
}

type cacheKey struct{ app, user string }

type cached struct {
	version Version
	expires time.Time
}

type flushRequest struct {
	ctx  context.Context
	done chan error
}

// DialOptions are the gRPC options New dials the service with, before
// those of WithDialOptions: plaintext, and fixed flow-control windows,
// which turn off gRPC's bandwidth-delay probes (a PING after responses,
// which the service must read and answer, costing it about a tenth of its
// CPU per lookup). Clients of the API of their own can use them too.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(1 << 20),
		grpc.WithInitialConnWindowSize(1 << 20),
	}
}

// New returns a client of the service at target (host:port, or any gRPC
// target). It does not connect until the first call.
func New(target string, opts ...Option) (*Client, error) {
	o := options{
		cacheTTL: 10 * time.Second, cacheSize: 10000, lookupTimeout: 250 * time.Millisecond,
		batchSize: 500, flushInterval: time.Second, sendTimeout: 10 * time.Second, maxPending: 100000,
		onError: func(error) {},
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("A/B/n client: %w", err)
		}
	}
	dial := append(DialOptions(), o.dialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, fmt.Errorf("A/B/n client for %s: %w", target, err)
	}
	c := &Client{
		conn: conn, api: abnpb.NewABNClient(conn), opts: o,
		cache:   map[cacheKey]cached{},
		kick:    make(chan struct{}, 1),
		flushes: make(chan flushRequest),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	c.lookups.ctx, c.lookups.cancel = context.WithCancel(context.Background())
	go c.run()
	return c, nil
}

// Lookup returns the version user gets in application. It answers from the
// cache when it can, else asks the service (on the client's Lookups stream
// when one is open, else with a call), waiting at most the lookup timeout. When the service cannot answer and a default version is set, it
// returns that version with Fallback set and reports the cause to the error
// handler; bad arguments are always errors (*abn.InvalidError).
func (c *Client) Lookup(ctx context.Context, application, user string) (Version, error) {
	key := cacheKey{application, user}
	if c.opts.cacheTTL > 0 {
		c.cacheMu.Lock()
		e, ok := c.cache[key]
		c.cacheMu.Unlock()
		if ok && time.Now().Before(e.expires) {
			return e.version, nil // only answers to valid lookups are cached
		}
	}
	if err := abn.ValidateLookup(application, user); err != nil {
		return Version{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.lookupTimeout)
	defer cancel()
	pv, err := c.lookup(ctx, &abnpb.LookupRequest{Application: application, User: user})
	if err != nil {
		err = fmt.Errorf("looking up %s for a user: %w", application, err)
		if c.opts.defaultVersion == "" || status.Code(err) == codes.InvalidArgument {
			return Version{}, err
		}
		c.opts.onError(err)
		return Version{Name: c.opts.defaultVersion, Index: -1, HeaderName: abn.HeaderName, HeaderValue: c.opts.defaultVersion, Fallback: true}, nil
	}
	v := Version{Name: pv.GetName(), Index: int(pv.GetIndex()), HeaderName: pv.GetHeaderName(), HeaderValue: pv.GetHeaderValue()}
	if c.opts.cacheTTL > 0 {
		c.remember(key, v)
	}
	return v, nil
}

func (c *Client) remember(key cacheKey, v Version) {
	now := time.Now()
	c.cacheMu.Lock()
	defer c.cacheMu.Unlock()
	if len(c.cache) >= c.opts.cacheSize {
		for k, e := range c.cache {
			if now.After(e.expires) {
				delete(c.cache, k)
			}
		}
		// Still full of live entries: forget a random tenth (map order
		// is random).
		for k := range c.cache {
			if len(c.cache) < c.opts.cacheSize-c.opts.cacheSize/10 {
				break
			}
			delete(c.cache, k)
		}
	}
	c.cache[key] = cached{version: v, expires: now.Add(c.opts.cacheTTL)}
}

// WriteMetric queues a value of a metric for a user; it is sent within the
// flush interval. It never blocks: it fails with ErrQueueFull when too many
// values wait, with *abn.InvalidError for bad arguments, and with ctx's
// error when ctx is done. The service records the value under the version
// the user is assigned to when it arrives.
func (c *Client) WriteMetric(ctx context.Context, application, user, metric string, value float64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := abn.ValidateMetric(application, user, metric, value); err != nil {
		return err
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.queuedLocked() >= c.opts.maxPending:
		c.mu.Unlock()
		c.queueFull.Add(1)
		return ErrQueueFull
	}
	c.pending = append(c.pending, &abnpb.WriteMetricRequest{Application: application, User: user, Metric: metric, Value: value})
	full := len(c.pending) >= c.opts.batchSize
	c.mu.Unlock()
	if full {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// WriteMetricSync records one value now, durably, and returns the version
// it was recorded for. It is for tools and tests; applications should use
// WriteMetric.
func (c *Client) WriteMetricSync(ctx context.Context, application, user, metric string, value float64) (string, error) {
	if err := abn.ValidateMetric(application, user, metric, value); err != nil {
		return "", err
	}
	resp, err := c.api.WriteMetric(ctx, &abnpb.WriteMetricRequest{Application: application, User: user, Metric: metric, Value: value})
	if err != nil {
		return "", fmt.Errorf("writing metric %s of %s: %w", metric, application, err)
	}
	return resp.GetVersion(), nil
}

// Results returns the statistics of an application's versions; see
// abn.Analyze for the report.
func (c *Client) Results(ctx context.Context, application string) (abn.Results, error) {
	if err := abn.ValidateName("application", application); err != nil {
		return abn.Results{}, err
	}
	resp, err := c.api.GetResults(ctx, &abnpb.GetResultsRequest{Application: application})
	if err != nil {
		return abn.Results{}, fmt.Errorf("getting the results of %s: %w", application, err)
	}
	return abnpb.ToResults(resp), nil
}

// Flush sends every value queued before it was called and waits until the
// service has stored them, or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	req := flushRequest{ctx: ctx, done: make(chan error, 1)}
	select {
	case c.flushes <- req:
	case <-c.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes the queued values (waiting at most until ctx ends), stops
// the client and closes its connection. Values still queued are lost and
// counted in the error.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	c.mu.Unlock()
	err := c.Flush(ctx)
	close(c.quit)
	<-c.stopped
	c.mu.Lock()
	lost := c.queuedLocked()
	c.pending, c.failed = nil, nil
	c.mu.Unlock()
	c.lost.Add(int64(lost))
	if lost > 0 {
		err = fmt.Errorf("%d metric values were not sent: %w", lost, err)
	}
	c.lookups.cancel()
	return errors.Join(err, c.conn.Close())
}

// run sends batches: when one is full, every flush interval, and on Flush.
func (c *Client) run() {
	defer close(c.stopped)
	t := time.NewTicker(c.opts.flushInterval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case req := <-c.flushes:
			req.done <- c.send(req.ctx, c.queued())
			continue
		case <-c.kick:
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.sendTimeout)
		if err := c.send(ctx, c.queued()); err != nil {
			c.opts.onError(err)
		}
		cancel()
	}
}

func (c *Client) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queuedLocked()
}

func (c *Client) queuedLocked() int {
	n := len(c.pending)
	if c.failed != nil {
		n += len(c.failed.metrics)
	}
	return n
}

// batch is a batch of values and its identity.
type batch struct {
	id      string
	metrics []*abnpb.WriteMetricRequest
}

// next takes the batch to send, and counts its values as sending: the one
// that failed, else a new one of at most n queued values; nil when none is
// queued.
func (c *Client) next(n int) *batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.failed
	c.failed = nil
	if b == nil {
		k := min(n, c.opts.batchSize, len(c.pending))
		if k == 0 {
			return nil
		}
		b = &batch{id: rand.Text(), metrics: c.pending[:k:k]}
		c.pending = c.pending[k:]
	}
	c.sending.Add(int64(len(b.metrics)))
	return b
}

// send sends the first n queued values in batches. A batch that fails is
// kept to be sent again first, and send stops.
func (c *Client) send(ctx context.Context, n int) error {
	for n > 0 {
		b := c.next(n)
		if b == nil {
			return nil
		}
		k := len(b.metrics)
		n -= k

		resp, err := c.api.WriteMetrics(ctx, &abnpb.WriteMetricsRequest{Batch: b.id, Metrics: b.metrics})
		if err != nil {
			c.mu.Lock()
			c.failed = b
			c.sending.Add(-int64(k))
			c.mu.Unlock()
			c.failedSends.Add(1)
			return fmt.Errorf("sending %d metric values: %w", k, err)
		}
		c.rejected.Add(int64(len(resp.GetRejected())))
		c.stored.Add(int64(k - len(resp.GetRejected())))
		c.sending.Add(-int64(k))
		for _, r := range resp.GetRejected() {
			what := "a metric value"
			if i := int(r.GetIndex()); i >= 0 && i < k {
				what = fmt.Sprintf("metric %s of %s", b.metrics[i].GetMetric(), b.metrics[i].GetApplication())
			}
			c.opts.onError(fmt.Errorf("%s was rejected: %w", what, status.Error(codes.Code(r.GetCode()), r.GetMessage())))
		}
	}
	return nil
}
