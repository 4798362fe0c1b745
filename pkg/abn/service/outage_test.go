package service_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iter8-tools/iter8/internal/abntest/storetest"
	"github.com/iter8-tools/iter8/pkg/abn/abnpb"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
	"github.com/iter8-tools/iter8/pkg/abn/service"
)

// TestRedisOutage stops the service's Redis mid-run: lookups keep
// answering, with the same versions; a write through the API is refused
// with Unavailable; the SDK keeps the values it could not send, and its
// counters say so; once Redis is back, they are stored, each once.
func TestRedisOutage(t *testing.T) {
	redis := storetest.StartRedis(t)
	in := start(t, apps(t), openRedis(t, redis.URL), service.Options{AssignmentFlushInterval: 20 * time.Millisecond})
	c, err := sdk.New(in.Addr, sdk.WithFlushInterval(20*time.Millisecond), sdk.WithCacheTTL(0), sdk.WithErrorHandler(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx := t.Context()
	before := map[string]string{}
	write := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := c.WriteMetric(ctx, "shop", user(i), "sales", 2); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 100 {
		before[user(i)] = lookup(t, in.client, "shop", user(i)).GetName()
	}
	write(0, 100)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	redis.Stop()
	for i := range 100 {
		if got := lookup(t, in.client, "shop", user(i)).GetName(); got != before[user(i)] {
			t.Errorf("during the outage %s got %s, before %s", user(i), got, before[user(i)])
		}
	}
	_, err = in.client.WriteMetric(ctx, &abnpb.WriteMetricRequest{Application: "shop", User: user(1), Metric: "sales", Value: 1})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("WriteMetric during the outage: %v, want Unavailable", err)
	}
	write(100, 150)
	// A send fails only once the service's Redis client has given up
	// dialing, which takes it a while: wait for the first failure (at
	// most 30 s), then a flush cannot succeed either.
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats().FailedSends == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no send failed during the outage: %+v", c.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	fctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = c.Flush(fctx)
	cancel()
	if st := c.Stats(); err == nil || st.Queued != 50 || st.Stored != 100 || st.Rejected != 0 || st.QueueFull != 0 {
		t.Errorf("during the outage: flush %v, stats %+v; want 50 queued, 100 stored", err, st)
	}

	redis.Restart()
	deadline = time.Now().Add(30 * time.Second)
	for c.Flush(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the values were not sent after Redis came back: %+v", c.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := c.Stats(); st.Queued != 0 || st.Stored != 150 {
		t.Errorf("after the outage: %+v; want 150 stored, none queued", st)
	}
	res, err := in.svc.Results(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	var sum float64
	for _, v := range res.Versions {
		for _, m := range v.Metrics {
			n, sum = n+m.Values.Count, sum+m.Values.Sum
		}
	}
	if n != 150 || sum != 300 {
		t.Errorf("stored %d values summing %g; want each of the 150 once (300)", n, sum)
	}
}
