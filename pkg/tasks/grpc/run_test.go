package grpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/iter8-tools/iter8/internal/load/loadtest"
	"github.com/iter8-tools/iter8/pkg/experiment"
)

const (
	checkCall  = "grpc.health.v1.Health/Check"
	checkPath  = "/grpc.health.v1.Health/Check"
	watchPath  = "/grpc.health.v1.Health/Watch"
	reflectRPC = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
)

// doc is an experiment with one grpc task with the given parameters and
// versions, as JSON (which is YAML).
func doc(tb testing.TB, with map[string]any, versions ...string) string {
	tb.Helper()
	spec := map[string]any{"tasks": []any{map[string]any{"task": "grpc", "with": with}}}
	if len(versions) > 0 {
		var vs []any
		for _, v := range versions {
			vs = append(vs, map[string]any{"name": v})
		}
		spec["versions"] = vs
	}
	b, err := json.Marshal(map[string]any{
		"apiVersion": experiment.APIVersion,
		"kind":       experiment.Kind,
		"metadata":   map[string]any{"name": "grpc-test"},
		"spec":       spec,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// succeeded fails the test unless the task succeeded.
func succeeded(t *testing.T, res *experiment.Result) {
	t.Helper()
	if st := res.Tasks[0]; st.State != experiment.TaskSucceeded {
		t.Fatalf("task state = %s (%s), want %s", st.State, st.Error, experiment.TaskSucceeded)
	}
}

// counts picks the count metrics of a version.
func counts(res *experiment.Result, version string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range []string{"grpc/request-count", "grpc/error-count", "grpc/error-rate"} {
		if v, ok := res.Value(version, m); ok {
			out[m] = v
		}
	}
	return out
}

func wantCounts(requests, errors float64) map[string]float64 {
	return map[string]float64{"grpc/request-count": requests, "grpc/error-count": errors, "grpc/error-rate": errors / requests}
}

func TestRunUnary(t *testing.T) {
	protoset := writeProtoset(t, t.TempDir(), "health.protoset", healthpb.File_grpc_health_v1_health_proto)
	tests := []struct {
		name      string
		server    *healthServer
		dir       string
		with      map[string]any
		want      map[string]float64
		wantCalls int
		minMillis float64
	}{
		{
			name:      "reflection, delay and failures",
			server:    &healthServer{delay: 2 * time.Millisecond, failEvery: 5},
			with:      map[string]any{"total": 50, "concurrency": 5, "percentiles": []float64{75}},
			want:      wantCounts(50, 10),
			wantCalls: 50,
			minMillis: 2,
		},
		{
			name:      "proto file",
			server:    &healthServer{},
			dir:       "testdata",
			with:      map[string]any{"protoFile": "health.proto", "total": 20},
			want:      wantCounts(20, 0),
			wantCalls: 20,
		},
		{
			name:      "protoset",
			server:    &healthServer{},
			dir:       filepath.Dir(protoset),
			with:      map[string]any{"protoset": filepath.Base(protoset), "total": 20, "connections": 2},
			want:      wantCounts(20, 0),
			wantCalls: 20,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.server, serverConfig{})
			tc.with["host"] = ts.addr
			tc.with["call"] = checkCall
			res, progress := execute(t.Context(), t, tc.dir, doc(t, tc.with))
			succeeded(t, res)
			if diff := cmp.Diff(tc.want, counts(res, experiment.DefaultVersion)); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[callKey]int{{Method: checkPath}: tc.wantCalls}, ts.calls()); diff != "" {
				t.Errorf("calls served (-want +got):\n%s", diff)
			}
			v := res.Version(experiment.DefaultVersion)
			if got := v.Metrics["grpc/latency-min"]; got < tc.minMillis {
				t.Errorf("grpc/latency-min = %g ms, want at least the server's delay, %g ms", got, tc.minMillis)
			}
			if h := v.Histograms["grpc/latency"]; h == nil || h.Count != int64(tc.wantCalls) {
				t.Errorf("grpc/latency histogram = %+v, want %d values", h, tc.wantCalls)
			}
			for _, m := range []string{"grpc/throughput", "grpc/latency-p50", "grpc/latency-p99.9"} {
				if got := v.Metrics[m]; got <= 0 {
					t.Errorf("%s = %g, want more than 0", m, got)
				}
			}
			if _, ok := v.Metrics["grpc/latency-p75"]; ok != (tc.with["percentiles"] != nil) {
				t.Errorf("grpc/latency-p75 recorded = %t, want %t", ok, !ok)
			}
			for _, want := range []string{
				"grpc default: calling " + checkCall + " on " + ts.addr,
				fmt.Sprintf("grpc default: %d calls in ", tc.wantCalls),
			} {
				if !strings.Contains(progress, want) {
					t.Errorf("progress = %q, want a line starting %q", progress, want)
				}
			}
		})
	}
}

func TestRunDurationAndRate(t *testing.T) {
	ts := startServer(t, &healthServer{}, serverConfig{})
	// At 50 calls/s the pacer starts call k (from 0) at (k+1)·20 ms, and
	// none at or after 300 ms: at most 14 calls, however fast the machine.
	res, _ := execute(t.Context(), t, "", doc(t, map[string]any{
		"host": ts.addr, "call": checkCall, "duration": "300ms", "rps": 50,
	}))
	succeeded(t, res)
	got := counts(res, experiment.DefaultVersion)
	n := got["grpc/request-count"]
	if n < 1 || n > 14 {
		t.Errorf("grpc/request-count = %g, want 1 to 14", n)
	}
	if dropped, _ := res.Value(experiment.DefaultVersion, "grpc/dropped-count"); n+dropped != 14 {
		t.Errorf("%g calls sent and %g dropped, want the 14 planned", n, dropped)
	}
	// The run ends by letting calls in flight finish, not by failing them.
	if diff := cmp.Diff(wantCounts(n, 0), got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[callKey]int{{Method: checkPath}: int(n)}, ts.calls()); diff != "" {
		t.Errorf("calls served (-want +got):\n%s", diff)
	}
}

func TestRunStreaming(t *testing.T) {
	protoset := writeProtoset(t, t.TempDir(), "reflection.protoset", reflectionpb.File_grpc_reflection_v1_reflection_proto)
	tests := []struct {
		name   string
		server serverConfig
		with   map[string]any
		want   map[callKey]int
	}{
		{
			name: "server streaming",
			with: map[string]any{"call": "grpc.health.v1.Health/Watch", "total": 10},
			want: map[callKey]int{{Method: watchPath}: 10},
		},
		{
			name:   "bidirectional streaming",
			server: serverConfig{countReflection: true},
			with: map[string]any{
				"call":     "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
				"protoset": protoset,
				"total":    10,
				"data":     []any{map[string]any{"listServices": ""}, map[string]any{"fileContainingSymbol": "grpc.health.v1.Health"}},
			},
			want: map[callKey]int{{Method: reflectRPC}: 10},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, &healthServer{watchMessages: 3}, tc.server)
			tc.with["host"] = ts.addr
			res, _ := execute(t.Context(), t, "", doc(t, tc.with))
			succeeded(t, res)
			if diff := cmp.Diff(wantCounts(10, 0), counts(res, experiment.DefaultVersion)); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, ts.calls()); diff != "" {
				t.Errorf("calls served (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunVersions(t *testing.T) {
	s1 := startServer(t, &healthServer{}, serverConfig{})
	s2 := startServer(t, &healthServer{delay: 3 * time.Millisecond}, serverConfig{})
	res, _ := execute(t.Context(), t, "", doc(t, map[string]any{
		"host":     s1.addr,
		"call":     checkCall,
		"total":    20,
		"metadata": map[string]any{"x-team": "iter8", "x-version": "any"},
		"data":     map[string]any{"service": "a"},
		"versions": map[string]any{
			"v2": map[string]any{"host": s2.addr, "metadata": map[string]any{"x-version": "v2"}, "data": map[string]any{"service": "b"}},
		},
	}, "v1", "v2"))
	succeeded(t, res)
	for _, v := range []string{"v1", "v2"} {
		if diff := cmp.Diff(wantCounts(20, 0), counts(res, v)); diff != "" {
			t.Errorf("metrics of %s (-want +got):\n%s", v, diff)
		}
	}
	if diff := cmp.Diff(map[callKey]int{{Method: checkPath, Service: "a", Team: "iter8", Version: "any"}: 20}, s1.calls()); diff != "" {
		t.Errorf("calls served for v1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[callKey]int{{Method: checkPath, Service: "b", Team: "iter8", Version: "v2"}: 20}, s2.calls()); diff != "" {
		t.Errorf("calls served for v2 (-want +got):\n%s", diff)
	}
	if got, _ := res.Value("v2", "grpc/latency-min"); got < 3 {
		t.Errorf("grpc/latency-min of v2 = %g ms, want at least its server's delay, 3 ms", got)
	}
}

func TestRunTLS(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, &healthServer{}, serverConfig{creds: selfSigned(t, dir)})
	tests := []struct {
		name    string
		tls     map[string]any
		wantErr string // in the task's error; "" for success
	}{
		{name: "CA and server name", tls: map[string]any{"caFile": "ca.pem", "serverName": serverName}},
		{name: "skip verification", tls: map[string]any{"skipVerify": true}},
		{name: "name mismatch", tls: map[string]any{"caFile": "ca.pem"}, wantErr: "certificate"},
		{name: "plaintext to a TLS server", wantErr: "version default (host " + ts.addr + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			with := map[string]any{"host": ts.addr, "call": checkCall, "total": 5}
			if tc.tls != nil {
				with["tls"] = tc.tls
			}
			res, _ := execute(t.Context(), t, dir, doc(t, with))
			st := res.Tasks[0]
			if tc.wantErr == "" {
				succeeded(t, res)
				if diff := cmp.Diff(wantCounts(5, 0), counts(res, experiment.DefaultVersion)); diff != "" {
					t.Errorf("metrics (-want +got):\n%s", diff)
				}
				return
			}
			if st.State != experiment.TaskFailed || !strings.Contains(st.Error, tc.wantErr) {
				t.Errorf("task = %s (%q), want %s with an error containing %q", st.State, st.Error, experiment.TaskFailed, tc.wantErr)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	protoset := writeProtoset(t, dir, "health.protoset", healthpb.File_grpc_health_v1_health_proto)
	up := startServer(t, &healthServer{}, serverConfig{})
	noReflection := startServer(t, &healthServer{}, serverConfig{noReflection: true})
	down := unusedAddr(t)
	tests := []struct {
		name string
		with map[string]any
		want []string // in the task's error
	}{
		{
			name: "unknown method",
			with: map[string]any{"host": up.addr, "call": "grpc.health.v1.Health/Nope"},
			want: []string{"version default (host " + up.addr + ")", "Nope"},
		},
		{
			name: "unknown service",
			with: map[string]any{"host": up.addr, "call": "iter8.Nope/Check", "protoset": protoset},
			want: []string{"version default (host " + up.addr + ")", "iter8.Nope"},
		},
		{
			name: "unreachable with reflection",
			with: map[string]any{"host": down, "call": checkCall},
			want: []string{"version default (host " + down + ")", "connection refused"},
		},
		{
			name: "unreachable with a protoset",
			with: map[string]any{"host": down, "call": checkCall, "protoset": protoset, "total": 5},
			want: []string{"version default (host " + down + ")", "every call failed", "connection refused"},
		},
		{
			name: "no reflection service",
			with: map[string]any{"host": noReflection.addr, "call": checkCall},
			want: []string{"version default (host " + noReflection.addr + ")", "reflection"},
		},
		{
			name: "message does not fit the method",
			with: map[string]any{"host": up.addr, "call": checkCall, "data": map[string]any{"nope": 1}},
			want: []string{"version default (host " + up.addr + ")", "nope"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := execute(t.Context(), t, dir, doc(t, tc.with))
			st := res.Tasks[0]
			if st.State != experiment.TaskFailed {
				t.Fatalf("task state = %s, want %s", st.State, experiment.TaskFailed)
			}
			t.Logf("task error: %s", st.Error)
			for _, w := range tc.want {
				if !strings.Contains(st.Error, w) {
					t.Errorf("task error = %q, want it to contain %q", st.Error, w)
				}
			}
			if m := res.Version(experiment.DefaultVersion).Metrics; m != nil {
				t.Errorf("metrics = %v, want none", m)
			}
		})
	}
}

// TestRunCancel cancels a run whose calls never end by themselves (and
// would not time out for an hour): the task must stop, fail as interrupted
// and record nothing.
func TestRunCancel(t *testing.T) {
	hs := &healthServer{block: true, entered: make(chan struct{}, 1)}
	ts := startServer(t, hs, serverConfig{})
	exp, err := experiment.Parse("experiment.yaml", "", []byte(doc(t, map[string]any{
		"host": ts.addr, "call": checkCall, "duration": "1h", "timeout": "1h", "concurrency": 2,
	})), registry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan *experiment.Result, 1)
	go func() {
		res, _ := experiment.Execute(ctx, exp, experiment.Options{})
		done <- res
	}()
	<-hs.entered
	cancel()
	var res *experiment.Result
	select {
	case res = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the task did not stop within a minute of the cancellation")
	}
	want := experiment.TaskStatus{Task: "grpc", State: experiment.TaskFailed, Error: experiment.ErrInterrupted.Error()}
	got := res.Tasks[0]
	got.StartTime, got.EndTime = nil, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task status (-want +got):\n%s", diff)
	}
	if m := res.Version(experiment.DefaultVersion).Metrics; m != nil {
		t.Errorf("metrics = %v, want none", m)
	}
}

// TestStallShowsInTheLatencyFromTheIntendedStart calls at 100 calls/s on
// one worker while the 20th call stalls for a second: the ~100 calls due
// during the stall start late, so the latency from their intended start
// shows the stall at p90, while the service time, which only the stalled
// call has long, does not.
func TestStallShowsInTheLatencyFromTheIntendedStart(t *testing.T) {
	ts := startServer(t, &healthServer{stallAt: 20, stall: time.Second}, serverConfig{})
	res, _ := execute(t.Context(), t, "", doc(t, map[string]any{
		"host": ts.addr, "call": checkCall, "total": 200, "rps": 100, "concurrency": 1,
	}))
	succeeded(t, res)
	loadtest.AssertStallShows(t, res, "grpc", 200)
}
