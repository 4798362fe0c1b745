package abn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iter8-tools/iter8/pkg/abn"
)

func TestParseApps(t *testing.T) {
	doc := `applications:
- name: checkout
  versions:
  - {name: v1, weight: 60}
  - {name: v2, weight: 40, ready: false, headerValue: blue}
- name: search
  seed: 7
  baseline: b
  versions: [{name: a}, {name: b}]
`
	s, err := abn.ParseApps("apps.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"checkout", "search"}, s.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	got, ok := s.Application("checkout")
	want := abn.App{Name: "checkout", Seed: abn.SeedOf("checkout"), Baseline: "v1", Versions: []abn.Version{
		{Name: "v1", Weight: 60, Ready: true, HeaderValue: "v1"},
		{Name: "v2", Weight: 40, Ready: false, HeaderValue: "blue"},
	}}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("checkout (-want +got):\n%s", diff)
	}
	got, _ = s.Application("search")
	want = abn.App{Name: "search", Seed: 7, Baseline: "b", Versions: []abn.Version{
		{Name: "a", Weight: 1, Ready: true, HeaderValue: "a"},
		{Name: "b", Weight: 1, Ready: true, HeaderValue: "b"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("search (-want +got):\n%s", diff)
	}
	if _, ok := s.Application("cart"); ok {
		t.Error("unknown application found")
	}
}

func TestParseAppsReportsEveryProblem(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"applications: [{name: a, versions: [{name: v1, wieght: 2}]}]", `apps.yaml: error unmarshaling JSON: while decoding JSON: json: unknown field "wieght"`},
		{`applications:
- name: ""
  versions: []
- name: b
  baseline: v9
  versions: [{name: v1}, {name: v1}, {name: "` + strings.Repeat("x", 257) + `"}]
- name: b
  versions: [{name: v1}]
`, `apps.yaml is not a valid applications file:
  applications[0].name: must not be empty
  applications[0].versions: must list at least one version
  applications[1].versions[1].name: duplicate version "v1"
  applications[1].versions[2].name: is 257 bytes long: the limit is 256
  applications[1].baseline: "v9" is not one of the versions
  applications[2].name: duplicate application "b"`},
	}
	for _, tc := range tests {
		_, err := abn.ParseApps("apps.yaml", []byte(tc.doc))
		if err == nil || err.Error() != tc.want {
			t.Errorf("error:\n%v\nwant:\n%s", err, tc.want)
		}
	}
}

func TestReadAppsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.yaml")
	if _, err := abn.ReadAppsFile(path); err == nil || !strings.HasPrefix(err.Error(), "reading applications: open ") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("applications: [{name: a, versions: [{name: v1}]}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := abn.ReadAppsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Application("a"); !ok {
		t.Error("application a not read")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		app, user, metric string
		value             float64
		want              string
	}{
		{"shop", "u", "sales", 1, ""},
		{"", "u", "sales", 1, "application: must not be empty"},
		{"shop", "", "sales", 1, "user: must not be empty"},
		{"shop", "u", "", 1, "metric: must not be empty"},
		{"shop", strings.Repeat("é", 129), "sales", 1, "user: is 258 bytes long: the limit is 256"},
		{"shop", "u\xff", "sales", 1, "user: must be valid UTF-8"},
		{"shop", "u", "sa\nles", 1, "metric: must not contain control characters (U+000A at byte 2)"},
		{"shop", "u", "sales", nan(), `value of metric "sales": NaN is not allowed: values must be finite numbers`},
		{"shop", "u", "sales", inf(-1), `value of metric "sales": -Inf is not allowed: values must be finite numbers`},
	}
	for _, tc := range tests {
		err := abn.ValidateMetric(tc.app, tc.user, tc.metric, tc.value)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("ValidateMetric(%q, %q, %q, %g) = %q, want %q", tc.app, tc.user, tc.metric, tc.value, got, tc.want)
		}
	}
}
