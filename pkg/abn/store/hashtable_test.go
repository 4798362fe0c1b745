package store

import (
	"math/rand/v2"
	"testing"
)

func TestHashTable(t *testing.T) {
	var ht hashTable
	want := map[uint64]float64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		h := rng.Uint64() % 5000 // repeated keys, and the key 0
		if i%3 == 0 {
			h <<= 52 // keys alike in their low bits, which index the table
		}
		_, had := want[h]
		if added := ht.set(h, float64(i)); added == had {
			t.Fatalf("set(%d): added %v, but had %v", h, added, had)
		}
		want[h] = float64(i)
	}
	if ht.len() != len(want) {
		t.Errorf("len %d, want %d", ht.len(), len(want))
	}
	for h, v := range want {
		if got, ok := ht.get(h); !ok || got != v {
			t.Errorf("get(%d) = %g, %v; want %g", h, got, ok, v)
		}
	}
	got := map[uint64]float64{}
	ht.each(func(h uint64, v float64) { got[h] = v })
	if len(got) != len(want) {
		t.Errorf("each visited %d keys, want %d", len(got), len(want))
	}
	for _, h := range []uint64{5001, 1 << 63} {
		if _, ok := ht.get(h); ok {
			t.Errorf("found %d, never set", h)
		}
	}

	set := newHashSet()
	for h := range want {
		if !set.set(h, 1) || set.set(h, 1) {
			t.Fatalf("set of %d: not added once", h)
		}
	}
	if set.len() != len(want) || set.vals != nil {
		t.Errorf("set: len %d, want %d; values kept: %v", set.len(), len(want), set.vals != nil)
	}
	for h := range want {
		if _, ok := set.get(h); !ok {
			t.Errorf("set lacks %d", h)
		}
	}
}
