package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// Bolt is the embedded store: a bbolt file (a B+tree with copy-on-write
// pages and one writer). It is the default because it needs no other
// process, a crash cannot corrupt it (a transaction is on disk or not), and
// reads of results do not block writes; badger's LSM tree would write
// faster but needs compaction and several files, and the service's write
// rate is small for either.
//
// Writes are group-committed: a write waits while the commit in progress
// ends, then everything that queued in the meantime is committed in one
// transaction with one fsync. So each acknowledged write is durable, and
// throughput grows with the number of concurrent writers instead of being
// one fsync per write. One process at a time may open the file.
//
// Per-user state (the users assigned to each version, and each user's total
// of each metric) is kept in memory, under 64-bit hashes of the user IDs
// (XXH64), and appended to the file in one chunk per commit: inserting
// users into B+trees would rewrite most of their pages on every commit once
// they are large, and keep all of them resident. A user costs 11 to 21
// bytes of memory per version and 21 to 43 per metric with values; two of a
// million users collide with probability 3·10⁻⁸. The log of totals is
// compacted when it holds more than twice the live entries.
type Bolt struct {
	db      *bolt.DB
	reqs    chan *request
	closed  chan struct{}
	stopped chan struct{}
	once    sync.Once

	// Only the committer uses the indexes, and changes them after a
	// successful commit.
	users  map[[2]string]*hashTable
	totals map[[3]string]*hashTable
}

// request is a unit of work for the committer.
type request struct {
	batch string
	recs  []Record
	users []Assignment
	done  chan error
}

// maxBatch bounds the records and users committed in one transaction, so
// that a commit's memory and latency stay bounded under load.
const maxBatch = 20000

// Bucket and key names of the bolt layout:
//
//	apps/<app>/<version>/users/<sequence>          chunk of XXH64s of assigned users, 8 bytes each
//	apps/<app>/<version>/nusers, tx                uint64 counters
//	apps/<app>/<version>/metrics/<metric>/agg      the metric's moments (see aggregate)
//	apps/<app>/<version>/metrics/<metric>/users/<sequence>  chunk of (XXH64 of user, total), 16 bytes each; later ones win
//	apps/<app>/<version>/metrics/<metric>/logged   uint64: entries in users/
//	apps/<app>/<version>/metrics/<metric>/hist/<bucket>     uint64 count
//	batches/<app>\x00<batch>                        uint64: when it was stored, Unix nanoseconds
var (
	keyApps    = []byte("apps")
	keyBatches = []byte("batches")
	keyUsers   = []byte("users")
	keyNUsers  = []byte("nusers")
	keyTx      = []byte("tx")
	keyMetrics = []byte("metrics")
	keyAgg     = []byte("agg")
	keyLogged  = []byte("logged")
	keyHist    = []byte("hist")
)

// chunkEntries bounds the entries of a chunk written by a compaction, and
// is the slack of the log of totals before it is compacted (a variable for
// tests).
var chunkEntries = 1 << 16

// OpenBolt opens (creating it if needed) the bolt store in path.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: time.Second,
		// As etcd does: the freelist is rebuilt on open rather than
		// written at every commit.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("opening store %s: another process has it open", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(keyBatches); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(keyApps)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	s := &Bolt{db: db, reqs: make(chan *request), closed: make(chan struct{}), stopped: make(chan struct{})}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	go s.commit()
	return s, nil
}

// load reads the per-user state of every version and metric into memory.
func (s *Bolt) load() error {
	s.users = map[[2]string]*hashTable{}
	s.totals = map[[3]string]*hashTable{}
	return s.db.View(func(tx *bolt.Tx) error {
		apps := tx.Bucket(keyApps)
		return apps.ForEachBucket(func(app []byte) error {
			ab := apps.Bucket(app)
			return ab.ForEachBucket(func(version []byte) error {
				vb := ab.Bucket(version)
				users := newHashSet()
				s.users[[2]string{string(app), string(version)}] = users
				if err := forEachEntry(vb.Bucket(keyUsers), 8, func(e []byte) {
					users.set(binary.LittleEndian.Uint64(e), 0)
				}); err != nil {
					return err
				}
				ms := vb.Bucket(keyMetrics)
				if ms == nil {
					return nil
				}
				return ms.ForEachBucket(func(metric []byte) error {
					totals := &hashTable{}
					s.totals[[3]string{string(app), string(version), string(metric)}] = totals
					return forEachEntry(ms.Bucket(metric).Bucket(keyUsers), 16, func(e []byte) {
						totals.set(binary.LittleEndian.Uint64(e), math.Float64frombits(binary.LittleEndian.Uint64(e[8:])))
					})
				})
			})
		})
	})
}

// forEachEntry calls f with each entry of size bytes of the chunks of b, in
// order.
func forEachEntry(b *bolt.Bucket, size int, f func([]byte)) error {
	if b == nil {
		return nil
	}
	return b.ForEach(func(_, chunk []byte) error {
		if len(chunk)%size != 0 {
			return fmt.Errorf("a chunk of %d bytes is not made of %d-byte entries", len(chunk), size)
		}
		for i := 0; i < len(chunk); i += size {
			f(chunk[i : i+size])
		}
		return nil
	})
}

// Write stores records durably.
func (s *Bolt) Write(ctx context.Context, batch string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	return s.submit(ctx, &request{batch: batch, recs: recs})
}

// AddUsers counts users as assigned.
func (s *Bolt) AddUsers(ctx context.Context, users []Assignment) error {
	if len(users) == 0 {
		return nil
	}
	return s.submit(ctx, &request{users: users})
}

// submit hands a request to the committer and waits for its commit. Once
// handed over, the commit is waited for even if ctx ends, so that the
// caller learns whether it happened.
func (s *Bolt) submit(ctx context.Context, r *request) error {
	r.done = make(chan error, 1)
	select {
	case s.reqs <- r:
	case <-s.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done
}

// commit is the single committer goroutine. Every tenth of BatchTTL, a
// commit also forgets the batches stored before BatchTTL.
func (s *Bolt) commit() {
	defer close(s.stopped)
	var pruned time.Time
	for {
		var batch []*request
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.closed:
			return
		}
		n := len(batch[0].recs) + len(batch[0].users)
	more:
		for n < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				n += len(r.recs) + len(r.users)
			default:
				break more
			}
		}
		a := applier{store: s}
		now := time.Now()
		err := s.db.Update(func(tx *bolt.Tx) error {
			a.apps = tx.Bucket(keyApps)
			batches := tx.Bucket(keyBatches)
			if now.Sub(pruned) > BatchTTL/10 {
				if err := pruneBatches(batches, now.Add(-BatchTTL)); err != nil {
					return err
				}
			}
			for _, r := range batch {
				var seen map[string]bool // application → its records of r's batch were stored
				if r.batch != "" {
					seen = map[string]bool{}
				}
				for _, rec := range r.recs {
					if r.batch != "" {
						stored, ok := seen[rec.App]
						if !ok {
							var err error
							if stored, err = rememberBatch(batches, rec.App, r.batch, now); err != nil {
								return err
							}
							seen[rec.App] = stored
						}
						if stored {
							continue
						}
					}
					if err := a.record(rec); err != nil {
						return err
					}
				}
				for _, u := range r.users {
					v, err := a.version(u.App, u.Version)
					if err != nil {
						return err
					}
					v.addUser(u.User)
				}
			}
			return a.flush()
		})
		if err != nil {
			err = fmt.Errorf("committing to the store: %w", err)
		} else {
			a.commitIndexes()
			if now.Sub(pruned) > BatchTTL/10 {
				pruned = now
			}
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

// rememberBatch says whether an application's records of a batch were
// stored in the last BatchTTL; if not, it records that they are, at now.
func rememberBatch(batches *bolt.Bucket, app, batch string, now time.Time) (stored bool, err error) {
	k := make([]byte, 0, len(app)+1+len(batch))
	k = append(append(append(k, app...), 0), batch...)
	if v := batches.Get(k); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now.Add(-BatchTTL).UnixNano() {
		return true, nil
	}
	return false, batches.Put(k, binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano())))
}

// pruneBatches forgets the batches stored before a time.
func pruneBatches(batches *bolt.Bucket, before time.Time) error {
	var old [][]byte
	if err := batches.ForEach(func(k, v []byte) error {
		if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < before.UnixNano() {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range old {
		if err := batches.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// applier applies records in one transaction, finding each version's and
// metric's buckets once, and collects the per-user changes to append to
// the logs and, once committed, to the indexes.
type applier struct {
	store    *Bolt
	apps     *bolt.Bucket
	versions map[[2]string]*versionTx
	metrics  map[[3]string]*metricTx
}

// versionTx is a version in a transaction.
type versionTx struct {
	bucket   *bolt.Bucket
	users    *hashTable
	newUsers map[uint64]struct{}
	chunk    []byte
	// tx counts the transaction's values.
	tx uint64
}

// metricTx is a metric of a version in a transaction.
type metricTx struct {
	bucket  *bolt.Bucket
	agg     aggregate
	totals  *hashTable
	changed map[uint64]float64
	// hist counts the transaction's values by histogram bucket.
	hist map[int32]uint64
}

func (a *applier) version(app, version string) (*versionTx, error) {
	k := [2]string{app, version}
	if v, ok := a.versions[k]; ok {
		return v, nil
	}
	ab, err := a.apps.CreateBucketIfNotExists([]byte(app))
	if err != nil {
		return nil, err
	}
	vb, err := ab.CreateBucketIfNotExists([]byte(version))
	if err != nil {
		return nil, err
	}
	users := a.store.users[k]
	if users == nil {
		users = newHashSet()
	}
	v := &versionTx{bucket: vb, users: users, newUsers: map[uint64]struct{}{}}
	if a.versions == nil {
		a.versions = map[[2]string]*versionTx{}
	}
	a.versions[k] = v
	return v, nil
}

// addUser notes user as assigned to the version, if new to it.
func (v *versionTx) addUser(user string) {
	h := hashOf(user)
	if _, known := v.users.get(h); known {
		return
	}
	if _, dup := v.newUsers[h]; dup {
		return
	}
	v.newUsers[h] = struct{}{}
	v.chunk = binary.LittleEndian.AppendUint64(v.chunk, h)
}

func (a *applier) metric(v *versionTx, app, version, metric string) (*metricTx, error) {
	k := [3]string{app, version, metric}
	if m, ok := a.metrics[k]; ok {
		return m, nil
	}
	ms, err := v.bucket.CreateBucketIfNotExists(keyMetrics)
	if err != nil {
		return nil, err
	}
	mb, err := ms.CreateBucketIfNotExists([]byte(metric))
	if err != nil {
		return nil, err
	}
	totals := a.store.totals[k]
	if totals == nil {
		totals = &hashTable{}
	}
	m := &metricTx{bucket: mb, agg: decodeAggregate(mb.Get(keyAgg)), totals: totals, changed: map[uint64]float64{}, hist: map[int32]uint64{}}
	if a.metrics == nil {
		a.metrics = map[[3]string]*metricTx{}
	}
	a.metrics[k] = m
	return m, nil
}

func (a *applier) record(r Record) error {
	v, err := a.version(r.App, r.Version)
	if err != nil {
		return err
	}
	v.addUser(r.User)
	v.tx++
	m, err := a.metric(v, r.App, r.Version, r.Metric)
	if err != nil {
		return err
	}
	m.agg.add(r.Value)
	h := hashOf(r.User)
	old, known := m.changed[h]
	if !known {
		old, known = m.totals.get(h)
	}
	if !known {
		m.agg.users++
	}
	total := old + r.Value
	m.agg.userSumSquares += total*total - old*old
	m.changed[h] = total
	m.hist[stats.BucketOf(r.Value)]++
	return nil
}

// flush writes what the transaction changed: the counters, aggregates and
// histograms, and a chunk of new users per version and of changed totals
// per metric.
func (a *applier) flush() error {
	for _, v := range a.versions {
		if v.tx > 0 {
			if err := incr(v.bucket, keyTx, v.tx); err != nil {
				return err
			}
		}
		if len(v.newUsers) == 0 {
			continue
		}
		if err := appendChunk(v.bucket, v.chunk); err != nil {
			return err
		}
		if err := incr(v.bucket, keyNUsers, uint64(len(v.newUsers))); err != nil {
			return err
		}
	}
	for _, m := range a.metrics {
		if err := m.bucket.Put(keyAgg, m.agg.encode()); err != nil {
			return err
		}
		hb, err := m.bucket.CreateBucketIfNotExists(keyHist)
		if err != nil {
			return err
		}
		for i, n := range m.hist {
			if err := incr(hb, bucketKey(i), n); err != nil {
				return err
			}
		}
		if err := m.flushTotals(); err != nil {
			return err
		}
	}
	return nil
}

// appendTotal appends an entry of a metric's log of totals: the user's
// hash and total, 16 bytes.
func appendTotal(chunk []byte, h uint64, total float64) []byte {
	chunk = binary.LittleEndian.AppendUint64(chunk, h)
	return binary.LittleEndian.AppendUint64(chunk, math.Float64bits(total))
}

// flushTotals appends the changed totals to the metric's log, or, when the
// log would hold more than twice the live entries, rewrites it whole.
func (m *metricTx) flushTotals() error {
	logged := getUint(m.bucket, keyLogged) + uint64(len(m.changed))
	live := uint64(m.totals.len())
	for h := range m.changed {
		if _, ok := m.totals.get(h); !ok {
			live++
		}
	}
	if logged <= 2*live+uint64(chunkEntries) {
		var chunk []byte
		for h, total := range m.changed {
			chunk = appendTotal(chunk, h, total)
		}
		if err := appendChunk(m.bucket, chunk); err != nil {
			return err
		}
		return m.bucket.Put(keyLogged, binary.LittleEndian.AppendUint64(nil, logged))
	}
	// Compact: every live entry once, the changed ones with their new totals.
	if err := m.bucket.DeleteBucket(keyUsers); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return err
	}
	var chunk []byte
	var err error
	add := func(h uint64, total float64) {
		if err != nil {
			return
		}
		chunk = appendTotal(chunk, h, total)
		if len(chunk) == 16*chunkEntries {
			err = appendChunk(m.bucket, chunk)
			chunk = nil
		}
	}
	m.totals.each(func(h uint64, total float64) {
		if _, changed := m.changed[h]; !changed {
			add(h, total)
		}
	})
	for h, total := range m.changed {
		add(h, total)
	}
	if err == nil && len(chunk) > 0 {
		err = appendChunk(m.bucket, chunk)
	}
	if err != nil {
		return err
	}
	return m.bucket.Put(keyLogged, binary.LittleEndian.AppendUint64(nil, live))
}

// hashOf is the hash a user is kept under.
func hashOf(user string) uint64 { return xxhash.Sum64String(user) }

// appendChunk appends a chunk to the users log of a bucket.
func appendChunk(b *bolt.Bucket, chunk []byte) error {
	ub, err := b.CreateBucketIfNotExists(keyUsers)
	if err != nil {
		return err
	}
	seq, err := ub.NextSequence()
	if err != nil {
		return err
	}
	return ub.Put(binary.BigEndian.AppendUint64(nil, seq), chunk)
}

// commitIndexes applies the committed per-user changes to the indexes.
func (a *applier) commitIndexes() {
	for k, v := range a.versions {
		for h := range v.newUsers {
			v.users.set(h, 0)
		}
		a.store.users[k] = v.users
	}
	for k, m := range a.metrics {
		for h, total := range m.changed {
			m.totals.set(h, total)
		}
		a.store.totals[k] = m.totals
	}
}

func incr(b *bolt.Bucket, key []byte, n uint64) error {
	return b.Put(key, binary.LittleEndian.AppendUint64(nil, getUint(b, key)+n))
}

func getUint(b *bolt.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

// bucketKey encodes a histogram bucket index so that keys sort as indexes.
func bucketKey(i int32) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(i)^(1<<31))
}

func bucketIndex(k []byte) int32 {
	return int32(binary.BigEndian.Uint32(k) ^ (1 << 31))
}

// aggregate is the running statistics of a metric of a version, stored as
// seven little-endian 64-bit words.
type aggregate struct {
	count           uint64
	sum, sumSquares float64
	min, max        float64
	users           uint64
	userSumSquares  float64
}

func (a *aggregate) add(v float64) {
	if a.count == 0 || v < a.min {
		a.min = v
	}
	if a.count == 0 || v > a.max {
		a.max = v
	}
	a.count++
	a.sum += v
	a.sumSquares += v * v
}

func decodeAggregate(b []byte) aggregate {
	if len(b) != 56 {
		return aggregate{}
	}
	w := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
	f := func(i int) float64 { return math.Float64frombits(w(i)) }
	return aggregate{count: w(0), sum: f(1), sumSquares: f(2), min: f(3), max: f(4), users: w(5), userSumSquares: f(6)}
}

func (a aggregate) encode() []byte {
	b := make([]byte, 0, 56)
	for _, w := range []uint64{a.count, math.Float64bits(a.sum), math.Float64bits(a.sumSquares),
		math.Float64bits(a.min), math.Float64bits(a.max), a.users, math.Float64bits(a.userSumSquares)} {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

// Read returns the data of an application.
func (s *Bolt) Read(_ context.Context, app string) (*abn.Data, error) {
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	data := &abn.Data{}
	err := s.db.View(func(tx *bolt.Tx) error {
		ab := tx.Bucket(keyApps).Bucket([]byte(app))
		if ab == nil {
			return nil
		}
		return ab.ForEachBucket(func(version []byte) error {
			vb := ab.Bucket(version)
			vd := abn.VersionData{Name: string(version), Users: int64(getUint(vb, keyNUsers)), Transactions: int64(getUint(vb, keyTx))}
			if ms := vb.Bucket(keyMetrics); ms != nil {
				if err := ms.ForEachBucket(func(metric []byte) error {
					mb := ms.Bucket(metric)
					agg := decodeAggregate(mb.Get(keyAgg))
					md := abn.MetricData{
						Name:           string(metric),
						Values:         stats.Moments{Count: int64(agg.count), Sum: agg.sum, SumSquares: agg.sumSquares},
						Min:            agg.min,
						Max:            agg.max,
						Users:          int64(agg.users),
						UserSumSquares: agg.userSumSquares,
						Buckets:        map[int32]int64{},
					}
					if hb := mb.Bucket(keyHist); hb != nil {
						if err := hb.ForEach(func(k, v []byte) error {
							md.Buckets[bucketIndex(k)] = int64(binary.LittleEndian.Uint64(v))
							return nil
						}); err != nil {
							return err
						}
					}
					vd.Metrics = append(vd.Metrics, md)
					return nil
				}); err != nil {
					return err
				}
			}
			data.Versions = append(data.Versions, vd)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading application %q from the store: %w", app, err)
	}
	return data, nil
}

// Close stops the committer, after the commit in progress, and closes the
// file.
func (s *Bolt) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		<-s.stopped
		err = s.db.Close()
	})
	return err
}
