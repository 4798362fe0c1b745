package experiment

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/internal/yamlstrict"
)

// Problem is one thing wrong with an experiment file.
type Problem = yamlstrict.Problem

// ParseError lists every problem found in an experiment file.
type ParseError = yamlstrict.ParseError

// ParseFile reads and parses an experiment file; see Parse.
func ParseFile(path string, reg Registry) (*Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading experiment: %w", err)
	}
	return Parse(path, filepath.Dir(path), data, reg)
}

// Parse decodes and validates an experiment document strictly. name is used
// in errors; dir resolves relative file paths in task parameters. Every
// problem (unknown fields and tasks, wrong types, bad values, references to
// metrics no earlier task records) is reported at once, with its line and
// field path, in a *ParseError.
func Parse(name, dir string, data []byte, reg Registry) (*Experiment, error) {
	d := yamlstrict.NewDecoder(name, "experiment")
	doc, err := d.Parse(data)
	if err != nil {
		return nil, err
	}
	exp := &Experiment{}
	d.Decode(doc, exp, nil)
	exp.validate(d, doc, dir, reg)
	if err := d.Err(); err != nil {
		return nil, err
	}
	return exp, nil
}

func (e *Experiment) validate(d *yamlstrict.Decoder, doc *yaml.Node, dir string, reg Registry) {
	add := d.Add
	if e.APIVersion != APIVersion {
		add(field.NotSupported(field.NewPath("apiVersion"), e.APIVersion, []string{APIVersion}))
	}
	if e.Kind != Kind {
		add(field.NotSupported(field.NewPath("kind"), e.Kind, []string{Kind}))
	}
	namePath := field.NewPath("metadata", "name")
	if e.Metadata.Name == "" {
		add(field.Required(namePath, "a DNS label: lowercase letters, digits and '-'"))
	} else {
		for _, msg := range validation.IsDNS1123Label(e.Metadata.Name) {
			add(field.Invalid(namePath, e.Metadata.Name, msg))
		}
	}
	if ns := e.Metadata.Namespace; ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			add(field.Invalid(field.NewPath("metadata", "namespace"), ns, msg))
		}
	}

	seen := map[string]bool{}
	for i, v := range e.Spec.Versions {
		p := field.NewPath("spec", "versions").Index(i).Child("name")
		switch {
		case v.Name == "":
			add(field.Required(p, "each version needs a name"))
		case seen[v.Name]:
			add(field.Duplicate(p, v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				add(field.Invalid(p, v.Name, msg))
			}
		}
		seen[v.Name] = true
	}

	tasksPath := field.NewPath("spec", "tasks")
	if len(e.Spec.Tasks) == 0 {
		add(field.Required(tasksPath, "an experiment needs at least one task; known tasks: "+strings.Join(reg.Names(), ", ")))
	}
	vc := &ValidationContext{Versions: e.VersionNames(), Metrics: map[string]MetricInfo{}, Dir: dir}
	for i := range e.Spec.Tasks {
		t := &e.Spec.Tasks[i]
		p := tasksPath.Index(i)
		if t.If != "" {
			prog, err := compileCondition(t.If)
			if err != nil {
				add(field.Invalid(p.Child("if"), t.If, err.Error()))
			}
			t.cond = prog
		}
		newTask, ok := reg[t.Task]
		if !ok {
			if t.Task == "" {
				add(field.Required(p.Child("task"), "known tasks: "+strings.Join(reg.Names(), ", ")))
			} else {
				add(field.NotSupported(p.Child("task"), t.Task, reg.Names()))
			}
			continue
		}
		params := newTask()
		withPath := p.Child("with")
		var problems field.ErrorList
		if n := findNode(doc, "spec", "tasks", i, "with"); n != nil {
			problems = d.Decode(n, params, withPath)
		}
		if len(problems) == 0 {
			add(Prepare(params, vc, withPath)...)
		}
		t.params = params
		for _, m := range params.Metrics() {
			vc.Metrics[m.Name] = m
		}
	}
}

// findNode walks a YAML document by map keys (strings) and list indexes (ints).
func findNode(n *yaml.Node, path ...any) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, step := range path {
		switch s := step.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return nil
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					next = n.Content[i+1]
				}
			}
			if next == nil {
				return nil
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return nil
			}
			n = n.Content[s]
		}
	}
	return n
}
