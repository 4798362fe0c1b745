package abn

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"sigs.k8s.io/yaml"
)

// HeaderName is the request header by which a Route with the abn strategy
// sends a request to a version (the Route API's VersionHeader). A front end
// sets it to Version.HeaderValue on its requests to the back end.
const HeaderName = "x-iter8-version"

// Applications gives the service the applications users are assigned in:
// their versions, weights and readiness. The service calls Application on
// every Lookup and WriteMetric, from many goroutines at once: implementations
// must be safe for concurrent use and should answer from memory (a watch
// cache, a snapshot behind an atomic pointer), never block on I/O.
//
// The zero values of App's optional fields (Seed, Baseline, HeaderValue)
// mean their defaults, so an implementation may leave them out; the
// assignment depends only on the application's name (or Seed) and its
// versions' names, weights and readiness, so two implementations that agree
// on those assign users alike.
//
// Static is the implementation for tests, local runs and fixed setups; the
// Route-backed one watches Route objects and judges versions' readiness.
type Applications interface {
	// Application returns the application with the given name, and false
	// when there is none. The returned App must not be modified by the
	// caller, nor later by the implementation (replace it instead).
	Application(name string) (App, bool)
	// Names returns the names of the applications, sorted.
	Names() []string
}

// App is an application: the versions users are assigned to.
type App struct {
	// Name of the application.
	Name string `json:"name"`
	// Seed makes the application's assignment independent of other
	// applications'. Default (0): SeedOf(Name).
	Seed uint64 `json:"seed,omitempty"`
	// Baseline is the version the others are compared with (a Route's
	// primary). Default: the first version.
	Baseline string `json:"baseline,omitempty"`
	// Versions in index order.
	Versions []Version `json:"versions"`
}

// Version is one version of an application.
type Version struct {
	// Name of the version; unique in its application. It feeds the
	// assignment hash: renaming a version reassigns its users.
	Name string `json:"name"`
	// Weight is the version's relative share of users; 0 means it gets
	// none.
	Weight uint32 `json:"weight"`
	// Ready says whether the version may be assigned users. A user of a
	// version that is not ready is assigned to another until it is ready
	// again, then comes back.
	Ready bool `json:"ready"`
	// HeaderValue is the value of HeaderName that routes a request to the
	// version. Default: Name.
	HeaderValue string `json:"headerValue,omitempty"`
}

// SeedOf is the default seed of an application: XXH64 of its name, seed 0.
func SeedOf(app string) uint64 { return xxhash.Sum64String(app) }

// Normalize fills in the defaults: the seed, the baseline and the header
// values.
func (a *App) Normalize() {
	if a.Seed == 0 {
		a.Seed = SeedOf(a.Name)
	}
	if a.Baseline == "" && len(a.Versions) > 0 {
		a.Baseline = a.Versions[0].Name
	}
	for i := range a.Versions {
		if a.Versions[i].HeaderValue == "" {
			a.Versions[i].HeaderValue = a.Versions[i].Name
		}
	}
}

// Validate reports every problem of a normalized App, with field paths
// under prefix (e.g. "applications[0]").
func (a *App) Validate(prefix string) error {
	var errs []error
	if err := ValidateName("name", a.Name); err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", prefix, err))
	}
	if len(a.Versions) == 0 {
		errs = append(errs, fmt.Errorf("%s.versions: must list at least one version", prefix))
	}
	seen := map[string]bool{}
	for i, v := range a.Versions {
		p := fmt.Sprintf("%s.versions[%d]", prefix, i)
		if err := ValidateName("name", v.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s.%w", p, err))
		}
		if seen[v.Name] {
			errs = append(errs, fmt.Errorf("%s.name: duplicate version %q", p, v.Name))
		}
		seen[v.Name] = true
	}
	if a.Baseline != "" && !seen[a.Baseline] {
		errs = append(errs, fmt.Errorf("%s.baseline: %q is not one of the versions", prefix, a.Baseline))
	}
	return errors.Join(errs...)
}

// Static is a fixed set of applications, for tests, local runs and setups
// without Routes. It is safe for concurrent use.
type Static struct {
	apps map[string]App
}

// NewStatic normalizes and validates apps and returns them as Applications.
func NewStatic(apps ...App) (*Static, error) {
	s := &Static{apps: map[string]App{}}
	var errs []error
	seen := map[string]bool{}
	for i, a := range apps {
		a.Versions = slices.Clone(a.Versions)
		a.Normalize()
		p := fmt.Sprintf("applications[%d]", i)
		if err := a.Validate(p); err != nil {
			errs = append(errs, err)
		}
		if seen[a.Name] {
			errs = append(errs, fmt.Errorf("%s.name: duplicate application %q", p, a.Name))
		}
		seen[a.Name] = true
		s.apps[a.Name] = a
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Application returns the named application.
func (s *Static) Application(name string) (App, bool) {
	a, ok := s.apps[name]
	return a, ok
}

// Names returns the names of the applications, sorted.
func (s *Static) Names() []string {
	names := make([]string, 0, len(s.apps))
	for n := range s.apps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// AppsFile is the format of an applications file (--apps):
//
//	applications:
//	- name: checkout
//	  versions:
//	  - {name: v1, weight: 50}
//	  - {name: v2, weight: 50, ready: false}
//
// A version is ready unless it says otherwise.
type AppsFile struct {
	// Applications are the applications.
	Applications []FileApp `json:"applications"`
}

// FileApp is an application in an applications file.
type FileApp struct {
	// Name of the application.
	Name string `json:"name"`
	// Seed of the assignment; default: SeedOf(Name).
	Seed uint64 `json:"seed,omitempty"`
	// Baseline version; default: the first.
	Baseline string `json:"baseline,omitempty"`
	// Versions in index order.
	Versions []FileVersion `json:"versions"`
}

// FileVersion is a version in an applications file.
type FileVersion struct {
	// Name of the version.
	Name string `json:"name"`
	// Weight is the version's relative share of users. Default: 1.
	Weight *uint32 `json:"weight,omitempty"`
	// Ready says whether the version may be assigned. Default: true.
	Ready *bool `json:"ready,omitempty"`
	// HeaderValue routes requests to the version. Default: Name.
	HeaderValue string `json:"headerValue,omitempty"`
}

// ParseApps parses an applications file strictly (unknown fields are
// errors) and returns its applications; name is used in errors.
func ParseApps(name string, data []byte) (*Static, error) {
	var f AppsFile
	if err := yaml.UnmarshalStrict(bytes.TrimSpace(data), &f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	apps := make([]App, 0, len(f.Applications))
	for _, fa := range f.Applications {
		a := App{Name: fa.Name, Seed: fa.Seed, Baseline: fa.Baseline}
		for _, fv := range fa.Versions {
			v := Version{Name: fv.Name, Weight: 1, Ready: true, HeaderValue: fv.HeaderValue}
			if fv.Weight != nil {
				v.Weight = *fv.Weight
			}
			if fv.Ready != nil {
				v.Ready = *fv.Ready
			}
			a.Versions = append(a.Versions, v)
		}
		apps = append(apps, a)
	}
	s, err := NewStatic(apps...)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid applications file:\n  %s", name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return s, nil
}

// ReadAppsFile reads and parses an applications file.
func ReadAppsFile(path string) (*Static, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading applications: %w", err)
	}
	return ParseApps(path, b)
}
