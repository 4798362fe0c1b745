// Package route reads Route files. Decoding is strict and reports every
// problem at once, each with its line and field path: unknown fields, wrong
// types, and everything Route.Validate finds (the CRD's rules, and what the
// provider cannot render). VersionChecks turns a version into the readiness
// checks that decide it. The API types are in package v1alpha1.
package route

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/iter8-tools/iter8/internal/yamlstrict"
	"github.com/iter8-tools/iter8/pkg/route/v1alpha1"
)

// Problem is one thing wrong with a Route file.
type Problem = yamlstrict.Problem

// ParseError lists every problem found in a Route file.
type ParseError = yamlstrict.ParseError

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
	d := yamlstrict.NewDecoder(name, "Route")
	doc, err := d.Parse(data)
	if err != nil {
		return nil, err
	}
	// Decoding into a scratch Route finds what a strict decoder reports,
	// with lines; sigs.k8s.io/yaml then decodes exactly as the API server
	// does, and judges the values with their own JSON decoding (metav1.Time).
	structural := d.Decode(doc, &v1alpha1.Route{}, nil)
	r := &v1alpha1.Route{}
	if len(structural) == 0 {
		if err := sigsyaml.UnmarshalStrict(data, r); err != nil {
			return nil, fmt.Errorf("%s is not a valid Route: %w", name, err)
		}
	} else {
		// Decode what can be decoded, to report the other problems too.
		_ = sigsyaml.Unmarshal(data, r)
	}
	if r.APIVersion != v1alpha1.GroupVersion.String() {
		d.Add(field.NotSupported(field.NewPath("apiVersion"), r.APIVersion, []string{v1alpha1.GroupVersion.String()}))
	}
	if r.Kind != "Route" {
		d.Add(field.NotSupported(field.NewPath("kind"), r.Kind, []string{"Route"}))
	}
	for _, e := range r.Validate() {
		// A value that could not be decoded is already reported.
		if !slices.ContainsFunc(structural, func(s *field.Error) bool { return within(e.Field, s.Field) }) {
			d.Add(e)
		}
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// within reports whether path is parent or a field under it.
func within(path, parent string) bool {
	return path == parent || strings.HasPrefix(path, parent+".") || strings.HasPrefix(path, parent+"[")
}
