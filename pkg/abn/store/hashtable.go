package store

// hashTable maps 64-bit hashes to float64 values, or is a set of them (see
// newHashSet), with open addressing and linear probing: 16 bytes a slot (8
// for a set), at most 3/4 full, so 21 to 43 bytes an entry (11 to 21 for a
// set), about half of what a Go map takes. Keys are hashes already, so
// their low bits index the table. The key 0 marks an empty slot; the hash 0
// is kept apart.
type hashTable struct {
	keys []uint64
	vals []float64
	n    int
	// keysOnly makes a set: no values are kept.
	keysOnly bool
	// zero and zeroVal hold the key 0.
	zero    bool
	zeroVal float64
}

// newHashSet returns a hashTable that keeps no values.
func newHashSet() *hashTable { return &hashTable{keysOnly: true} }

// get returns the value of h and whether h is present.
func (t *hashTable) get(h uint64) (float64, bool) {
	if h == 0 {
		return t.zeroVal, t.zero
	}
	if len(t.keys) == 0 {
		return 0, false
	}
	mask := uint64(len(t.keys) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case h:
			if t.keysOnly {
				return 0, true
			}
			return t.vals[i], true
		case 0:
			return 0, false
		}
	}
}

// set sets the value of h and reports whether h is new.
func (t *hashTable) set(h uint64, v float64) bool {
	if h == 0 {
		added := !t.zero
		t.zero, t.zeroVal = true, v
		return added
	}
	if 4*(t.n+1) > 3*len(t.keys) {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case h:
			if !t.keysOnly {
				t.vals[i] = v
			}
			return false
		case 0:
			t.keys[i] = h
			if !t.keysOnly {
				t.vals[i] = v
			}
			t.n++
			return true
		}
	}
}

// len returns the number of keys.
func (t *hashTable) len() int {
	if t.zero {
		return t.n + 1
	}
	return t.n
}

// each calls f with every key and value.
func (t *hashTable) each(f func(h uint64, v float64)) {
	if t.zero {
		f(0, t.zeroVal)
	}
	for i, k := range t.keys {
		if k != 0 {
			var v float64
			if !t.keysOnly {
				v = t.vals[i]
			}
			f(k, v)
		}
	}
}

func (t *hashTable) grow() {
	size := 2 * len(t.keys)
	if size == 0 {
		size = 64
	}
	old, oldVals := t.keys, t.vals
	t.keys, t.n = make([]uint64, size), 0
	if !t.keysOnly {
		t.vals = make([]float64, size)
	}
	for i, k := range old {
		if k != 0 {
			var v float64
			if oldVals != nil {
				v = oldVals[i]
			}
			t.set(k, v)
		}
	}
}
