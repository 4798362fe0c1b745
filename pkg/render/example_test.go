package render_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route"
)

// Render a blue-green Route while v2 is not ready yet: v2 gets no traffic
// until it is.
func ExampleRender() {
	r, err := route.Parse("route.yaml", []byte(`
apiVersion: iter8.tools/v1alpha1
kind: Route
metadata: {name: checkout, namespace: shop}
spec:
  provider: gateway-api
  strategy: blue-green
  versions:
  - {name: v1, service: {name: checkout-v1, port: 8080}, weight: 50}
  - {name: v2, service: {name: checkout-v2, port: 8080}, weight: 50}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ready := range []sets.Set[string]{sets.New("v1"), render.AllVersions(r)} {
		out, err := render.Render(r, ready)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s: %s\n", out.Objects[0].GetKind(), out.Objects[0].GetName(), out.Summary())
	}
	// Output:
	// HTTPRoute checkout: v1 100%, v2 0% (not ready)
	// HTTPRoute checkout: v1 50%, v2 50%
}
