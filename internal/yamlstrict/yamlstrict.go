// Package yamlstrict parses a YAML (or JSON) file holding one document
// strictly, and reports every problem at once, each with its line and field
// path: unknown fields, values of the wrong type, bad values, and whatever
// the caller's own validation adds. Field names are the json tags of the Go
// values decoded into, as in Kubernetes.
package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Problem is one thing wrong with a file.
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

// ParseError lists every problem found in a file.
type ParseError struct {
	// File is the file's name as given.
	File string
	// What names what the file should hold, as in "x.yaml is not a valid
	// experiment".
	What string
	// Problems are in file order.
	Problems []Problem
}

// Error says the file is not a valid What and lists the problems, one a
// line.
func (e *ParseError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "%s is not a valid %s:", e.File, e.What)
	} else {
		fmt.Fprintf(&b, "%s is not a valid %s (%d problems):", e.File, e.What, len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String(e.File))
	}
	return b.String()
}

// Decoder parses one file: it decodes the file's document, or parts of it,
// into Go values, collects every problem with its field path, and records
// the line of every path it visits, so that problems the caller adds (from
// validating the decoded values) are placed too. Err reports them all.
type Decoder struct {
	file, what string
	errs       field.ErrorList
	lines      map[string]int
}

// NewDecoder returns a decoder for the file named file, which should hold
// one what (e.g. "experiment"); both name the file in errors.
func NewDecoder(file, what string) *Decoder {
	return &Decoder{file: file, what: what, lines: map[string]int{}}
}

// Parse parses data, which must hold exactly one YAML (or JSON) document.
// An empty file, or a second document, is a *ParseError; data that is not
// YAML is an error that says so.
func (d *Decoder) Parse(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, d.parseError(Problem{Err: field.Required(field.NewPath("apiVersion"), "the file is empty")})
		}
		return nil, fmt.Errorf("%s is not valid YAML: %w", d.file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, d.parseError(Problem{Line: extra.Line, Err: field.Forbidden(nil, "a file holds one "+d.what+"; found a second YAML document")})
	}
	return &doc, nil
}

// Add records problems the caller found, e.g. by validating decoded values.
// Their lines are those of their field paths (or of the nearest parent
// path) in the nodes decoded so far.
func (d *Decoder) Add(errs ...*field.Error) {
	d.errs = append(d.errs, errs...)
}

// Err returns a *ParseError with every problem found or added so far, in
// file order, or nil if there is none.
func (d *Decoder) Err() error {
	if len(d.errs) == 0 {
		return nil
	}
	ps := make([]Problem, 0, len(d.errs))
	for _, e := range d.errs {
		ps = append(ps, Problem{Line: d.line(e.Field), Err: e})
	}
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
	return d.parseError(ps...)
}

func (d *Decoder) parseError(ps ...Problem) *ParseError {
	return &ParseError{File: d.file, What: d.what, Problems: ps}
}

// line returns the line of path, or of its nearest parent with a known line.
func (d *Decoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return d.lines[""]
}
