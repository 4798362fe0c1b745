//go:build tools

// Package tools pins the modules whose CRD files the tests install.
package tools

import (
	_ "istio.io/api/networking/v1"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)
