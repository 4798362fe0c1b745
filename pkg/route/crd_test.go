package route_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/iter8-tools/iter8/internal/testenv"
	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.MainPure(m, &env)) }

// routes returns a REST client for Routes in a fresh namespace, built from
// the package's scheme (AddToScheme) as controller-runtime would, with the
// generated CRD installed.
func routes(t *testing.T) (*rest.RESTClient, string) {
	t.Helper()
	ctx := t.Context()
	if _, err := env.InstallCRDs(ctx, "../../config/crd"); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "routes-"}}
	ns, err := env.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.APIPath = "/apis"
	cfg.GroupVersion = &v1alpha1.GroupVersion
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rc, ns.Name
}

func create(ctx context.Context, rc *rest.RESTClient, ns string, r *v1alpha1.Route) (*v1alpha1.Route, error) {
	out := &v1alpha1.Route{}
	err := rc.Post().Namespace(ns).Resource("routes").Body(r).Do(ctx).Into(out)
	return out, err
}

// valid returns a valid Route for a provider and strategy.
func valid(p v1alpha1.Provider, s v1alpha1.Strategy) *v1alpha1.Route {
	r := &v1alpha1.Route{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout"},
		Spec:       v1alpha1.RouteSpec{Provider: p, Strategy: s, Versions: []v1alpha1.Version{{Name: "v1"}, {Name: "v2"}}},
	}
	for i := range r.Spec.Versions {
		v := &r.Spec.Versions[i]
		if p == v1alpha1.ProviderKServe || p == v1alpha1.ProviderKServeModelMesh {
			v.InferenceService = &v1alpha1.InferenceServiceBackend{Name: "checkout-" + v.Name}
		} else {
			v.Service = &v1alpha1.ServiceBackend{Name: "checkout-" + v.Name, Port: 8080}
		}
	}
	switch s {
	case v1alpha1.StrategyBlueGreen:
		r.Spec.Versions[0].Weight, r.Spec.Versions[1].Weight = ptr.To[int32](90), ptr.To[int32](10)
	case v1alpha1.StrategyCanary:
		r.Spec.Versions[1].Match = []v1alpha1.Match{{Headers: []v1alpha1.HeaderMatch{{Name: "x-beta", Value: "1"}}}}
	case v1alpha1.StrategyMirror:
		r.Spec.Versions[1].Weight = ptr.To[int32](10)
	case v1alpha1.StrategyABN:
		r.Spec.Versions[0].Weight, r.Spec.Versions[1].Weight = ptr.To[int32](70), ptr.To[int32](30)
	}
	return r
}

// TestCRDAgreesWithTheSupportTable creates a Route for every provider and
// strategy: the CRD and Route.Validate accept exactly those of the
// provider's row in v1alpha1.ProviderStrategies, and each renders.
func TestCRDAgreesWithTheSupportTable(t *testing.T) {
	testenv.SkipShort(t)
	rc, ns := routes(t)
	for _, p := range v1alpha1.Providers {
		row, ok := v1alpha1.ProviderStrategies[p]
		if !ok {
			t.Fatalf("no row for provider %s in the support table", p)
		}
		for _, s := range v1alpha1.Strategies {
			r := valid(p, s)
			r.Name = string(p) + "-" + string(s)
			_, err := create(t.Context(), rc, ns, r)
			supported := slices.Contains(row, s)
			if supported && err != nil {
				t.Errorf("%s/%s: supported by the table, refused by the API server: %v", p, s, err)
			}
			if !supported && !apierrors.IsInvalid(err) {
				t.Errorf("%s/%s: not supported by the table, API server says %v", p, s, err)
			}
			if errs := r.Validate(); (len(errs) == 0) != supported {
				t.Errorf("%s/%s: supported %v, Route.Validate: %v", p, s, supported, errs)
			}
			r.Namespace = ns
			if _, err := render.Render(r, render.AllVersions(r)); (err == nil) != supported {
				t.Errorf("%s/%s: supported %v, render.Render: %v", p, s, supported, err)
			}
		}
	}
}

// rollout is a rollout with one step of the weight.
func rollout(weight int32) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{Steps: []v1alpha1.RolloutStep{{Weight: ptr.To(weight)}}}
}

// TestCRDRejectsBadRoutes shows that the CRD's schema and CEL rules refuse
// each mistake when the Route is created, and that Validate (used for
// files) reports the same mistake at the right field.
func TestCRDRejectsBadRoutes(t *testing.T) {
	testenv.SkipShort(t)
	rc, ns := routes(t)
	tests := []struct {
		name      string
		provider  v1alpha1.Provider
		strategy  v1alpha1.Strategy
		change    func(s *v1alpha1.RouteSpec)
		apiServer string // in the API server's message
		field     string // the field Validate names
	}{
		{"weight above 100", "istio", "blue-green", func(s *v1alpha1.RouteSpec) { s.Versions[0].Weight = ptr.To[int32](120) },
			"should be less than or equal to 100", "spec.versions[0].weight"},
		{"negative weight", "istio", "blue-green", func(s *v1alpha1.RouteSpec) { s.Versions[1].Weight = ptr.To[int32](-1) },
			"should be greater than or equal to 0", "spec.versions[1].weight"},
		{"blue-green weights all zero", "gateway-api", "blue-green", func(s *v1alpha1.RouteSpec) {
			s.Versions[0].Weight, s.Versions[1].Weight = ptr.To[int32](0), nil
		}, "blue-green needs a version with a weight above 0", "spec.versions"},
		{"canary version without a match", "istio", "canary", func(s *v1alpha1.RouteSpec) { s.Versions[1].Match = nil },
			"a canary needs a match on every version but the primary", "spec.versions[1].match"},
		{"canary primary with a match", "istio", "canary", func(s *v1alpha1.RouteSpec) { s.Versions[0].Match = s.Versions[1].Match },
			"a canary needs a match on every version but the primary, and none on the primary", "spec.versions[0].match"},
		{"canary marked primary without a match", "istio", "canary", func(s *v1alpha1.RouteSpec) { s.Versions[1].Primary = true },
			"a canary needs a match on every version but the primary", "spec.versions[0].match"},
		{"duplicate version names", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Versions[1].Name = "v1" },
			`spec.versions[1]: Duplicate value: {"name":"v1"}`, "spec.versions[1].name"},
		{"two primaries", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Versions[0].Primary, s.Versions[1].Primary = true, true },
			"at most one version may be primary", "spec.versions[1].primary"},
		{"missing backend", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Versions[1].Service = nil },
			"a version needs exactly one backend: service or inferenceService", "spec.versions[1].service"},
		{"two backends", "istio", "abn", func(s *v1alpha1.RouteSpec) {
			s.Versions[1].InferenceService = &v1alpha1.InferenceServiceBackend{Name: "x"}
		}, "a version needs exactly one backend: service or inferenceService", "spec.versions[1]"},
		{"service backend for kserve", "kserve", "abn", func(s *v1alpha1.RouteSpec) {
			s.Versions[0].InferenceService, s.Versions[0].Service = nil, &v1alpha1.ServiceBackend{Name: "x", Port: 80}
		}, "kserve and kserve-modelmesh to its inferenceService", "spec.versions[0].service"},
		{"unknown provider", "linkerd", "abn", nil, `spec.provider: Unsupported value: "linkerd"`, "spec.provider"},
		{"unknown strategy", "istio", "shadow", nil, `spec.strategy: Unsupported value: "shadow"`, "spec.strategy"},
		{"mirror on ModelMesh", "kserve-modelmesh", "mirror", nil, "strategy mirror is not supported by providers kserve and kserve-modelmesh", "spec.strategy"},
		{"parentRefs for istio", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.ParentRefs = []v1alpha1.ParentReference{{Name: "gw"}} },
			"parentRefs are used only by provider gateway-api", "spec.parentRefs"},
		{"gateways for gateway-api", "gateway-api", "abn", func(s *v1alpha1.RouteSpec) { s.Gateways = []string{"mesh"} },
			"gateways are not used by provider gateway-api", "spec.gateways"},
		{"gateways for traefik", "traefik", "mirror", func(s *v1alpha1.RouteSpec) { s.Gateways = []string{"mesh"} },
			"gateways are not used by provider traefik: use entryPoints", "spec.gateways"},
		{"entryPoints for gateway-api", "gateway-api", "abn", func(s *v1alpha1.RouteSpec) { s.EntryPoints = []string{"web"} },
			"entryPoints are used only by provider traefik", "spec.entryPoints"},
		{"empty entry point", "traefik", "abn", func(s *v1alpha1.RouteSpec) { s.EntryPoints = []string{""} },
			"spec.entryPoints[0]", "spec.entryPoints[0]"},
		{"port for istio", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Port = ptr.To[int32](80) },
			"port is used only by providers gateway-api and kserve-modelmesh", "spec.port"},
		{"weight in a canary", "istio", "canary", func(s *v1alpha1.RouteSpec) { s.Versions[0].Weight = ptr.To[int32](0) },
			"weight is used only by the blue-green, mirror and abn strategies", "spec.versions[0].weight"},
		{"weight on one abn version", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Versions[1].Weight = nil },
			"give every version a weight, or none for equal shares", "spec.versions"},
		{"abn weights all 0", "gateway-api", "abn", func(s *v1alpha1.RouteSpec) {
			s.Versions[0].Weight, s.Versions[1].Weight = ptr.To[int32](0), ptr.To[int32](0)
		},
			"abn needs a version with a weight above 0", "spec.versions"},
		{"match in blue-green", "istio", "blue-green", func(s *v1alpha1.RouteSpec) { s.Versions[1].Match = valid("istio", "canary").Spec.Versions[1].Match },
			"match is used only by the canary strategy", "spec.versions[1].match"},
		{"weight on the primary of a mirror", "gateway-api", "mirror", func(s *v1alpha1.RouteSpec) { s.Versions[0].Weight = ptr.To[int32](50) },
			"in a mirror the primary takes all traffic", "spec.versions[0].weight"},
		{"subset labels for gateway-api", "gateway-api", "abn", func(s *v1alpha1.RouteSpec) { s.Versions[0].Service.Labels = map[string]string{"v": "1"} },
			"service labels (DestinationRule subsets) are used only by provider istio", "spec.versions[0].service.labels"},
		{"cookie on gRPC", "gateway-api", "canary", func(s *v1alpha1.RouteSpec) {
			s.Protocol = v1alpha1.ProtocolGRPC
			s.Versions[1].Match = []v1alpha1.Match{{Cookie: &v1alpha1.CookieMatch{Name: "beta", Value: "1"}}}
		}, "gRPC has no cookies: match a header", "spec.versions[1].match[0].cookie"},
		{"empty match", "istio", "canary", func(s *v1alpha1.RouteSpec) { s.Versions[1].Match = []v1alpha1.Match{{}} },
			"a match needs headers or a cookie", "spec.versions[1].match[0]"},
		{"no versions", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Versions = nil },
			"spec.versions: Required value", "spec.versions"},
		{"version name not a DNS label", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Versions[0].Name = "V1" },
			`spec.versions[0].name: Invalid value: "V1": spec.versions[0].name in body should match`, "spec.versions[0].name"},
		{"service port out of range", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Versions[0].Service.Port = 70000 },
			"should be less than or equal to 65535", "spec.versions[0].service.port"},
		{"git sink without git", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkGit} },
			"git settings are needed with type git, and only then", "spec.sink.git"},
		{"git settings with apply", "istio", "abn", func(s *v1alpha1.RouteSpec) {
			s.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkApply, Git: &v1alpha1.GitSink{URL: "https://git.example.com/fleet", Path: "routing"}}
		}, "git settings are needed with type git, and only then", "spec.sink.git"},
		{"git URL with credentials", "istio", "abn", func(s *v1alpha1.RouteSpec) {
			s.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkGit, Git: &v1alpha1.GitSink{URL: "https://user:token@git.example.com/fleet", Path: "routing"}}
		}, "spec.sink.git.url in body should match", "spec.sink.git.url"},
		{"git ssh URL with a password", "istio", "abn", func(s *v1alpha1.RouteSpec) {
			s.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkGit, Git: &v1alpha1.GitSink{URL: "ssh://git:secret@git.example.com/fleet", Path: "routing"}}
		}, "spec.sink.git.url in body should match", "spec.sink.git.url"},
		{"git scp-like address", "istio", "abn", func(s *v1alpha1.RouteSpec) {
			s.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkGit, Git: &v1alpha1.GitSink{URL: "git@git.example.com:fleet", Path: "routing"}}
		}, "spec.sink.git.url in body should match", "spec.sink.git.url"},
		{"git path leaving the repository", "istio", "abn", func(s *v1alpha1.RouteSpec) {
			s.Sink = &v1alpha1.Sink{Type: v1alpha1.SinkGit, Git: &v1alpha1.GitSink{URL: "https://git.example.com/fleet", Path: "apps/../../etc"}}
		}, "path must stay inside the repository", "spec.sink.git.path"},
		{"unknown sink", "istio", "abn", func(s *v1alpha1.RouteSpec) { s.Sink = &v1alpha1.Sink{Type: "s3"} },
			`spec.sink.type: Unsupported value: "s3"`, "spec.sink.type"},
		{"rollout of a mirror", "istio", "mirror", func(s *v1alpha1.RouteSpec) { s.Versions[1].Weight, s.Rollout = nil, rollout(10) },
			"rollout is used only by the blue-green and canary strategies", "spec.rollout"},
		{"rollout of three versions", "istio", "canary", func(s *v1alpha1.RouteSpec) {
			s.Versions = append(s.Versions, s.Versions[1])
			s.Versions[2].Name, s.Rollout = "v3", rollout(10)
		}, "a rollout needs exactly two versions: the primary and the candidate", "spec.versions"},
		{"rollout with version weights", "istio", "blue-green", func(s *v1alpha1.RouteSpec) { s.Rollout = rollout(10) },
			"with a rollout, its steps set the weights: the versions take none", "spec.versions[0].weight"},
		{"blue-green rollout step without weight", "istio", "blue-green", func(s *v1alpha1.RouteSpec) {
			s.Versions[0].Weight, s.Versions[1].Weight, s.Rollout = nil, nil, rollout(10)
			s.Rollout.Steps = append(s.Rollout.Steps, v1alpha1.RolloutStep{})
		}, "a blue-green rollout needs a weight on every step", "spec.rollout.steps[1].weight"},
		{"rollout step weight above 100", "istio", "canary", func(s *v1alpha1.RouteSpec) { s.Rollout = rollout(120) },
			"should be less than or equal to 100", "spec.rollout.steps[0].weight"},
		{"rollout without steps", "istio", "canary", func(s *v1alpha1.RouteSpec) { s.Rollout = &v1alpha1.Rollout{} },
			"spec.rollout.steps: Required value", "spec.rollout.steps"},
		{"analysis naming nothing", "istio", "canary", func(s *v1alpha1.RouteSpec) {
			s.Rollout = rollout(10)
			s.Rollout.Steps[0].Analysis = &v1alpha1.Analysis{}
		}, "an analysis needs exactly one of experiment and spec", "spec.rollout.steps[0].analysis"},
		{"pause both timed and manual", "istio", "canary", func(s *v1alpha1.RouteSpec) {
			s.Rollout = rollout(10)
			s.Rollout.Steps[0].Pause = &v1alpha1.Pause{UntilResumed: true, Duration: &metav1.Duration{Duration: time.Minute}}
		}, "a pause needs exactly one of duration and untilResumed: true", "spec.rollout.steps[0].pause"},
		{"webhook URL not http", "istio", "canary", func(s *v1alpha1.RouteSpec) {
			s.Rollout = rollout(10)
			s.Rollout.Steps[0].Webhooks = []v1alpha1.Webhook{{Name: "ok", URL: "ftp://example.com/hook"}}
		}, "spec.rollout.steps[0].webhooks[0].url in body should match", "spec.rollout.steps[0].webhooks[0].url"},
		{"notification with url and secretRef", "istio", "canary", func(s *v1alpha1.RouteSpec) {
			s.Rollout = rollout(10)
			s.Rollout.Notify = []v1alpha1.Notification{{URL: "https://hooks.example.com/x", SecretRef: &v1alpha1.LocalObjectReference{Name: "slack"}}}
		}, "a notification needs exactly one of url and secretRef", "spec.rollout.notify[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := valid(tc.provider, tc.strategy)
			if tc.change != nil {
				tc.change(&r.Spec)
			}
			_, err := create(t.Context(), rc, ns, r)
			if !apierrors.IsInvalid(err) {
				t.Fatalf("API server: %v, want Invalid", err)
			}
			if !strings.Contains(err.Error(), tc.apiServer) {
				t.Errorf("API server message lacks %q:\n%v", tc.apiServer, err)
			}
			var fields []string
			for _, e := range r.Validate() {
				fields = append(fields, e.Field)
			}
			if !slices.Contains(fields, tc.field) {
				t.Errorf("Validate reports %q, want %s", fields, tc.field)
			}
		})
	}
}

// TestRouteRoundTripsWithStatus creates a Route from a file and writes its
// status through the status subresource, as the reconciler will.
func TestRouteRoundTripsWithStatus(t *testing.T) {
	testenv.SkipShort(t)
	rc, ns := routes(t)
	ctx := t.Context()
	r, err := route.ReadFile("testdata/canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r.Namespace = ns
	created, err := create(ctx, rc, ns, r)
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.Protocol != v1alpha1.ProtocolHTTP {
		t.Errorf("protocol defaulted to %q, want http", created.Spec.Protocol)
	}
	created.SetConditions([]metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "routed", LastTransitionTime: metav1.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}})
	created.Status.ObservedGeneration = created.Generation
	created.Status.Versions = []v1alpha1.VersionStatus{{Name: "v1", Ready: true, Weight: 100}, {Name: "v2", Ready: true, Matched: true}}
	created.Status.LastRenderedRevision = "sha256:abc"
	updated := &v1alpha1.Route{}
	if err := rc.Put().Namespace(ns).Resource("routes").Name(created.Name).SubResource("status").Body(created).Do(ctx).Into(updated); err != nil {
		t.Fatal(err)
	}
	got := updated.DeepCopy()
	if diff := cmp.Diff(created.Status, got.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if got.GetConditions()[0].Message != "routed" {
		t.Errorf("conditions %v", got.GetConditions())
	}
}
