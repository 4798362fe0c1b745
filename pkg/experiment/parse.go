package experiment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Problem is one thing wrong with an experiment file.
type Problem struct {
	// Line is the line in the file (0 when unknown).
	Line int
	// Err names the field path and says what is allowed.
	Err *field.Error
}

// String renders the problem as "file:line: field.path: what is wrong".
func (p Problem) String(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Err.Field != "" && p.Err.Field != "<nil>" {
		b.WriteString(p.Err.Field + ": ")
	}
	// A Forbidden error's detail says it all ("unknown field; ...").
	if p.Err.Type == field.ErrorTypeForbidden {
		b.WriteString(p.Err.Detail)
	} else {
		b.WriteString(p.Err.ErrorBody())
	}
	return b.String()
}

// ParseError lists every problem found in an experiment file.
type ParseError struct {
	// File is the file's name as given.
	File string
	// Problems are in file order.
	Problems []Problem
}

func (e *ParseError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "%s is not a valid experiment:", e.File)
	} else {
		fmt.Fprintf(&b, "%s is not a valid experiment (%d problems):", e.File, len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String(e.File))
	}
	return b.String()
}

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
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{File: name, Problems: []Problem{{Err: field.Required(field.NewPath("apiVersion"), "the file is empty")}}}
		}
		return nil, fmt.Errorf("%s is not valid YAML: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ParseError{File: name, Problems: []Problem{{Line: extra.Line, Err: field.Forbidden(nil, "a file holds one experiment; found a second YAML document")}}}
	}

	d := newDecoder()
	exp := &Experiment{}
	d.decode(&doc, reflect.ValueOf(exp).Elem(), nil)
	exp.validate(d, &doc, dir, reg)
	if len(d.errs) > 0 {
		pe := &ParseError{File: name}
		for _, e := range d.errs {
			pe.Problems = append(pe.Problems, Problem{Line: lineOf(d.lines, e.Field), Err: e})
		}
		sortProblems(pe.Problems)
		return nil, pe
	}
	return exp, nil
}

// lineOf returns the line of path, or of its nearest parent with a known line.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return lines[""]
}

func sortProblems(ps []Problem) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Line < ps[j-1].Line; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func (e *Experiment) validate(d *decoder, doc *yaml.Node, dir string, reg Registry) {
	add := func(errs ...*field.Error) { d.errs = append(d.errs, errs...) }
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
		before := len(d.errs)
		if n := findNode(doc, "spec", "tasks", i, "with"); n != nil {
			d.decode(n, reflect.ValueOf(params).Elem(), withPath)
		}
		if len(d.errs) == before {
			add(params.Validate(vc, withPath)...)
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
