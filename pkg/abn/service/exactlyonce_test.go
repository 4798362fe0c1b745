package service_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
	"github.com/iter8-tools/iter8/pkg/abn/service"
)

// replyDropper is a gRPC proxy on loopback in front of the service's
// WriteMetrics: it forwards every call, and drops the reply of every other
// one after the service has answered it, as a connection lost at that
// moment would. Without identities (forget), it also strips the batches'
// identity, as a client from before they existed would send.
type replyDropper struct {
	abnpb.UnimplementedABNServer
	upstream abnpb.ABNClient
	forget   bool
	calls    atomic.Int64
	dropped  atomic.Int64
}

func (p *replyDropper) WriteMetrics(ctx context.Context, req *abnpb.WriteMetricsRequest) (*abnpb.WriteMetricsResponse, error) {
	if p.forget {
		req.Batch = ""
	}
	resp, err := p.upstream.WriteMetrics(ctx, req)
	if err != nil {
		return nil, err
	}
	if p.calls.Add(1)%2 == 1 {
		p.dropped.Add(1)
		return nil, status.Error(codes.Unavailable, "the proxy dropped the reply")
	}
	return resp, nil
}

// serveDropper starts a replyDropper in front of in until the test ends
// and returns its address.
func serveDropper(t *testing.T, p *replyDropper) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	abnpb.RegisterABNServer(srv, p)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// TestWritesCountOnceWhenRepliesAreLost sends 200 values in batches of 20
// through the proxy, which loses the reply to every first send of a batch:
// the SDK sends each batch again, and the service stores each value once,
// on both stores. Without the batches' identity, the same run counts
// every value twice, which is what the test would see without the fix.
func TestWritesCountOnceWhenRepliesAreLost(t *testing.T) {
	const values, batch = 200, 20
	for name, open := range stores {
		for _, forget := range []bool{false, true} {
			mode := "with identities"
			if forget {
				mode = "without identities"
			}
			t.Run(name+" "+mode, func(t *testing.T) {
				in := start(t, apps(t), open(t), service.Options{})
				p := &replyDropper{upstream: in.client, forget: forget}
				c, err := sdk.New(serveDropper(t, p), sdk.WithBatchSize(batch), sdk.WithFlushInterval(time.Hour),
					sdk.WithErrorHandler(func(error) {}))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close(context.Background()) })
				ctx := t.Context()
				for i := range values {
					if err := c.WriteMetric(ctx, "shop", user(i), "sales", 1); err != nil {
						t.Fatal(err)
					}
				}
				// Each flush fails at the first dropped reply: at most
				// two flushes per batch.
				for try := 0; c.Flush(ctx) != nil; try++ {
					if try == 2*values/batch {
						t.Fatalf("the values were not all sent: %+v", c.Stats())
					}
				}
				res, err := in.svc.Results(ctx, "shop")
				if err != nil {
					t.Fatal(err)
				}
				var n int64
				for _, v := range res.Versions {
					for _, m := range v.Metrics {
						n += m.Values.Count
					}
				}
				want := int64(values)
				if forget {
					want = 2 * values
				}
				st := c.Stats()
				t.Logf("%d values, %d replies dropped: %d counted (%d twice); SDK stats %+v", values, p.dropped.Load(), n, n-values, st)
				if n != want || p.dropped.Load() != values/batch || st.Stored != values || st.Queued != 0 || st.FailedSends != values/batch {
					t.Errorf("%d values counted, %d replies dropped, SDK stats %+v; want %d counted, %d dropped, all %d stored after %d failed sends",
						n, p.dropped.Load(), st, want, values/batch, values, values/batch)
				}
			})
		}
	}
}
