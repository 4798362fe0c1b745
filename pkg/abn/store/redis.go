package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/stats"
)

// Redis is the store for several replicas of the service: they share its
// data. A write is one Lua script per application, which Redis runs
// atomically, so concurrent writers from any replica add up exactly; it is
// acknowledged once Redis has applied it, and is as durable as Redis's
// persistence makes it (appendonly yes with appendfsync always for every
// write, everysec for all but the last second).
//
// Keys are prefixed iter8:abn:{"<app>"} (the application in a Redis Cluster
// hash tag, so that one application's keys share a slot):
//
//	...:versions                       set of versions
//	...:batch:"<batch>"                a batch stored in the last BatchTTL
//	...:v:"<version>"                  hash: tx
//	...:v:"<version>":users            set of assigned users
//	...:v:"<version>":metrics          set of metrics
//	...:v:"<version>":m:"<metric>"     hash: count sum sumsq min max users usersumsq
//	...:v:"<version>":m:"<metric>":users   hash: user → total
//	...:v:"<version>":m:"<metric>":hist    hash: bucket index → count
type Redis struct {
	rdb *redis.Client
}

// OpenRedis connects to the Redis a URL names (see redis.ParseURL) and
// checks that it answers. $REDIS_PASSWORD supplies a password the URL
// lacks, so that it can come from a Secret.
func OpenRedis(ctx context.Context, url string) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", err)
	}
	if opts.Password == "" {
		opts.Password = os.Getenv("REDIS_PASSWORD")
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("connecting to Redis at %s: %w", opts.Addr, err)
	}
	return &Redis{rdb: rdb}, nil
}

func appKey(app string) string { return "iter8:abn:{" + strconv.Quote(app) + "}" }

func versionKey(app, version string) string {
	return appKey(app) + ":v:" + strconv.Quote(version)
}

func metricKey(app, version, metric string) string {
	return versionKey(app, version) + ":m:" + strconv.Quote(metric)
}

// writeScript applies the records of one application. KEYS[1] is the set of
// versions and KEYS[2] the key of the batch, then come 6 keys per record:
// the version's hash, users and metrics, and the metric's hash, users and
// histogram; ARGV[1] is the batch (empty: none) and ARGV[2] how long to
// remember it, in seconds, then come 5 values per record: version, user,
// metric, value and histogram bucket. A batch already remembered is
// skipped (the script returns -1). Arithmetic is in doubles, as in the
// bolt store, and numbers are stored with 17 significant digits, which
// round-trip exactly.
var writeScript = redis.NewScript(`
local function num(x) return string.format('%.17g', x) end
if ARGV[1] ~= '' then
  if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) == false then return -1 end
end
for r = 0, ((#ARGV - 2) / 5) - 1 do
  local k, a = 2 + r * 6, 2 + r * 5
  local version, user, metric, value, bucket = ARGV[a+1], ARGV[a+2], ARGV[a+3], tonumber(ARGV[a+4]), ARGV[a+5]
  local vh, vusers, vmetrics, mh, musers, mhist = KEYS[k+1], KEYS[k+2], KEYS[k+3], KEYS[k+4], KEYS[k+5], KEYS[k+6]
  redis.call('SADD', KEYS[1], version)
  redis.call('SADD', vusers, user)
  redis.call('HINCRBY', vh, 'tx', 1)
  redis.call('SADD', vmetrics, metric)
  local m = redis.call('HMGET', mh, 'count', 'sum', 'sumsq', 'min', 'max', 'users', 'usersumsq')
  local count = tonumber(m[1]) or 0
  local min, max = tonumber(m[4]), tonumber(m[5])
  if count == 0 or value < min then min = value end
  if count == 0 or value > max then max = value end
  local users, usersumsq = tonumber(m[6]) or 0, tonumber(m[7]) or 0
  local old = redis.call('HGET', musers, user)
  if old then old = tonumber(old) else old = 0; users = users + 1 end
  local total = old + value
  usersumsq = usersumsq + (total * total - old * old)
  redis.call('HSET', musers, user, num(total))
  redis.call('HSET', mh, 'count', string.format('%d', count + 1), 'sum', num((tonumber(m[2]) or 0) + value),
    'sumsq', num((tonumber(m[3]) or 0) + value * value), 'min', num(min), 'max', num(max),
    'users', string.format('%d', users), 'usersumsq', num(usersumsq))
  redis.call('HINCRBY', mhist, bucket, 1)
end
return (#ARGV - 2) / 5
`)

// Write stores records, one atomic script per application; a batch is
// remembered under ...:batch:"<batch>" for BatchTTL.
func (s *Redis) Write(ctx context.Context, batch string, recs []Record) error {
	byApp := map[string][]Record{}
	var apps []string
	for _, r := range recs {
		if _, ok := byApp[r.App]; !ok {
			apps = append(apps, r.App)
		}
		byApp[r.App] = append(byApp[r.App], r)
	}
	for _, app := range apps {
		rs := byApp[app]
		keys := make([]string, 0, 2+6*len(rs))
		args := make([]any, 0, 2+5*len(rs))
		keys = append(keys, appKey(app)+":versions", appKey(app)+":batch:"+strconv.Quote(batch))
		args = append(args, batch, strconv.Itoa(int(BatchTTL/time.Second)))
		for _, r := range rs {
			vk, mk := versionKey(app, r.Version), metricKey(app, r.Version, r.Metric)
			keys = append(keys, vk, vk+":users", vk+":metrics", mk, mk+":users", mk+":hist")
			args = append(args, r.Version, r.User, r.Metric,
				strconv.FormatFloat(r.Value, 'g', -1, 64), strconv.Itoa(int(stats.BucketOf(r.Value))))
		}
		if err := writeScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
			return fmt.Errorf("writing to Redis: %w", err)
		}
	}
	return nil
}

// AddUsers counts users as assigned, in one round trip.
func (s *Redis) AddUsers(ctx context.Context, users []Assignment) error {
	type version struct{ app, name string }
	byVersion := map[version][]any{}
	for _, u := range users {
		k := version{u.App, u.Version}
		byVersion[k] = append(byVersion[k], u.User)
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for v, us := range byVersion {
			p.SAdd(ctx, appKey(v.app)+":versions", v.name)
			p.SAdd(ctx, versionKey(v.app, v.name)+":users", us...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing to Redis: %w", err)
	}
	return nil
}

// Read returns the data of an application in three round trips.
func (s *Redis) Read(ctx context.Context, app string) (*abn.Data, error) {
	fail := func(err error) (*abn.Data, error) {
		return nil, fmt.Errorf("reading application %q from Redis: %w", app, err)
	}
	versions, err := s.rdb.SMembers(ctx, appKey(app)+":versions").Result()
	if err != nil {
		return fail(err)
	}
	slices.Sort(versions)
	type versionCmds struct {
		users   *redis.IntCmd
		tx      *redis.StringCmd
		metrics *redis.StringSliceCmd
	}
	vcmds := make([]versionCmds, len(versions))
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, v := range versions {
			vk := versionKey(app, v)
			vcmds[i] = versionCmds{p.SCard(ctx, vk+":users"), p.HGet(ctx, vk, "tx"), p.SMembers(ctx, vk+":metrics")}
		}
		return nil
	})
	for _, c := range vcmds {
		for _, err := range []error{c.users.Err(), c.tx.Err(), c.metrics.Err()} {
			// A version with assigned users and no values has no tx.
			if err != nil && !errors.Is(err, redis.Nil) {
				return fail(err)
			}
		}
	}
	type metricCmds struct {
		agg, hist *redis.MapStringStringCmd
	}
	data := &abn.Data{}
	mcmds := make([][]metricCmds, len(versions))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, v := range versions {
			metrics := vcmds[i].metrics.Val()
			slices.Sort(metrics)
			vd := abn.VersionData{Name: v, Users: vcmds[i].users.Val()}
			vd.Transactions, _ = strconv.ParseInt(vcmds[i].tx.Val(), 10, 64)
			for _, m := range metrics {
				mk := metricKey(app, v, m)
				mcmds[i] = append(mcmds[i], metricCmds{p.HGetAll(ctx, mk), p.HGetAll(ctx, mk+":hist")})
				vd.Metrics = append(vd.Metrics, abn.MetricData{Name: m})
			}
			data.Versions = append(data.Versions, vd)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	for i := range data.Versions {
		for j := range data.Versions[i].Metrics {
			md := &data.Versions[i].Metrics[j]
			agg := mcmds[i][j].agg.Val()
			f := func(k string) float64 {
				v, err := strconv.ParseFloat(agg[k], 64)
				if err != nil || math.IsNaN(v) {
					return 0
				}
				return v
			}
			md.Values = stats.Moments{Count: int64(f("count")), Sum: f("sum"), SumSquares: f("sumsq")}
			md.Min, md.Max, md.Users, md.UserSumSquares = f("min"), f("max"), int64(f("users")), f("usersumsq")
			md.Buckets = map[int32]int64{}
			for k, v := range mcmds[i][j].hist.Val() {
				b, err1 := strconv.ParseInt(k, 10, 32)
				c, err2 := strconv.ParseInt(v, 10, 64)
				if err1 != nil || err2 != nil {
					return fail(fmt.Errorf("histogram of %s/%s holds %q: %q", data.Versions[i].Name, md.Name, k, v))
				}
				md.Buckets[int32(b)] = c
			}
		}
	}
	return data, nil
}

// Close closes the connection pool.
func (s *Redis) Close() error { return s.rdb.Close() }
