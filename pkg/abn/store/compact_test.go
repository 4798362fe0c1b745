package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestBoltCompactsTotals writes many values for a few users, one commit at
// a time, so that the log of totals is compacted several times, and checks
// that the totals survive compaction and reopening.
func TestBoltCompactsTotals(t *testing.T) {
	defer func(n int) { chunkEntries = n }(chunkEntries)
	chunkEntries = 2
	path := filepath.Join(t.TempDir(), "abn.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	totals := map[string]float64{}
	for i := range 60 {
		user := fmt.Sprintf("u%d", i%4)
		if err := s.Write(ctx, "", []Record{{App: "a", Version: "v", User: user, Metric: "m", Value: float64(i)}}); err != nil {
			t.Fatal(err)
		}
		totals[user] += float64(i)
	}
	logged := func() (entries int, counter uint64) {
		_ = s.db.View(func(tx *bolt.Tx) error {
			mb := tx.Bucket(keyApps).Bucket([]byte("a")).Bucket([]byte("v")).Bucket(keyMetrics).Bucket([]byte("m"))
			counter = getUint(mb, keyLogged)
			return forEachEntry(mb.Bucket(keyUsers), 16, func([]byte) { entries++ })
		})
		return entries, counter
	}
	if entries, counter := logged(); entries > 2*4+chunkEntries || uint64(entries) != counter {
		t.Errorf("the log holds %d entries (counted %d) for 4 users: not compacted", entries, counter)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = OpenBolt(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for user, want := range totals {
		k := [3]string{"a", "v", "m"}
		got, ok := s.totals[k].get(hashOf(user))
		if !ok || got != want {
			t.Errorf("total of %s after reopening: %g, want %g", user, got, want)
		}
	}
	// One more value: the sum of squares of the totals follows from them.
	if err := s.Write(ctx, "", []Record{{App: "a", Version: "v", User: "u0", Metric: "m", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	totals["u0"]++
	var want float64
	for _, v := range totals {
		want += v * v
	}
	d, err := s.Read(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Versions[0].Metrics[0].UserSumSquares; got != want || d.Versions[0].Metrics[0].Users != 4 || d.Versions[0].Users != 4 {
		t.Errorf("user sum of squares %g, want %g; data %+v", got, want, d.Versions[0])
	}
}
