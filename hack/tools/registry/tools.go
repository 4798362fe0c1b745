//go:build tools

// Package tools pins the container registry (CNCF Distribution) the image
// tests push to and pull from.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
