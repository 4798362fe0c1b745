// Package route reads Route files. Decoding is strict and reports every
// problem at once, each with its line and field path: unknown fields, wrong
// types, and everything render.Validate finds (the CRD's rules, and what the
// provider cannot render). The API types are in package v1alpha1.
package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/pkg/render"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// Problem is one thing wrong with a Route file.
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

// ParseError lists every problem found in a Route file.
type ParseError struct {
	// File is the file's name as given.
	File string
	// Problems are in file order.
	Problems []Problem
}

func (e *ParseError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "%s is not a valid Route:", e.File)
	} else {
		fmt.Fprintf(&b, "%s is not a valid Route (%d problems):", e.File, len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String(e.File))
	}
	return b.String()
}

// ReadFile reads and parses a Route file; see Parse.
func ReadFile(path string) (*v1alpha1.Route, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading Route: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a Route document (YAML or JSON) strictly;
// name is used in errors. Every problem is reported at once, with its line
// and field path, in a *ParseError. The Route is returned as written, not
// defaulted.
func Parse(name string, data []byte) (*v1alpha1.Route, error) {
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
		return nil, &ParseError{File: name, Problems: []Problem{{Line: extra.Line, Err: field.Forbidden(nil, "a file holds one Route; found a second YAML document")}}}
	}

	c := &checker{lines: map[string]int{}}
	c.check(&doc, reflect.TypeFor[v1alpha1.Route](), nil)
	r := &v1alpha1.Route{}
	structural := c.errs
	if len(structural) == 0 {
		// The checker found what a strict decoder reports, with lines; this
		// decodes exactly as the API server does.
		if err := sigsyaml.UnmarshalStrict(data, r); err != nil {
			return nil, fmt.Errorf("%s is not a valid Route: %w", name, err)
		}
	} else {
		// Decode what can be decoded, to report the other problems too.
		_ = sigsyaml.Unmarshal(data, r)
	}
	if r.APIVersion != v1alpha1.GroupVersion.String() {
		c.errs = append(c.errs, field.NotSupported(field.NewPath("apiVersion"), r.APIVersion, []string{v1alpha1.GroupVersion.String()}))
	}
	if r.Kind != "Route" {
		c.errs = append(c.errs, field.NotSupported(field.NewPath("kind"), r.Kind, []string{"Route"}))
	}
	for _, e := range render.Validate(r) {
		// A value that could not be decoded is already reported.
		if !slices.ContainsFunc(structural, func(s *field.Error) bool { return within(e.Field, s.Field) }) {
			c.errs = append(c.errs, e)
		}
	}
	if len(c.errs) == 0 {
		return r, nil
	}
	pe := &ParseError{File: name}
	for _, e := range c.errs {
		pe.Problems = append(pe.Problems, Problem{Line: lineOf(c.lines, e.Field), Err: e})
	}
	slices.SortStableFunc(pe.Problems, func(a, b Problem) int { return a.Line - b.Line })
	return nil, pe
}

// within reports whether path is parent or a field under it.
func within(path, parent string) bool {
	return path == parent || strings.HasPrefix(path, parent+".") || strings.HasPrefix(path, parent+"[")
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

// checker walks a YAML document alongside the Go type it must decode into,
// collecting unknown fields and values of the wrong kind, each with its
// path, and recording the line of every path. Field names are json tags.
type checker struct {
	errs  field.ErrorList
	lines map[string]int
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

func key(p *field.Path) string {
	if p == nil {
		return ""
	}
	return p.String()
}

func (c *checker) fail(p *field.Path, n *yaml.Node, msg string) {
	c.errs = append(c.errs, field.Invalid(p, shortValue(n), msg))
}

func (c *checker) check(n *yaml.Node, t reflect.Type, p *field.Path) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	c.lines[key(p)] = n.Line
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return // e.g. metav1.Time: its own decoder judges it
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.fail(p, n, "must be a map")
			return
		}
		fields := jsonFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				c.lines[key(p.Child(k.Value))] = k.Line
				c.errs = append(c.errs, field.Forbidden(p.Child(k.Value),
					"unknown field; allowed fields: "+strings.Join(slices.Sorted(maps.Keys(fields)), ", ")))
				continue
			}
			c.check(v, f, p.Child(k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.fail(p, n, "must be a map")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.check(n.Content[i+1], t.Elem(), p.Key(n.Content[i].Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.fail(p, n, "must be a list")
			return
		}
		for i, e := range n.Content {
			c.check(e, t.Elem(), p.Index(i))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.fail(p, n, "must be a string")
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			c.fail(p, n, "must be true or false")
		}
	case reflect.Int32, reflect.Int64, reflect.Int:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || reflect.New(t).Elem().OverflowInt(i) {
			c.fail(p, n, "must be a whole number")
		}
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil || math.IsNaN(f) {
			c.fail(p, n, "must be a number")
		}
	}
}

// jsonFields maps the json names of t's exported fields to their types,
// flattening inline (embedded) structs.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) && f.Type.Kind() == reflect.Struct {
			maps.Copy(out, jsonFields(f.Type))
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// shortValue is the value shown in an error: the scalar, or its kind.
func shortValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.ScalarNode:
		if len(n.Value) > 60 {
			return n.Value[:57] + "..."
		}
		return n.Value
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	default:
		return ""
	}
}
