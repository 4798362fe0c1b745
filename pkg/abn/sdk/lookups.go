package sdk

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
)

// Lookups go on a Lookups stream when one is open: a message on an open
// stream costs the service and the client less than a call, and is
// answered sooner. While none is open (before the first, after the service
// ended one, or when the service is unreachable), lookups are calls, and a
// stream is opened in the background, at most once every reopenInterval.
// A lookup the stream did not answer before it ended is sent again as a
// call, within the lookup's deadline.

// maxStreamed bounds the lookups waiting for an answer on a stream, beyond
// which lookups are calls. It keeps the requests in flight (at most about
// 520 bytes each) within gRPC's write quota of a stream (64 KiB), so that
// sending on the stream never blocks.
const maxStreamed = 100

// reopenInterval is the least time between two attempts to open a stream.
const reopenInterval = time.Second

// lookupStreams holds the client's stream of lookups.
type lookupStreams struct {
	// ctx ends with the client, and with it the streams.
	ctx    context.Context
	cancel context.CancelFunc
	// current is the open stream, or nil.
	current atomic.Pointer[lookupStream]

	mu sync.Mutex
	// opening is true while a stream is being opened.
	opening bool
	// lastOpen is when a stream was last opened.
	lastOpen time.Time
	// unsupported is true when the service has no Lookups (an older
	// version): lookups are calls from then on.
	unsupported bool
}

// lookupStream is an open stream: the answers come in the order of the
// requests, each to the waiter queued with its request.
type lookupStream struct {
	stream abnpb.ABN_LookupsClient
	cancel context.CancelFunc

	mu sync.Mutex // orders requests with their waiters, and with the end
	// ended is true once the stream has failed or ended.
	ended   bool
	waiters chan chan *abnpb.LookupsResponse
}

// lookup asks the service, on the stream when one is open, else with a
// call; errors are gRPC statuses.
func (c *Client) lookup(ctx context.Context, req *abnpb.LookupRequest) (*abnpb.Version, error) {
	if ls := c.lookups.get(c.api); ls != nil {
		if resp, answered, err := ls.lookup(ctx, req); answered {
			if err != nil {
				return nil, err
			}
			if code := codes.Code(resp.GetCode()); code != codes.OK {
				return nil, status.Error(code, resp.GetMessage())
			}
			return resp.GetVersion(), nil
		}
	}
	resp, err := c.api.Lookup(ctx, req)
	return resp.GetVersion(), err
}

// get returns the open stream, or nil after starting to open one (unless
// it is too soon, or one is being opened).
func (l *lookupStreams) get(api abnpb.ABNClient) *lookupStream {
	if ls := l.current.Load(); ls != nil {
		return ls
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opening || l.unsupported || l.ctx.Err() != nil || time.Since(l.lastOpen) < reopenInterval {
		return nil
	}
	l.opening, l.lastOpen = true, time.Now()
	go l.open(api)
	return nil
}

// open opens a stream and receives its answers until it ends.
func (l *lookupStreams) open(api abnpb.ABNClient) {
	ctx, cancel := context.WithCancel(l.ctx)
	stream, err := api.Lookups(ctx)
	l.mu.Lock()
	l.opening = false
	l.mu.Unlock()
	if err != nil {
		cancel()
		l.failed(err)
		return
	}
	ls := &lookupStream{stream: stream, cancel: cancel, waiters: make(chan chan *abnpb.LookupsResponse, maxStreamed)}
	l.current.Store(ls)
	for {
		resp, err := stream.Recv()
		if err == nil {
			select {
			case w := <-ls.waiters:
				w <- resp
				continue
			default:
				err = errors.New("the service answered a lookup that was not asked")
			}
		}
		l.current.CompareAndSwap(ls, nil)
		l.failed(err)
		ls.end()
		return
	}
}

// failed notes why a stream could not be opened or ended.
func (l *lookupStreams) failed(err error) {
	if status.Code(err) == codes.Unimplemented {
		l.mu.Lock()
		l.unsupported = true
		l.mu.Unlock()
	}
}

// end closes the stream, and tells the lookups waiting for an answer that
// none will come.
func (ls *lookupStream) end() {
	ls.mu.Lock()
	ls.ended = true
	ls.mu.Unlock()
	ls.cancel()
	for {
		select {
		case w := <-ls.waiters:
			close(w)
		default:
			return
		}
	}
}

// lookup sends req on the stream and waits for its answer until ctx ends.
// answered is false when the stream could not take req, or ended before
// answering it: the caller may ask otherwise.
func (ls *lookupStream) lookup(ctx context.Context, req *abnpb.LookupRequest) (resp *abnpb.LookupsResponse, answered bool, err error) {
	w := make(chan *abnpb.LookupsResponse, 1)
	ls.mu.Lock()
	if ls.ended {
		ls.mu.Unlock()
		return nil, false, nil
	}
	select {
	case ls.waiters <- w:
	default:
		ls.mu.Unlock()
		return nil, false, nil
	}
	err = ls.stream.Send(req)
	ls.mu.Unlock()
	if err != nil {
		// The stream is broken; its receiver ends it.
		return nil, false, nil
	}
	select {
	case resp, ok := <-w:
		return resp, ok, nil
	case <-ctx.Done():
		return nil, true, status.FromContextError(ctx.Err()).Err()
	}
}
