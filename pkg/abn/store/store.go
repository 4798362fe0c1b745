// Package store keeps the A/B/n service's data: the users assigned to each
// version and the metric values written for them, as running sufficient
// statistics (see abn.Data). Two implementations: Bolt, an embedded
// key-value file (the default, for one replica), and Redis, shared by
// several replicas.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iter8-tools/iter8/pkg/abn"
)

// Record is one metric value to store, already validated and assigned.
type Record struct {
	// App is the application.
	App string
	// Version is the version the user is assigned to.
	Version string
	// User is the user.
	User string
	// Metric is the metric's name.
	Metric string
	// Value is the metric's value; finite.
	Value float64
}

// Assignment says that a user was assigned to a version.
type Assignment struct {
	// App is the application.
	App string
	// Version is the version.
	Version string
	// User is the user.
	User string
}

// Store keeps the data of applications. Implementations are safe for
// concurrent use, and concurrent writes add up exactly.
type Store interface {
	// Write stores records, atomically per application. When it returns
	// nil they are durable and counted exactly once; when it returns an
	// error, the records of each application were all stored or none.
	// Each record also counts its user as assigned to its version.
	//
	// A batch that is not empty names the write so that writing it again
	// stores nothing more: the records of an application whose batch was
	// stored in the last BatchTTL are skipped, atomically with the check.
	// So a client that resends a batch after losing the reply to its
	// first send counts its values once.
	Write(ctx context.Context, batch string, recs []Record) error
	// AddUsers counts users as assigned to versions; adding a user twice
	// counts them once.
	AddUsers(ctx context.Context, users []Assignment) error
	// Read returns the data of an application; no versions when it has
	// none.
	Read(ctx context.Context, app string) (*abn.Data, error)
	// Close releases the store; calls after it fail with ErrClosed.
	Close() error
}

// BatchTTL is how long a store remembers the batches it has stored.
const BatchTTL = time.Hour

// ErrClosed is returned by a store after Close.
var ErrClosed = errors.New("store is closed")

// Open opens the store a URL names:
//
//	bolt:PATH, bolt://PATH   the embedded store, in file PATH (created if missing)
//	redis://[[user]:password@]host[:port][/db]   Redis (rediss:// for TLS)
//
// For Redis, credentials may instead come from $REDIS_PASSWORD.
func Open(ctx context.Context, url string) (Store, error) {
	scheme, rest, ok := strings.Cut(url, ":")
	if !ok {
		return nil, fmt.Errorf("store %q has no scheme: use bolt:PATH or redis://HOST:PORT", url)
	}
	switch scheme {
	case "bolt":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, errors.New("store bolt: has no path: use bolt:PATH, e.g. bolt:/var/lib/iter8-abn/abn.db")
		}
		return OpenBolt(path)
	case "redis", "rediss":
		return OpenRedis(ctx, url)
	default:
		return nil, fmt.Errorf("store scheme %q is not supported: allowed are bolt, redis and rediss", scheme)
	}
}
