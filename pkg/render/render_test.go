package render_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/internal/manifest"
	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCase renders testdata/routes/<route>.yaml with the ready versions
// into testdata/golden/<name>.yaml.
type goldenCase struct {
	name, route string
	ready       []string // nil: every version
	step        *render.Step
}

// goldenCases are a case per Route file with every version ready, and the
// cases where some versions are not.
func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	files, err := filepath.Glob("testdata/routes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Route files: %v", err)
	}
	var cases []goldenCase
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		cases = append(cases, goldenCase{name: name, route: name})
	}
	return append(cases,
		goldenCase{"istio-blue-green-v2-not-ready", "istio-blue-green", []string{"v1"}, nil},
		goldenCase{"istio-blue-green-primary-not-ready", "istio-blue-green", []string{"v2"}, nil},
		goldenCase{"istio-blue-green-none-ready", "istio-blue-green", []string{}, nil},
		goldenCase{"istio-canary-v2-not-ready", "istio-canary", []string{"v1"}, nil},
		goldenCase{"gateway-api-mirror-v2-not-ready", "gateway-api-mirror", []string{"v1"}, nil},
		goldenCase{"gateway-api-abn-none-ready", "gateway-api-abn", []string{}, nil},
		goldenCase{"traefik-mirror-v2-not-ready", "traefik-mirror", []string{"v1"}, nil},
		goldenCase{"traefik-blue-green-primary-not-ready", "traefik-blue-green", []string{"v2"}, nil},
		goldenCase{"kserve-modelmesh-abn-v2-not-ready", "kserve-modelmesh-abn", []string{"v1", "v3"}, nil},
		// Rollouts at a step: a canary's match alone, widened to a share
		// of the rest, and withdrawn (rolled back); a blue-green's weight.
		goldenCase{"istio-canary-rollout-step-1", "istio-canary-rollout", nil, &render.Step{Label: "v2 step 1/3"}},
		goldenCase{"istio-canary-rollout-widened", "istio-canary-rollout", nil, &render.Step{Weight: 30, Widened: true, Label: "v2 step 2/3"}},
		goldenCase{"istio-canary-rollout-rolled-back", "istio-canary-rollout", nil, &render.Step{Withdrawn: true, Label: "v2 rolled back at step 2/3"}},
		goldenCase{"gateway-api-canary-rollout-widened", "gateway-api-canary-rollout", nil, &render.Step{Weight: 30, Widened: true, Label: "v2 step 2/3"}},
		goldenCase{"traefik-canary-rollout-widened", "traefik-canary-rollout", nil, &render.Step{Weight: 30, Widened: true, Label: "v2 step 2/3"}},
		goldenCase{"traefik-canary-rollout-rolled-back", "traefik-canary-rollout", nil, &render.Step{Withdrawn: true, Label: "v2 rolled back at step 2/3"}},
		goldenCase{"istio-blue-green-rollout-step-2", "istio-blue-green-rollout", nil, &render.Step{Weight: 40, Widened: true, Label: "v2 step 2/2"}},
		goldenCase{"istio-blue-green-rollout-promoted", "istio-blue-green-rollout", []string{"v2"}, &render.Step{Weight: 100, Widened: true, Label: "v2 promoted"}},
	)
}

// renderCase renders a case as the golden file holds it: a comment with the
// traffic, then the objects as manifest.Marshal writes them.
func renderCase(t *testing.T, c goldenCase) []byte {
	t.Helper()
	r, err := route.ReadFile(filepath.Join("testdata", "routes", c.route+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ready := render.AllVersions(r)
	readyText := "all"
	if c.ready != nil {
		ready, readyText = sets.New(c.ready...), strings.Join(c.ready, ", ")
		if readyText == "" {
			readyText = "none"
		}
	}
	out, err := render.RenderStep(r, ready, c.step)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s/%s rendered from routes/%s.yaml; ready: %s\n# traffic: %s\n", r.Spec.Provider, r.Spec.Strategy, c.route, readyText, out.Summary())
	if c.step != nil {
		fmt.Fprintf(&b, "# rollout: %s\n", c.step.Label)
	}
	for _, o := range out.Objects {
		y, err := manifest.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := renderCase(t, c)
			path := filepath.Join("testdata", "golden", c.name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
			// The first line names the provider and strategy.
			first, _, _ := strings.Cut(string(got), " rendered")
			covered[strings.TrimPrefix(first, "# ")] = true
		})
	}
	for _, p := range v1alpha1.Providers {
		if _, ok := render.For(p); !ok {
			t.Errorf("no renderer for provider %s", p)
		}
		for _, s := range v1alpha1.ProviderStrategies[p] {
			if !covered[string(p)+"/"+string(s)] {
				t.Errorf("no golden file for provider %s with strategy %s", p, s)
			}
		}
	}
}

// TestRenderIsDeterministic renders each Route many times: the bytes never
// change, so generate makes no Git diff when nothing changed.
func TestRenderIsDeterministic(t *testing.T) {
	for _, c := range goldenCases(t) {
		first := renderCase(t, c)
		for range 20 {
			if got := renderCase(t, c); !bytes.Equal(first, got) {
				t.Fatalf("%s: two renderings differ:\n%s\n%s", c.name, first, got)
			}
		}
	}
}

func TestPlan(t *testing.T) {
	version := func(name string, weight *int32) v1alpha1.Version {
		return v1alpha1.Version{Name: name, Service: &v1alpha1.ServiceBackend{Name: name, Port: 80}, Weight: weight}
	}
	w := func(n int32) *int32 { return ptr.To(n) }
	type vs = v1alpha1.VersionStatus
	tests := []struct {
		name     string
		strategy v1alpha1.Strategy
		versions []v1alpha1.Version
		ready    []string
		want     []vs
	}{
		{"blue-green, all ready", "blue-green", []v1alpha1.Version{version("a", w(80)), version("b", w(20))}, []string{"a", "b"},
			[]vs{{Name: "a", Ready: true, Weight: 80}, {Name: "b", Ready: true, Weight: 20}}},
		{"blue-green, relative weights round to 100", "blue-green", []v1alpha1.Version{version("a", w(1)), version("b", w(1)), version("c", w(1))}, []string{"a", "b", "c"},
			[]vs{{Name: "a", Ready: true, Weight: 34}, {Name: "b", Ready: true, Weight: 33}, {Name: "c", Ready: true, Weight: 33}}},
		{"blue-green, largest remainder wins", "blue-green", []v1alpha1.Version{version("a", w(1)), version("b", w(2)), version("c", w(4))}, []string{"a", "b", "c"},
			[]vs{{Name: "a", Ready: true, Weight: 14}, {Name: "b", Ready: true, Weight: 29}, {Name: "c", Ready: true, Weight: 57}}},
		{"blue-green, unready version gets 0", "blue-green", []v1alpha1.Version{version("a", w(50)), version("b", w(50))}, []string{"a"},
			[]vs{{Name: "a", Ready: true, Weight: 100}, {Name: "b", Weight: 0}}},
		{"blue-green, unready primary", "blue-green", []v1alpha1.Version{version("a", w(50)), version("b", w(50))}, []string{"b"},
			[]vs{{Name: "a", Weight: 0}, {Name: "b", Ready: true, Weight: 100}}},
		{"blue-green, none ready: primary keeps it all", "blue-green", []v1alpha1.Version{version("a", w(10)), version("b", w(90))}, nil,
			[]vs{{Name: "a", Weight: 100}, {Name: "b", Weight: 0}}},
		{"blue-green, none ready: the marked primary keeps it all", "blue-green", []v1alpha1.Version{version("a", w(10)), {Name: "b", Primary: true, Weight: w(90)}}, nil,
			[]vs{{Name: "a", Weight: 0}, {Name: "b", Weight: 100}}},
		{"blue-green, ready versions weigh 0: primary", "blue-green", []v1alpha1.Version{version("a", w(100)), version("b", nil)}, []string{"b"},
			[]vs{{Name: "a", Weight: 100}, {Name: "b", Ready: true}}},
		{"canary", "canary", []v1alpha1.Version{version("a", nil), version("b", nil), version("c", nil)}, []string{"a", "b"},
			[]vs{{Name: "a", Ready: true, Weight: 100}, {Name: "b", Ready: true, Matched: true}, {Name: "c"}}},
		{"abn, primary not ready", "abn", []v1alpha1.Version{version("a", nil), version("b", nil)}, []string{"b"},
			[]vs{{Name: "a", Weight: 100}, {Name: "b", Ready: true, Matched: true}}},
		{"mirror", "mirror", []v1alpha1.Version{version("a", nil), version("b", w(10)), version("c", w(30))}, []string{"a", "b"},
			[]vs{{Name: "a", Ready: true, Weight: 100}, {Name: "b", Ready: true, MirrorPercent: 10}, {Name: "c"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &v1alpha1.Route{Spec: v1alpha1.RouteSpec{Provider: "istio", Strategy: tc.strategy, Versions: tc.versions}}
			p := render.NewPlan(r, sets.New(tc.ready...), nil)
			if diff := cmp.Diff(tc.want, p.Traffic); diff != "" {
				t.Errorf("traffic (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	o := &render.Output{Traffic: []v1alpha1.VersionStatus{
		{Name: "v1", Ready: true, Weight: 100}, {Name: "v2", Ready: true, Matched: true},
		{Name: "v3", Ready: true, MirrorPercent: 5}, {Name: "v4"},
	}}
	want := "v1 100%, v2 by match, v3 mirrored 5%, v4 0% (not ready)"
	if got := o.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

// TestCookieMatch checks the rendered cookie expression with Go's regexp,
// which is RE2 like Envoy's: it finds the cookie anywhere in the header and
// nowhere else.
func TestCookieMatch(t *testing.T) {
	r, err := route.ReadFile("testdata/routes/gateway-api-canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(r, render.AllVersions(r))
	if err != nil {
		t.Fatal(err)
	}
	var expr string
	for _, m := range out.Objects[0].Object["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)["matches"].([]any) {
		for _, h := range m.(map[string]any)["headers"].([]any) {
			if h := h.(map[string]any); h["name"] == "Cookie" {
				expr = h["value"].(string)
			}
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatalf("cookie expression %q: %v", expr, err)
	}
	for header, want := range map[string]bool{
		"canary=v2":                  true,
		"a=1; canary=v2":             true,
		"a=1;canary=v2; b=2":         true,
		"canary=v2;b=2":              true,
		"canary=v20":                 false,
		"xcanary=v2":                 false,
		"a=canary=v2":                false,
		"canary=v1; other-canary=v2": false,
	} {
		if got := re.MatchString(header); got != want {
			t.Errorf("%q matches %q: %v, want %v", expr, header, got, want)
		}
	}
}

func TestRenderRefusesInvalidRoutes(t *testing.T) {
	good, err := route.ReadFile("testdata/routes/istio-abn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(r *v1alpha1.Route)
		want   string
	}{
		{"no namespace", func(r *v1alpha1.Route) { r.Namespace = "" },
			"invalid Route checkout: metadata.namespace: Required value: the namespace of the rendered objects"},
		{"unsupported strategy", func(r *v1alpha1.Route) {
			r.Spec.Provider, r.Spec.Strategy = v1alpha1.ProviderKServe, v1alpha1.StrategyMirror
			for i := range r.Spec.Versions {
				r.Spec.Versions[i].Service, r.Spec.Versions[i].InferenceService = nil, &v1alpha1.InferenceServiceBackend{Name: "m" + r.Spec.Versions[i].Name}
			}
		}, `invalid Route checkout: spec.strategy: Unsupported value: "mirror": provider kserve supports "blue-green", "canary", "abn"`},
		{"shared Service, same labels", func(r *v1alpha1.Route) {
			r.Spec.Versions[1].Service.Name = r.Spec.Versions[0].Service.Name
			r.Spec.Versions[0].Service.Labels = map[string]string{"app": "checkout"}
			r.Spec.Versions[1].Service.Labels = map[string]string{"app": "checkout"}
		}, `invalid Route checkout: spec.versions[1].service.labels: Invalid value: {"app":"checkout"}: versions a and b share Service checkout-a and would select the same pods: give each its own labels`},
		{"shared Service on the Gateway API", func(r *v1alpha1.Route) {
			r.Spec.Provider = v1alpha1.ProviderGatewayAPI
			r.Spec.Versions[2].Service.Name = r.Spec.Versions[0].Service.Name
		}, `invalid Route checkout: spec.versions[2].service.name: Invalid value: "checkout-a": versions a and c share Service checkout-a: the Gateway API routes to whole Services, so each version needs its own`},
		{"InferenceService named after the app", func(r *v1alpha1.Route) {
			r.Spec.Provider = v1alpha1.ProviderKServe
			for i := range r.Spec.Versions {
				r.Spec.Versions[i].Service, r.Spec.Versions[i].InferenceService = nil, &v1alpha1.InferenceServiceBackend{Name: "checkout-" + r.Spec.Versions[i].Name}
			}
			r.Spec.Versions[1].InferenceService.Name = "checkout"
		}, `invalid Route checkout: spec.versions[1].inferenceService.name: Invalid value: "checkout": the app checkout must be named apart from its InferenceServices: KServe owns a Service and VirtualService named after each`},
		{"Gateway API host that is an address", func(r *v1alpha1.Route) {
			r.Spec.Provider, r.Spec.Hosts = v1alpha1.ProviderGatewayAPI, []string{"10.0.0.1"}
		}, `invalid Route checkout: spec.hosts[0]: Invalid value: "10.0.0.1": the Gateway API takes host names, not IP addresses`},
		{"shared Service on Traefik", func(r *v1alpha1.Route) {
			r.Spec.Provider = v1alpha1.ProviderTraefik
			r.Spec.Versions[1].Service.Name = r.Spec.Versions[0].Service.Name
		}, `invalid Route checkout: spec.versions[1].service.name: Invalid value: "checkout-a": versions a and b share Service checkout-a: Traefik routes to whole Services, so each version needs its own`},
		{"Traefik host that is an address", func(r *v1alpha1.Route) {
			r.Spec.Provider, r.Spec.Hosts = v1alpha1.ProviderTraefik, []string{"checkout.example.com", "10.0.0.2"}
		}, `invalid Route checkout: spec.hosts[1]: Invalid value: "10.0.0.2": Traefik's Host rule takes host names, not IP addresses`},
		{"backtick in a Traefik rule", func(r *v1alpha1.Route) {
			r.Spec.Provider, r.Spec.Strategy = v1alpha1.ProviderTraefik, v1alpha1.StrategyCanary
			r.Spec.Versions[0].Match = []v1alpha1.Match{{Headers: []v1alpha1.HeaderMatch{{Name: "x-group", Value: "a`b"}}}}
			r.Spec.Versions[2].Match = []v1alpha1.Match{{Cookie: &v1alpha1.CookieMatch{Name: "c`", Value: "1"}}}
		}, "invalid Route checkout: [spec.versions[0].match[0].headers[0].value: Invalid value: \"a`b\": Traefik rules quote values with backticks, so a value cannot hold one, " +
			"spec.versions[2].match[0].cookie.name: Invalid value: \"c`\": Traefik rules quote values with backticks, so a value cannot hold one]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good.DeepCopy()
			tc.change(r)
			out, err := render.Render(r, render.AllVersions(r))
			if !errors.Is(err, render.ErrInvalid) || err.Error() != tc.want {
				t.Errorf("Render: %v, %v\nwant %s", out, err, tc.want)
			}
		})
	}
	// Render neither changes nor needs a defaulted Route.
	before := good.DeepCopy()
	if _, err := render.Render(good, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, good); diff != "" {
		t.Errorf("Render changed its input (-before +after):\n%s", diff)
	}
}
