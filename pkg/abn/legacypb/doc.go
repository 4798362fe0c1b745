// Package legacypb is the A/B/n API of Iter8 v0.15 to v1.1 (the gRPC
// service main.ABN): the Go code protoc generates from abn.proto (make
// generate). The A/B/n service serves it beside its own API.
package legacypb
