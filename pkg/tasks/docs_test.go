package tasks_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iter8-tools/iter8/pkg/experiment"
	"github.com/iter8-tools/iter8/pkg/tasks"
)

var (
	yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")
	namedFile = regexp.MustCompile(`(?:caFile|payloadFile|protoFile|protoset): "?([\w./-]+)"?`)
	namedDirs = regexp.MustCompile(`importPaths: \[([^\]]*)\]`)
)

// TestDocumentedExperimentsParse keeps the experiments shown in the docs
// valid: every YAML block that is a whole experiment must parse, and every
// task snippet must parse inside one. A block whose first line is a comment
// naming a file ("# providers.yaml") is that file, for the others to use.
func TestDocumentedExperimentsParse(t *testing.T) {
	docs, _ := filepath.Glob("../../docs/tasks/*.md")
	docs = append(docs, "../../README.md")
	var n int
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		blocks := yamlBlock.FindAllStringSubmatch(string(b), -1)
		for _, m := range blocks {
			first, _, _ := strings.Cut(m[1], "\n")
			if name, ok := strings.CutPrefix(first, "# "); ok && strings.HasSuffix(name, ".yaml") {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(m[1]), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Files and folders the docs only name (certificates, protos)
		// exist, empty.
		for _, m := range namedFile.FindAllStringSubmatch(string(b), -1) {
			p := filepath.Join(dir, m[1])
			if _, err := os.Stat(p); os.IsNotExist(err) {
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, m := range namedDirs.FindAllStringSubmatch(string(b), -1) {
			for _, d := range strings.Split(m[1], ",") {
				if err := os.MkdirAll(filepath.Join(dir, strings.TrimSpace(d)), 0o700); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, m := range blocks {
			block := m[1]
			switch {
			case strings.Contains(block, "kind: Experiment"):
			case strings.HasPrefix(block, "- task:"):
				// A snippet: give it an experiment with versions v1 and v2
				// and the metrics assess snippets refer to.
				block = "apiVersion: iter8.tools/v1alpha1\nkind: Experiment\nmetadata: {name: doc}\nspec:\n" +
					"  versions: [{name: v1}, {name: v2}]\n  tasks:\n" +
					"  - task: http\n    with: {url: 'http://127.0.0.1:1/'}\n" +
					indent(block, "  ")
			default:
				continue
			}
			n++
			if _, err := experiment.Parse(doc, dir, []byte(block), tasks.Registry()); err != nil {
				t.Errorf("%s, YAML block %d:\n%v", doc, i+1, err)
			}
		}
	}
	if n < 4 {
		t.Errorf("only %d experiments found in the docs", n)
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
