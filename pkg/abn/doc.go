// Package abn is the core of iter8's A/B/n testing: the applications and
// versions users are assigned to, the deterministic assignment itself, the
// limits on names and values, and the statistics reported per version.
//
// The gRPC service is in package service, the stores of metrics in package
// store, the client SDK in package sdk and the generated API in package
// abnpb. This package has no I/O of its own, so that the SDK and the
// kubectl plugin can use it without pulling in the server.
//
// # Assignment
//
// A user is assigned to a version by weighted rendezvous hashing (highest
// random weight). For each version i of the application that is ready and has
// a weight w_i > 0:
//
//	h_i = XXH64(name_i + "\x00" + user, seed)     // xxHash64 of the bytes, seeded
//	u_i = (float64(h_i >> 11) + 0.5) / 2^53       // uniform in (0, 1), exact
//	s_i = w_i / -ln(u_i)                          // IEEE-754 double arithmetic
//
// and the user gets the version with the largest s_i; on a tie, the one with
// the lowest index. s_i is an exponential race: version i wins with
// probability w_i / Σw exactly, and changing the weight of version j, or
// adding or removing it, only moves users to or from j. The result depends
// on nothing but the seed, the user and the names and weights of the ready
// versions, so it is the same across requests, restarts, replicas and any
// SDK that implements these three lines; the test vectors in
// testdata/assignment-vectors.json pin it.
//
// The seed is per application (App.Seed), so that the same users do not land
// on the same positions in every application.
package abn
