//go:build tools

// Package tools pins the Flux controllers the end-to-end tests build.
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/source-controller"
)
