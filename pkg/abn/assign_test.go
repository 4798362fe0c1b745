package abn_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/pkg/abn"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// vectorsFile holds the published test vectors of the assignment.
const vectorsFile = "testdata/assignment-vectors.json"

// Vectors is the format of the test vectors file.
type Vectors struct {
	Algorithm string   `json:"algorithm"`
	Vectors   []Vector `json:"vectors"`
}

// Vector is one test case: an application's seed and ready versions, a
// user, and the version the user gets, with each version's hash and score
// for implementers to check each step.
type Vector struct {
	Seed     string          `json:"seed"`
	Versions []VectorVersion `json:"versions"`
	User     string          `json:"user"`
	Want     string          `json:"version"`
}

// VectorVersion is a version of a vector.
type VectorVersion struct {
	Name   string  `json:"name"`
	Weight uint32  `json:"weight"`
	Hash   string  `json:"xxh64"`
	Score  float64 `json:"score"`
}

func vectors() Vectors {
	v := Vectors{Algorithm: "For each version with weight w > 0: h = XXH64(name + \"\\x00\" + user, seed); " +
		"u = (float64(h >> 11) + 0.5) / 2^53; score = w / -ln(u). The version with the largest score wins; " +
		"ties go to the lowest index. Seeds and hashes are decimal uint64 strings; the default seed of an " +
		"application is XXH64(name, 0)."}
	weightSets := [][]uint32{{1, 1}, {50, 50}, {90, 10}, {1, 2, 3}, {0, 5, 5}, {100}, {20, 20, 20, 20, 20}}
	seeds := []uint64{abn.SeedOf("checkout"), 1, 0xdeadbeefcafef00d}
	users := []string{"alice", "bob", "user-1", "user-2", "user-3", "émile", "1f0c2c9e-8a5b-4a4b-9b59-0d7e6c1e9a11", "x"}
	i := 0
	for _, seed := range seeds {
		for _, ws := range weightSets {
			for k := 0; k < 3; k++ {
				user := users[i%len(users)]
				i++
				app := abn.App{Name: "checkout", Seed: seed}
				vec := Vector{Seed: strconv.FormatUint(seed, 10), User: user}
				for j, w := range ws {
					name := fmt.Sprintf("v%d", j+1)
					app.Versions = append(app.Versions, abn.Version{Name: name, Weight: w, Ready: true})
					vv := VectorVersion{Name: name, Weight: w, Hash: strconv.FormatUint(hash(seed, name, user), 10)}
					if w > 0 {
						vv.Score = abn.Score(seed, name, w, user)
					}
					vec.Versions = append(vec.Versions, vv)
				}
				app.Normalize()
				idx, err := abn.Assign(&app, user)
				if err != nil {
					panic(err)
				}
				vec.Want = app.Versions[idx].Name
				v.Vectors = append(v.Vectors, vec)
			}
		}
	}
	return v
}

// hash is XXH64 of name, a zero byte and user, by the one-shot function
// rather than the streaming digest Score uses.
func hash(seed uint64, name, user string) uint64 {
	d := xxhash.NewWithSeed(seed)
	_, _ = d.WriteString(name + "\x00" + user)
	return d.Sum64()
}

// TestAssignmentVectors checks the assignment against the published test
// vectors (go test -update rewrites them: only do that for a deliberate,
// documented change of the algorithm, since every SDK depends on them).
func TestAssignmentVectors(t *testing.T) {
	got := vectors()
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var want Vectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("assignment differs from %s (-want +got):\n%s", vectorsFile, diff)
	}
	// The vectors follow from their own hashes, as another SDK would
	// compute them.
	for _, v := range want.Vectors {
		best, bestScore := "", 0.0
		for _, vv := range v.Versions {
			h, _ := strconv.ParseUint(vv.Hash, 10, 64)
			if vv.Weight == 0 {
				continue
			}
			u := (float64(h>>11) + 0.5) / (1 << 53)
			if s := float64(vv.Weight) / -math.Log(u); best == "" || s > bestScore {
				best, bestScore = vv.Name, s
			}
		}
		if best != v.Want {
			t.Errorf("seed %s user %q: recomputed %s, vector says %s", v.Seed, v.User, best, v.Want)
		}
	}
	if abn.SeedOf("checkout") != xxhash.Sum64String("checkout") {
		t.Error("default seed is not XXH64 of the name")
	}
	// The hash is XXH64 as its specification's reference values say.
	for in, want := range map[string]uint64{"": 0xEF46DB3751D8E999, "abc": 0x44BC2CF5AD770999} {
		if got := xxhash.Sum64String(in); got != want {
			t.Errorf("XXH64(%q) = %#x, want %#x", in, got, want)
		}
	}
}

func app(weights ...uint32) abn.App {
	a := abn.App{Name: "shop"}
	for i, w := range weights {
		a.Versions = append(a.Versions, abn.Version{Name: fmt.Sprintf("v%d", i+1), Weight: w, Ready: true})
	}
	a.Normalize()
	return a
}

func assignAll(t *testing.T, a abn.App, n int) []int {
	t.Helper()
	out := make([]int, n)
	for u := range n {
		i, err := abn.Assign(&a, "user-"+strconv.Itoa(u))
		if err != nil {
			t.Fatal(err)
		}
		out[u] = i
	}
	return out
}

// within checks a binomial count: |k - np| ≤ 5σ, σ = √(np(1-p)). For a
// correct scheme a failure has probability below 6·10⁻⁷ per check (the
// users are fixed, so the test is deterministic either way).
func within(t *testing.T, what string, k, n int, p float64) {
	t.Helper()
	mean, sigma := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	if math.Abs(float64(k)-mean) > 5*sigma {
		t.Errorf("%s: %d of %d, want %.0f ± %.0f (5σ)", what, k, n, mean, 5*sigma)
	}
}

func TestWeightSharesAreMet(t *testing.T) {
	const n = 100000
	for _, ws := range [][]uint32{{50, 50}, {90, 10}, {1, 2, 3, 4}, {99, 1}} {
		got := assignAll(t, app(ws...), n)
		counts := make([]int, len(ws))
		for _, i := range got {
			counts[i]++
		}
		var total uint32
		for _, w := range ws {
			total += w
		}
		for i, w := range ws {
			within(t, fmt.Sprintf("weights %v: v%d", ws, i+1), counts[i], n, float64(w)/float64(total))
		}
	}
}

// TestChangesMoveOnlyTheUsersTheyMust changes weights and readiness and
// checks that users move only to or from the version changed, and as many
// as the change requires.
func TestChangesMoveOnlyTheUsersTheyMust(t *testing.T) {
	const n = 100000
	tests := []struct {
		name          string
		before, after abn.App
		// moved is the fraction of users that must move.
		moved float64
		// allowed says whether a move from version i to j may happen.
		allowed func(from, to int) bool
	}{
		{"50/50 to 40/60", app(50, 50), app(40, 60), 0.1, func(f, to int) bool { return f == 0 && to == 1 }},
		{"add a third version", app(1, 1), app(1, 1, 1), 1.0 / 3, func(_, to int) bool { return to == 2 }},
		{"weight of v3 from 0 to 2", app(1, 1, 0), app(1, 1, 2), 0.5, func(_, to int) bool { return to == 2 }},
		{"v2 not ready", app(1, 1, 1), notReady(app(1, 1, 1), 1), 1.0 / 3, func(f, _ int) bool { return f == 1 }},
		{"v2 ready again", notReady(app(1, 1, 1), 1), app(1, 1, 1), 1.0 / 3, func(_, to int) bool { return to == 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, after := assignAll(t, tc.before, n), assignAll(t, tc.after, n)
			moved := 0
			for u := range n {
				if before[u] == after[u] {
					continue
				}
				moved++
				if !tc.allowed(before[u], after[u]) {
					t.Fatalf("user-%d moved from v%d to v%d", u, before[u]+1, after[u]+1)
				}
			}
			within(t, "moved", moved, n, tc.moved)
		})
	}
}

func notReady(a abn.App, i int) abn.App {
	a.Versions = append([]abn.Version(nil), a.Versions...)
	a.Versions[i].Ready = false
	return a
}

func TestSeedsDiffer(t *testing.T) {
	a, b := app(1, 1), app(1, 1)
	b.Seed = 42
	same := 0
	ga, gb := assignAll(t, a, 10000), assignAll(t, b, 10000)
	for u := range ga {
		if ga[u] == gb[u] {
			same++
		}
	}
	// Independent assignments agree half of the time.
	within(t, "same version under two seeds", same, 10000, 0.5)
}

func TestNoVersionToAssign(t *testing.T) {
	a := app(0, 3)
	a.Versions[1].Ready = false
	_, err := abn.Assign(&a, "u")
	want := `application "shop" has no version to assign: v1 has weight 0, v2 is not ready`
	if err == nil || err.Error() != want {
		t.Errorf("Assign = %v, want %q", err, want)
	}
}

func BenchmarkAssign(b *testing.B) {
	for _, ws := range [][]uint32{{1, 1}, {1, 1, 1, 1, 1}} {
		a := app(ws...)
		users := make([]string, 1024)
		for i := range users {
			users[i] = "user-" + strconv.Itoa(i)
		}
		b.Run(fmt.Sprintf("versions=%d", len(ws)), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := abn.Assign(&a, users[i&1023]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		_ = os.MkdirAll(filepath.Dir(vectorsFile), 0o755)
	}
	os.Exit(m.Run())
}

func nan() float64         { return math.NaN() }
func inf(sign int) float64 { return math.Inf(sign) }

// An App straight from another Applications, not normalized, is assigned
// as the normalized one.
func TestZeroSeedIsTheDefault(t *testing.T) {
	raw := abn.App{Name: "shop", Versions: []abn.Version{{Name: "a", Weight: 1, Ready: true}, {Name: "b", Weight: 1, Ready: true}}}
	norm := raw
	norm.Normalize()
	for u := range 1000 {
		i, _ := abn.Assign(&raw, user(u))
		j, _ := abn.Assign(&norm, user(u))
		if i != j {
			t.Fatalf("%s: %d without the seed, %d with it", user(u), i, j)
		}
	}
}

func user(i int) string { return "user-" + strconv.Itoa(i) }
