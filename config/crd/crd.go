// Package crd holds the CustomResourceDefinitions that controller-gen
// generates into this folder (make generate), embedded for
// `kubectl iter8-route install`.
package crd

import _ "embed"

// Routes is the CustomResourceDefinition of routes.iter8.tools, as YAML.
//
//go:embed iter8.tools_routes.yaml
var Routes []byte
