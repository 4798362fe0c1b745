//go:build tools

// Package tools pins Traefik, the Gateway API data plane the end-to-end tests
// route real requests through. It builds from the Go module proxy with the
// replace lines in go.mod only: stubs/ holds build-only stand-ins for modules
// the proxy does not serve (Traefik's nested dynamic/ext module, which module
// zips leave out, and three DNS-provider SDKs of lego that a test data plane
// never calls).
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
