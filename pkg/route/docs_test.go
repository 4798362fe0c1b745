package route_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/iter8-tools/iter8/pkg/route"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

const doc = "../../docs/route.md"

// TestDocumentedRoutesParse keeps the Routes shown in docs/route.md valid.
func TestDocumentedRoutesParse(t *testing.T) {
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if !strings.Contains(m[1], "kind: Route\n") {
			continue
		}
		n++
		if _, err := route.Parse(doc, []byte(m[1])); err != nil {
			t.Errorf("%v", err)
		}
	}
	if n == 0 {
		t.Error("no Route in the docs")
	}
}

// TestDocumentedStrategies keeps the providers × strategies table of
// docs/route.md the same as what the renderers support.
func TestDocumentedStrategies(t *testing.T) {
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 8 {
			continue
		}
		p := v1alpha1.Provider(strings.Trim(strings.TrimSpace(cells[1]), "`"))
		row, ok := v1alpha1.ProviderStrategies[p]
		if !ok {
			continue
		}
		rows++
		for i, s := range v1alpha1.Strategies {
			documented := strings.TrimSpace(cells[3+i]) == "✓"
			if documented != slices.Contains(row, s) {
				t.Errorf("%s: provider %s, strategy %s: documented %v", doc, p, s, documented)
			}
		}
	}
	if rows != len(v1alpha1.Providers) {
		t.Errorf("%s documents %d providers, want %d", doc, rows, len(v1alpha1.Providers))
	}
}
