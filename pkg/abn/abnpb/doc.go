// Package abnpb is the gRPC API of the A/B/n service: the Go code protoc
// generates from abn.proto (make generate), and conversions between its
// messages and package abn's types.
package abnpb
