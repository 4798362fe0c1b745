package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/internal/abntest/storetest"
	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/store"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// stores opens each kind of store, fresh, for a test.
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"bolt": func(t *testing.T) store.Store {
			s, err := store.Open(t.Context(), "bolt:"+filepath.Join(t.TempDir(), "abn.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"redis": func(t *testing.T) store.Store {
			s, err := store.Open(t.Context(), storetest.Redis(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

func TestWriteRead(t *testing.T) {
	recs := []store.Record{
		{App: "shop", Version: "v1", User: "ann", Metric: "sales", Value: 10},
		{App: "shop", Version: "v1", User: "ann", Metric: "sales", Value: 20},
		{App: "shop", Version: "v1", User: "bob", Metric: "sales", Value: -5},
		{App: "shop", Version: "v1", User: "bob", Metric: "clicks", Value: 1},
		{App: "shop", Version: "v2", User: "cat", Metric: "sales", Value: 0.5},
		{App: "other", Version: "v1", User: "ann", Metric: "sales", Value: 99},
	}
	want := &abn.Data{Versions: []abn.VersionData{
		{Name: "v1", Users: 2, Transactions: 4, Metrics: []abn.MetricData{
			{
				Name: "clicks", Values: stats.Moments{Count: 1, Sum: 1, SumSquares: 1}, Min: 1, Max: 1,
				Users: 1, UserSumSquares: 1, Buckets: map[int32]int64{stats.BucketOf(1): 1},
			},
			{
				Name: "sales", Values: stats.Moments{Count: 3, Sum: 25, SumSquares: 525}, Min: -5, Max: 20,
				// ann's total is 30, bob's -5.
				Users: 2, UserSumSquares: 925,
				Buckets: map[int32]int64{stats.BucketOf(10): 1, stats.BucketOf(20): 1, stats.BucketOf(-5): 1},
			},
		}},
		{Name: "v2", Users: 1, Transactions: 1, Metrics: []abn.MetricData{
			{
				Name: "sales", Values: stats.Moments{Count: 1, Sum: 0.5, SumSquares: 0.25}, Min: 0.5, Max: 0.5,
				Users: 1, UserSumSquares: 0.25, Buckets: map[int32]int64{stats.BucketOf(0.5): 1},
			},
		}},
	}}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			if err := s.Write(ctx, "", recs); err != nil {
				t.Fatal(err)
			}
			// Dan is assigned to v1 and Ann again, who counts once.
			if err := s.AddUsers(ctx, []store.Assignment{{App: "shop", Version: "v1", User: "dan"}, {App: "shop", Version: "v1", User: "ann"}}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Read(ctx, "shop")
			if err != nil {
				t.Fatal(err)
			}
			w := *want
			w.Versions = append([]abn.VersionData(nil), want.Versions...)
			w.Versions[0].Users = 2 + 1
			if diff := cmp.Diff(&w, got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
			got, err = s.Read(ctx, "unknown")
			if err != nil || len(got.Versions) != 0 {
				t.Errorf("Read(unknown) = %+v, %v; want no versions", got, err)
			}
		})
	}
}

// TestConcurrentWritersExactCounts has writers add values concurrently,
// through two store handles (two replicas for Redis, two commits queued
// for bolt), and checks that nothing is lost or counted twice.
func TestConcurrentWritersExactCounts(t *testing.T) {
	const writers, perWriter, batch = 16, 120, 4
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Go(func() {
					for i := 0; i < perWriter; i += batch {
						var recs []store.Record
						for j := range batch {
							user := fmt.Sprintf("user-%d", (w*perWriter+i+j)%50)
							recs = append(recs, store.Record{App: "shop", Version: "v1", User: user, Metric: "sales", Value: 2})
						}
						if err := s.Write(ctx, "", recs); err != nil {
							errs <- err
							return
						}
						if err := s.AddUsers(ctx, []store.Assignment{{App: "shop", Version: "v1", User: fmt.Sprintf("looker-%d", w)}}); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			got, err := s.Read(ctx, "shop")
			if err != nil {
				t.Fatal(err)
			}
			const n = writers * perWriter
			perUser := map[int]float64{}
			for k := range n {
				perUser[k%50] += 2
			}
			var userSumSquares float64
			for _, total := range perUser {
				userSumSquares += total * total
			}
			want := []abn.VersionData{{Name: "v1", Users: 50 + writers, Transactions: n, Metrics: []abn.MetricData{{
				Name: "sales", Values: stats.Moments{Count: n, Sum: 2 * n, SumSquares: 4 * n}, Min: 2, Max: 2,
				Users: 50, UserSumSquares: userSumSquares, Buckets: map[int32]int64{stats.BucketOf(2): n},
			}}}}
			if diff := cmp.Diff(want, got.Versions); diff != "" {
				t.Errorf("after %d concurrent writes (-want +got):\n%s", n, diff)
			}
		})
	}
}

func TestBoltIsDurableAndExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "abn.db")
	s, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Write(ctx, "", []store.Record{{App: "a", Version: "v", User: "u", Metric: "m", Value: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.OpenBolt(path); err == nil || !strings.Contains(err.Error(), "another process has it open") {
		t.Errorf("second open: %v, want refused", err)
	}
	want, err := s.Read(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, "", []store.Record{{App: "a", Version: "v", User: "u", Metric: "m", Value: 3}}); err != store.ErrClosed {
		t.Errorf("write after close: %v, want ErrClosed", err)
	}
	s, err = store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Read(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after reopening (-want +got):\n%s", diff)
	}
	if got.Versions[0].Metrics[0].Values.Sum != 3 {
		t.Errorf("sum %g, want 3", got.Versions[0].Metrics[0].Values.Sum)
	}
	// The users assigned before are remembered: u counts once.
	if err := s.AddUsers(ctx, []store.Assignment{{App: "a", Version: "v", User: "u"}, {App: "a", Version: "v", User: "w"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Read(ctx, "a"); got.Versions[0].Users != 2 {
		t.Errorf("after reopening, %d users, want u and w", got.Versions[0].Users)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"abn.db", `store "abn.db" has no scheme: use bolt:PATH or redis://HOST:PORT`},
		{"bolt:", "store bolt: has no path: use bolt:PATH, e.g. bolt:/var/lib/iter8-abn/abn.db"},
		{"mongo://x", `store scheme "mongo" is not supported: allowed are bolt, redis and rediss`},
		{"redis://127.0.0.1:1", "connecting to Redis at 127.0.0.1:1: "},
	} {
		_, err := store.Open(ctx, tc.url)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want %q", tc.url, err, tc.want)
		}
	}
}

// TestBatchesAreStoredOnce writes a batch again, serially and
// concurrently, and across a reopening: it counts once, per application.
func TestBatchesAreStoredOnce(t *testing.T) {
	recs := []store.Record{
		{App: "shop", Version: "v1", User: "ann", Metric: "sales", Value: 10},
		{App: "shop", Version: "v2", User: "bob", Metric: "sales", Value: 5},
		{App: "other", Version: "v1", User: "ann", Metric: "sales", Value: 1},
	}
	sum := func(t *testing.T, s store.Store, app string) float64 {
		t.Helper()
		d, err := s.Read(t.Context(), app)
		if err != nil {
			t.Fatal(err)
		}
		var total float64
		for _, v := range d.Versions {
			for _, m := range v.Metrics {
				total += m.Values.Sum
			}
		}
		return total
	}
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Go(func() { errs <- s.Write(ctx, "b1", recs) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Write(ctx, "b1", recs); err != nil {
				t.Fatal(err)
			}
			// A batch's applications are remembered apart: one stored
			// does not skip another.
			if err := s.Write(ctx, "b1", []store.Record{{App: "new", Version: "v1", User: "cat", Metric: "sales", Value: 7}}); err != nil {
				t.Fatal(err)
			}
			// Another batch, and writes without one, count.
			if err := s.Write(ctx, "b2", recs[:1]); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := s.Write(ctx, "", recs[2:]); err != nil {
					t.Fatal(err)
				}
			}
			for app, want := range map[string]float64{"shop": 25, "other": 3, "new": 7} {
				if got := sum(t, s, app); got != want {
					t.Errorf("%s sums %g, want %g", app, got, want)
				}
			}
		})
	}
	t.Run("bolt reopened", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "abn.db")
		s, err := store.OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(t.Context(), "b1", recs); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = store.OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Write(t.Context(), "b1", recs); err != nil {
			t.Fatal(err)
		}
		if got := sum(t, s, "shop"); got != 15 {
			t.Errorf("after reopening, the batch written again: shop sums %g, want 15", got)
		}
	})
}
