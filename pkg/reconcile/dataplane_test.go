package reconcile

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func route(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil { // integers as int64, as from the API server
		t.Fatal(err)
	}
	return u
}

func TestParentsAccepted(t *testing.T) {
	const head = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: checkout, namespace: shop, generation: 3}\n"
	parent := func(gen, status string) string {
		return `
  - controllerName: traefik.io/gateway-controller
    parentRef: {name: web}
    conditions:
    - {type: ResolvedRefs, status: "True", observedGeneration: 3}
    - {type: Accepted, status: "` + status + `", reason: NotAllowedByListeners, message: no listener, observedGeneration: ` + gen + `}`
	}
	for _, c := range []struct {
		name, status string
		served       []string
		waiting      string // "" none
		err          string
	}{
		{name: "no status, no served parent", status: ""},
		{name: "no status yet from a served parent", status: "", served: []string{"shop/web"},
			waiting: "waiting for the controller of Gateway shop/web to report on HTTPRoute checkout"},
		{name: "accepted", status: "status:\n  parents:" + parent("3", "True"), served: []string{"shop/web"}},
		{name: "an older generation", status: "status:\n  parents:" + parent("2", "True"),
			waiting: "waiting for traefik.io/gateway-controller (parent shop/web) to accept generation 3 of HTTPRoute checkout"},
		{name: "refused", status: "status:\n  parents:" + parent("3", "False"),
			err: "traefik.io/gateway-controller (parent shop/web) did not accept HTTPRoute checkout: NotAllowedByListeners: no listener"},
		{name: "refused for an older generation: wait", status: "status:\n  parents:" + parent("2", "False"),
			waiting: "waiting for traefik.io/gateway-controller"},
	} {
		t.Run(c.name, func(t *testing.T) {
			waiting, err := parentsAccepted(route(t, head+c.status), c.served)
			if (err != nil) != (c.err != "") || err != nil && err.Error() != c.err {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			if !strings.HasPrefix(waiting, c.waiting) || (c.waiting == "") != (waiting == "") {
				t.Errorf("waiting %q, want %q", waiting, c.waiting)
			}
		})
	}
}

func TestNeededFeatures(t *testing.T) {
	const head = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: checkout}\nspec:\n  rules:\n"
	for _, c := range []struct{ rules, want string }{
		{"  - backendRefs: [{name: a, port: 80}]\n", ""},
		{"  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: b, port: 80}}}]\n", "HTTPRouteRequestMirror"},
		{"  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: b, port: 80}, percent: 10}}]\n  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: c, port: 80}}}]\n",
			"HTTPRouteRequestMirror HTTPRouteRequestPercentageMirror"},
	} {
		if got := strings.Join(neededFeatures(route(t, head+c.rules)), " "); got != c.want {
			t.Errorf("%s: %q, want %q", c.rules, got, c.want)
		}
	}
	if got := neededFeatures(route(t, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nspec: {http: [{mirror: {host: b}}]}\n")); got != nil {
		t.Errorf("a VirtualService: %v", got)
	}
}
