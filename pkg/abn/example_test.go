package abn_test

import (
	"fmt"

	"github.com/iter8-tools/iter8/pkg/abn"
)

// Assign gives each user the same version every time, in proportion to the
// weights.
func ExampleAssign() {
	apps, err := abn.ParseApps("apps.yaml", []byte(`
applications:
- name: checkout
  versions:
  - {name: v1, weight: 80}
  - {name: v2, weight: 20}
`))
	if err != nil {
		panic(err)
	}
	app, _ := apps.Application("checkout")
	for _, user := range []string{"ann", "bob", "cat", "dan"} {
		i, err := abn.Assign(&app, user)
		if err != nil {
			panic(err)
		}
		fmt.Println(user, app.Versions[i].Name)
	}
	// Output:
	// ann v2
	// bob v1
	// cat v1
	// dan v1
}
