package store

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestBatchesExpire remembers a batch for BatchTTL, then forgets it, and
// prunes what expired.
func TestBatchesExpire(t *testing.T) {
	s, err := OpenBolt(filepath.Join(t.TempDir(), "abn.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(keyBatches)
		for _, step := range []struct {
			app, batch string
			at         time.Duration
			stored     bool
		}{
			{"a", "x", 0, false},
			{"a", "x", time.Minute, true},
			{"b", "x", time.Minute, false},
			{"a", "x", BatchTTL + time.Second, false},
			{"a", "x", BatchTTL + time.Minute, true},
		} {
			stored, err := rememberBatch(b, step.app, step.batch, t0.Add(step.at))
			if err != nil {
				return err
			}
			if stored != step.stored {
				t.Errorf("%s %s at %v: stored %v, want %v", step.app, step.batch, step.at, stored, step.stored)
			}
		}
		// b's batch dates from t0+1m, a's from t0+1h+1s.
		if err := pruneBatches(b, t0.Add(BatchTTL)); err != nil {
			return err
		}
		n := 0
		if err := b.ForEach(func(_, _ []byte) error { n++; return nil }); err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("after pruning, %d batches, want a's", n)
		}
		if b.Get([]byte("a\x00x")) == nil {
			t.Error("a's batch was pruned before it expired")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
