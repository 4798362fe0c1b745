package route_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

func TestReadFile(t *testing.T) {
	got, err := route.ReadFile("testdata/canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &v1alpha1.Route{
		TypeMeta:   metav1.TypeMeta{APIVersion: "iter8.tools/v1alpha1", Kind: "Route"},
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"},
		Spec: v1alpha1.RouteSpec{
			Provider: v1alpha1.ProviderIstio,
			Strategy: v1alpha1.StrategyCanary,
			Versions: []v1alpha1.Version{
				{
					Name:      "v1",
					Service:   &v1alpha1.ServiceBackend{Name: "checkout-v1", Port: 8080},
					Readiness: []v1alpha1.ObjectReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "checkout-v1"}},
				},
				{
					Name:    "v2",
					Service: &v1alpha1.ServiceBackend{Name: "checkout-v2", Port: 8080},
					Match: []v1alpha1.Match{
						{Headers: []v1alpha1.HeaderMatch{{Name: "x-user-group", Value: "beta"}}},
						{Cookie: &v1alpha1.CookieMatch{Name: "beta", Value: "yes"}},
					},
					Readiness: []v1alpha1.ObjectReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "checkout-v2", Condition: "Available"}},
				},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadFile (-want +got):\n%s", diff)
	}

	if _, err := route.ReadFile("testdata/missing.yaml"); err == nil || !strings.HasPrefix(err.Error(), "reading Route: open testdata/missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

const head = "apiVersion: iter8.tools/v1alpha1\nkind: Route\nmetadata: {name: checkout}\n"

func TestParseReportsEveryProblemWithLineAndPath(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{
			name: "empty",
			doc:  "",
			want: []string{"r.yaml: apiVersion: Required value: the file is empty"},
		},
		{
			name: "two documents",
			doc:  head + "---\n" + head,
			want: []string{"r.yaml:4: a file holds one Route; found a second YAML document"},
		},
		{
			name: "wrong kind and version",
			doc:  "apiVersion: v1\nkind: Service\nmetadata: {name: checkout}\nspec:\n  provider: istio\n  strategy: abn\n  versions: [{name: v1, service: {name: s, port: 80}}]\n",
			want: []string{
				`r.yaml:1: apiVersion: Unsupported value: "v1": supported values: "iter8.tools/v1alpha1"`,
				`r.yaml:2: kind: Unsupported value: "Service": supported values: "Route"`,
			},
		},
		{
			name: "structure and meaning at once",
			doc: head + `spec:
  provider: linkerd
  strategy: blue-green
  colour: blue
  versions:
  - name: v1
    service: {name: checkout-v1, port: 8080}
    weight: 120
  - name: v1
    weight: 20
  - name: v3
    service: {name: checkout-v3, port: http}
    primary: "yes"
`,
			want: []string{
				`r.yaml:5: spec.provider: Unsupported value: "linkerd": supported values: "istio", "gateway-api", "traefik", "kserve", "kserve-modelmesh"`,
				`r.yaml:7: spec.colour: unknown field; allowed fields: app, entryPoints, gateways, hosts, parentRefs, port, protocol, provider, rollout, sink, strategy, versions`,
				`r.yaml:11: spec.versions[0].weight: Invalid value: 120: must be between 0 and 100`,
				`r.yaml:12: spec.versions[1].name: Duplicate value: "v1"`,
				`r.yaml:12: spec.versions[1].service: Required value: the Service that serves the version`,
				`r.yaml:15: spec.versions[2].service.port: Invalid value: "http": must be a whole number`,
				`r.yaml:16: spec.versions[2].primary: Invalid value: "yes": must be true or false`,
			},
		},
		{
			name: "strategy the provider does not support",
			doc: head + `spec:
  provider: kserve-modelmesh
  strategy: mirror
  versions:
  - {name: v1, inferenceService: {name: wisdom-1}}
  - {name: v2, inferenceService: {name: wisdom-2}, weight: 10}
`,
			want: []string{`r.yaml:6: spec.strategy: Unsupported value: "mirror": provider kserve-modelmesh supports "blue-green", "canary", "abn"`},
		},
		{
			name: "canary without a match, cookie on gRPC",
			doc: head + `spec:
  provider: gateway-api
  protocol: grpc
  strategy: canary
  versions:
  - {name: v1, service: {name: a, port: 80}}
  - {name: v2, service: {name: b, port: 80}}
  - {name: v3, service: {name: c, port: 80}, match: [{cookie: {name: beta, value: "1"}}]}
`,
			want: []string{
				`r.yaml:10: spec.versions[1].match: Required value: a canary needs a match on every version but the primary`,
				`r.yaml:11: spec.versions[2].match[0].cookie: gRPC has no cookies: match a header`,
			},
		},
		{
			name: "hosts, gateways and readiness",
			doc: head + `spec:
  provider: istio
  strategy: abn
  hosts: [checkout.example.com, checkout.example.com, "*.example.com", "Bad_Host"]
  gateways: [""]
  versions:
  - name: v1
    service: {name: a, port: 80}
    readiness: [{kind: Deployment, name: a}]
`,
			want: []string{
				`r.yaml:7: spec.hosts[1]: Duplicate value: "checkout.example.com"`,
				`r.yaml:7: spec.hosts[3]: Invalid value: "Bad_Host": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`r.yaml:8: spec.gateways[0]: Required value: must not be empty`,
				`r.yaml:12: spec.versions[0].readiness[0].apiVersion: Required value: the object whose readiness gates the version`,
			},
		},
		{
			name: "bad regular expression and header name",
			doc: head + `spec:
  provider: istio
  strategy: canary
  versions:
  - {name: v1, service: {name: a, port: 80}}
  - name: v2
    service: {name: b, port: 80}
    match: [{headers: [{name: "x user", value: b}, {name: x-id, value: "(", type: RegularExpression}]}]
`,
			want: []string{
				`r.yaml:11: spec.versions[1].match[0].headers[0].name: Invalid value: "x user": must be an HTTP header name`,
				"r.yaml:11: spec.versions[1].match[0].headers[1].value: Invalid value: \"(\": not an RE2 regular expression: error parsing regexp: missing closing ): `(`",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := route.Parse("r.yaml", []byte(tc.doc))
			var pe *route.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			var got []string
			for _, p := range pe.Problems {
				got = append(got, p.String(pe.File))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := route.Parse("r.yaml", []byte(head+"spec: {provider: istio, strategy: abn, versions: [{name: v1}]}\n"))
	want := "r.yaml is not a valid Route:\n  r.yaml:4: spec.versions[0].service: Required value: the Service that serves the version"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if _, err := route.Parse("r.yaml", []byte("spec: [")); err == nil || !strings.HasPrefix(err.Error(), "r.yaml is not valid YAML: ") {
		t.Errorf("bad YAML: %v", err)
	}
}
