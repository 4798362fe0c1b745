package abn

import (
	"fmt"
	"math"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// NoReadyVersionError is returned by Assign when no version of the
// application is ready with a positive weight.
type NoReadyVersionError struct {
	// App is the application.
	App App
}

func (e *NoReadyVersionError) Error() string {
	var why []string
	for _, v := range e.App.Versions {
		switch {
		case !v.Ready:
			why = append(why, v.Name+" is not ready")
		case v.Weight == 0:
			why = append(why, v.Name+" has weight 0")
		}
	}
	return fmt.Sprintf("application %q has no version to assign: %s", e.App.Name, strings.Join(why, ", "))
}

// Assign returns the index in app.Versions of the version user is assigned
// to, by the weighted rendezvous hashing described in the package
// documentation; a zero Seed means SeedOf(app.Name). It allocates nothing
// unless it fails.
func Assign(app *App, user string) (int, error) {
	seed := app.Seed
	if seed == 0 {
		seed = SeedOf(app.Name)
	}
	best, bestScore := -1, 0.0
	for i := range app.Versions {
		v := &app.Versions[i]
		if !v.Ready || v.Weight == 0 {
			continue
		}
		if s := Score(seed, v.Name, v.Weight, user); best < 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return -1, &NoReadyVersionError{App: *app}
	}
	return best, nil
}

// Score is the rendezvous score of a version for a user: weight / -ln(u),
// where u in (0, 1) comes from the seeded XXH64 of the version's name, a
// zero byte and the user.
func Score(seed uint64, version string, weight uint32, user string) float64 {
	var d xxhash.Digest
	d.ResetWithSeed(seed)
	_, _ = d.WriteString(version)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(user)
	u := (float64(d.Sum64()>>11) + 0.5) * 0x1p-53
	return float64(weight) / -math.Log(u)
}
